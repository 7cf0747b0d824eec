"""The cluster file: cluster name, nodes and their link addresses, key, timing, quorum.

TOML, for example::

    [cluster]
    name = "demo"
    key_file = "authkey"          # relative paths are relative to the cluster file
    encrypt = false               # AES-GCM on top of the HMAC
    stack = "heartbeat"           # or "corosync": membership, messages and quorum from
                                  # a running Corosync 3 (defib.cluster.corosync)
    state_dir = "state"           # per-node state lives in <state_dir>/<node name>

    [timing]                      # seconds
    heartbeat_interval = 0.1
    suspect_time = 0.25           # silence after which a refused probe confirms a loss
    dead_time = 0.7               # silence after which a peer is lost without any proof

    [quorum]
    two_node = false
    wait_for_all = false          # defaults to two_node
    expected_votes = 0            # 0: sum of the nodes' votes
    last_man_standing = false
    last_man_standing_window = 10.0

    [[node]]
    id = 1
    name = "node1"
    votes = 1
    addresses = ["127.0.0.11:5405", "127.0.1.11:5406"]   # one per link
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

from defib.cluster.schema import read_cluster_file
from defib.errors import ConfigError


@dataclass(frozen=True)
class NodeConfig:
    id: int
    name: str
    addresses: tuple[tuple[str, int], ...]
    votes: int = 1


@dataclass(frozen=True)
class Timing:
    heartbeat_interval: float = 0.1
    suspect_time: float = 0.25
    # Seven heartbeat intervals: a frozen or cut-off host is declared lost within 1 s
    # (about 0.8 s measured), while 5 % packet loss on every link under full CPU
    # saturation caused no false loss in 10 minutes (bench.detection, bench.saturation).
    # A busy event loop is covered by the keeper thread, not by this time.
    dead_time: float = 0.7
    join_time: float = 0.3
    # While the daemon's event loop is busy (not stalled as a whole process), a thread keeps
    # its heartbeats going for at most this long.
    loop_grace: float = 10.0
    # How long a caller waits for the DC to commit a CIB change and members to ack it.
    cib_timeout: float = 5.0
    # Packets stamped further than this from our clock are refused (and the log says why).
    max_clock_offset: float = 30.0
    # Niceness the daemon asks for (lower = more CPU priority); ignored when not permitted.
    nice: int = -10


@dataclass(frozen=True)
class QuorumOptions:
    two_node: bool = False
    wait_for_all: bool | None = None
    expected_votes: int = 0
    last_man_standing: bool = False
    last_man_standing_window: float = 10.0

    @property
    def effective_wait_for_all(self) -> bool:
        return self.two_node if self.wait_for_all is None else self.wait_for_all


@dataclass(frozen=True)
class ClusterConfig:
    name: str
    nodes: tuple[NodeConfig, ...]
    key_file: Path
    state_dir: Path
    encrypt: bool = False
    # Members of this group may use the control socket as root can (Pacemaker's haclient).
    admin_group: str = "haclient"
    # Let users outside the admin group reach the control socket (0666 in a 0711 state
    # directory), where peer credentials and the CIB's ACLs decide what they may do.
    acl_users: bool = False
    # The messaging layer: defib's own heartbeat layer or Corosync (defib.cluster.stack).
    stack: str = "heartbeat"
    # Each daemon serves the web interface (HTTPS) on its node's first address and this
    # port; 0: not served by the daemons (`defib web` serves it on its own).
    web_port: int = 0
    timing: Timing = field(default_factory=Timing)
    quorum: QuorumOptions = field(default_factory=QuorumOptions)
    source: Path | None = None

    @property
    def link_count(self) -> int:
        return len(self.nodes[0].addresses)

    def node_by_name(self, name: str) -> NodeConfig:
        for node in self.nodes:
            if node.name == name:
                return node
        raise ConfigError(f"node {name!r} is not in the cluster file", name)

    def node_by_id(self, node_id: int) -> NodeConfig | None:
        for node in self.nodes:
            if node.id == node_id:
                return node
        return None

    def node_state_dir(self, name: str) -> Path:
        return self.state_dir / name


def parse_config(text: str, base: Path, source: Path | None = None) -> ClusterConfig:
    """Check every field of the cluster file for type and range; a ConfigError names the
    field and its line (``defib.cluster.schema``)."""
    defaults = {f.name: float(f.default) for f in fields(Timing)}  # type: ignore[arg-type]
    raw = read_cluster_file(text, source, defaults)
    nodes = tuple(NodeConfig(n["id"], n["name"], n["addresses"], n.get("votes", 1))
                  for n in raw.nodes)
    cluster = raw.cluster
    return ClusterConfig(
        name=cluster.get("name", "defib"),
        nodes=tuple(sorted(nodes, key=lambda n: n.id)),
        key_file=base / cluster.get("key_file", "authkey"),
        state_dir=base / cluster.get("state_dir", "."),
        encrypt=cluster.get("encrypt", False),
        admin_group=cluster.get("admin_group", "haclient"),
        acl_users=cluster.get("acl_users", False),
        stack=cluster.get("stack", "heartbeat"),
        web_port=cluster.get("web_port", 0),
        timing=Timing(**raw.timing),
        quorum=QuorumOptions(**raw.quorum),
        source=source,
    )


def load_config(path: Path) -> ClusterConfig:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read cluster file {path}: {exc}", str(path)) from exc
    return parse_config(text, path.resolve().parent, path.resolve())


def render_config(cfg: ClusterConfig) -> str:
    """TOML text for a config (used by `defib cluster start` to write the local cluster file)."""
    base = cfg.source.parent if cfg.source else None

    def rel(p: Path) -> str:
        if base is not None:
            try:
                return str(p.relative_to(base))
            except ValueError:
                pass
        return str(p)

    def q(text: str) -> str:  # a TOML basic string (JSON's escapes are TOML's)
        return json.dumps(text)

    quorum = cfg.quorum
    lines = [
        "[cluster]",
        f"name = {q(cfg.name)}",
        f"key_file = {q(rel(cfg.key_file))}",
        f"state_dir = {q(rel(cfg.state_dir))}",
        f"encrypt = {'true' if cfg.encrypt else 'false'}",
        f"admin_group = {q(cfg.admin_group)}",
        f"acl_users = {'true' if cfg.acl_users else 'false'}",
    ]
    if cfg.stack != "heartbeat":
        lines.append(f"stack = {q(cfg.stack)}")
    if cfg.web_port:
        lines.append(f"web_port = {cfg.web_port}")
    lines += [
        "",
        "[timing]",
    ]
    for key in Timing.__dataclass_fields__:
        lines.append(f"{key} = {getattr(cfg.timing, key)!r}")
    lines += ["", "[quorum]", f"two_node = {str(quorum.two_node).lower()}"]
    if quorum.wait_for_all is not None:
        lines.append(f"wait_for_all = {str(quorum.wait_for_all).lower()}")
    lines += [
        f"expected_votes = {quorum.expected_votes}",
        f"last_man_standing = {str(quorum.last_man_standing).lower()}",
        f"last_man_standing_window = {quorum.last_man_standing_window!r}",
    ]
    for node in cfg.nodes:
        addrs = ", ".join(f'"{h}:{p}"' for h, p in node.addresses)
        lines += ["", "[[node]]", f"id = {node.id}", f"name = {q(node.name)}",
                  f"votes = {node.votes}", f"addresses = [{addrs}]"]
    return "\n".join(lines) + "\n"
