"""The cluster file: cluster name, nodes and their link addresses, key, timing, quorum.

TOML, for example::

    [cluster]
    name = "demo"
    key_file = "authkey"          # relative paths are relative to the cluster file
    encrypt = false               # AES-GCM on top of the HMAC
    state_dir = "state"           # per-node state lives in <state_dir>/<node name>

    [timing]                      # seconds
    heartbeat_interval = 0.1
    suspect_time = 0.25           # silence after which a refused probe confirms a loss
    dead_time = 2.0               # silence after which a peer is lost without any proof

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

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

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
    dead_time: float = 2.0
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


def _address(text: object, node: str) -> tuple[str, int]:
    if not isinstance(text, str) or ":" not in text:
        raise ConfigError(f"node {node}: address {text!r} is not HOST:PORT", node)
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError as exc:
        raise ConfigError(f"node {node}: bad port in {text!r}", node) from exc
    if not 0 < number < 65536:
        raise ConfigError(f"node {node}: port out of range in {text!r}", node)
    return host, number


def _node(raw: dict[str, object]) -> NodeConfig:
    name = raw.get("name")
    node_id = raw.get("id")
    if not isinstance(name, str) or not name:
        raise ConfigError("a [[node]] has no name")
    if not isinstance(node_id, int) or node_id <= 0:
        raise ConfigError(f"node {name}: id must be a positive integer", name)
    addresses = raw.get("addresses")
    if not isinstance(addresses, list) or not addresses:
        raise ConfigError(f"node {name}: needs addresses = [\"HOST:PORT\", ...]", name)
    votes = raw.get("votes", 1)
    if not isinstance(votes, int) or votes < 0:
        raise ConfigError(f"node {name}: votes must be a non-negative integer", name)
    return NodeConfig(node_id, name, tuple(_address(a, name) for a in addresses), votes)


def _section(data: dict[str, object], name: str) -> dict[str, object]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] must be a table", name)
    return value


def _pick(cls: type, raw: dict[str, object], section: str) -> dict[str, object]:
    known = {f.name for f in fields(cls)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"[{section}]: unknown option(s) {sorted(unknown)}", section)
    return dict(raw)


def parse_config(text: str, base: Path, source: Path | None = None) -> ClusterConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"cluster file: {exc}") from exc
    cluster = _section(data, "cluster")
    name = cluster.get("name", "defib")
    if not isinstance(name, str):
        raise ConfigError("[cluster] name must be a string")
    raw_nodes = data.get("node", [])
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise ConfigError("the cluster file defines no [[node]]")
    nodes = tuple(_node(n) for n in raw_nodes)
    ids = [n.id for n in nodes]
    names = [n.name for n in nodes]
    if len(set(ids)) != len(ids):
        raise ConfigError("node ids are not unique")
    if len(set(names)) != len(names):
        raise ConfigError("node names are not unique")
    links = {len(n.addresses) for n in nodes}
    if len(links) != 1:
        raise ConfigError("every node must have the same number of link addresses")
    try:
        timing = Timing(**_pick(Timing, _section(data, "timing"), "timing"))  # type: ignore[arg-type]
        quorum = QuorumOptions(
            **_pick(QuorumOptions, _section(data, "quorum"), "quorum")  # type: ignore[arg-type]
        )
    except TypeError as exc:
        raise ConfigError(f"cluster file: {exc}") from exc
    if timing.suspect_time < timing.heartbeat_interval or timing.dead_time < timing.suspect_time:
        raise ConfigError("timing: need heartbeat_interval <= suspect_time <= dead_time", "timing")
    key_file = base / str(cluster.get("key_file", "authkey"))
    state_dir = base / str(cluster.get("state_dir", "."))
    return ClusterConfig(
        name=name,
        nodes=tuple(sorted(nodes, key=lambda n: n.id)),
        key_file=key_file,
        state_dir=state_dir,
        encrypt=bool(cluster.get("encrypt", False)),
        timing=timing,
        quorum=quorum,
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

    q = cfg.quorum
    lines = [
        "[cluster]",
        f'name = "{cfg.name}"',
        f'key_file = "{rel(cfg.key_file)}"',
        f'state_dir = "{rel(cfg.state_dir)}"',
        f"encrypt = {'true' if cfg.encrypt else 'false'}",
        "",
        "[timing]",
    ]
    for key in Timing.__dataclass_fields__:
        lines.append(f"{key} = {getattr(cfg.timing, key)!r}")
    lines += ["", "[quorum]", f"two_node = {str(q.two_node).lower()}"]
    if q.wait_for_all is not None:
        lines.append(f"wait_for_all = {str(q.wait_for_all).lower()}")
    lines += [
        f"expected_votes = {q.expected_votes}",
        f"last_man_standing = {str(q.last_man_standing).lower()}",
        f"last_man_standing_window = {q.last_man_standing_window!r}",
    ]
    for node in cfg.nodes:
        addrs = ", ".join(f'"{h}:{p}"' for h, p in node.addresses)
        lines += ["", "[[node]]", f"id = {node.id}", f'name = "{node.name}"',
                  f"votes = {node.votes}", f"addresses = [{addrs}]"]
    return "\n".join(lines) + "\n"
