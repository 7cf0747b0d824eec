"""A cluster of real machines: the files ``defib cluster setup`` writes on each of them.

    /etc/defib/cluster.toml         the cluster file (nodes, links, quorum, stack)
    /etc/defib/authkey              defib's cluster key (0600)
    /etc/corosync/corosync.conf     stack = "corosync": the same nodes, links and quorum
    /etc/corosync/authkey           Corosync's knet key (0400)
    /etc/systemd/system/defib.service
    /var/lib/defib/<node>/          state: CIB copies, scheduler inputs, control socket

Every node gets the same files (copy them, keys included, as for corosync.conf); each runs
``defib daemon --node <its name>`` under systemd. ``root`` prefixes every path (tests and
image builds); the paths written *into* the files are the target system's.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from defib.cluster.auth import keygen
from defib.cluster.config import ClusterConfig, NodeConfig, QuorumOptions, render_config
from defib.cluster.corosync import conf as corosync_conf
from defib.cluster.private import write_private
from defib.cluster.schema import NODE_NAME, STACKS
from defib.errors import ConfigError

ETC = Path("/etc/defib")
STATE = Path("/var/lib/defib")
COROSYNC_ETC = Path("/etc/corosync")
UNIT_DIR = Path("/etc/systemd/system")
UNIT_NAME = "defib.service"
PORT = 5405


@dataclass(frozen=True)
class Plan:
    name: str
    nodes: tuple[NodeConfig, ...]
    stack: str = "heartbeat"
    quorum: QuorumOptions = field(default_factory=QuorumOptions)
    etc: Path = ETC
    state_dir: Path = STATE
    corosync_etc: Path = COROSYNC_ETC
    unit_dir: Path = UNIT_DIR
    executable: str = ""  # the defib command ExecStart runs (default: this one)
    totem: corosync_conf.TotemOptions = field(default_factory=corosync_conf.TotemOptions)


def parse_nodes(specs: list[str], port: int = PORT) -> tuple[NodeConfig, ...]:
    """``NAME=ADDR[,ADDR2...]`` (one address per link, the same count on every node); ids
    follow the order given."""
    nodes = []
    for index, spec in enumerate(specs, 1):
        name, sep, addrs = spec.partition("=")
        if not sep or not NODE_NAME.match(name) or not addrs:
            raise ConfigError(f"{spec!r}: expected NODE=ADDRESS[,ADDRESS...] (a node name of"
                              " letters, digits, '.', '_', '-')", spec)
        hosts = [a.strip() for a in addrs.split(",")]
        if any(not h or any(c.isspace() or c in "=:/" for c in h) for h in hosts):
            raise ConfigError(f"{spec!r}: an address is an IPv4 address or host name", spec)
        nodes.append(NodeConfig(index, name, tuple((h, port + link)
                                                   for link, h in enumerate(hosts))))
    if len(nodes) < 1:
        raise ConfigError("give at least one NODE=ADDRESS")
    if len({n.name for n in nodes}) != len(nodes):
        raise ConfigError("node names must be unique")
    if len({len(n.addresses) for n in nodes}) != 1:
        raise ConfigError("every node needs the same number of addresses (one per link)")
    return tuple(nodes)


def cluster_config(plan: Plan) -> ClusterConfig:
    if plan.stack not in STACKS:
        raise ConfigError(f"stack {plan.stack!r}: must be one of {', '.join(STACKS)}")
    return ClusterConfig(name=plan.name, nodes=plan.nodes, key_file=plan.etc / "authkey",
                         state_dir=plan.state_dir, quorum=plan.quorum, stack=plan.stack,
                         source=plan.etc / "cluster.toml")


def render_unit(plan: Plan) -> str:
    exe = plan.executable or _this_defib()
    corosync = plan.stack == "corosync"
    after = "network-online.target time-sync.target" + (" corosync.service" if corosync else "")
    return "\n".join([
        "# Written by defib cluster setup.",
        "[Unit]",
        f"Description=defib high-availability cluster node ({plan.name})",
        "Wants=network-online.target",
        *(["Requires=corosync.service"] if corosync else []),
        f"After={after}",
        f"ConditionPathExists={plan.etc / 'cluster.toml'}",
        "",
        "[Service]",
        "Type=simple",
        # %l: the short host name, which names the node (setup's NODE=...).
        f"ExecStart={exe} daemon --config {plan.etc / 'cluster.toml'} --node %l",
        "Restart=on-failure",
        "RestartSec=2s",
        # The services the cluster runs are not the daemon's children to kill: a restarted
        # daemon finds them by probing, as Pacemaker does.
        "KillMode=process",
        "TimeoutStopSec=10min",
        "StandardOutput=journal",
        "StandardError=journal",
        "SyslogIdentifier=defib",
        "LimitNOFILE=65536",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ])


def _this_defib() -> str:
    found = shutil.which("defib")
    if found:
        return found
    return str(Path(sys.executable).with_name("defib"))


def write(plan: Plan, root: Path = Path("/"), force: bool = False) -> list[Path]:
    """Write every file of the plan under ``root``; returns what was written."""
    cfg = cluster_config(plan)

    def at(path: Path) -> Path:
        return root / path.relative_to("/") if path.is_absolute() else root / path

    config = at(plan.etc / "cluster.toml")
    if config.exists() and not force:
        raise ConfigError(f"{config} exists: the cluster is set up already (--force replaces"
                          " it, and its keys)", str(config))
    written = []
    config.parent.mkdir(parents=True, exist_ok=True)
    config.parent.chmod(0o755)
    written.append(keygen(at(cfg.key_file), overwrite=True))
    # The key next to the file (relative), the state at the target's absolute path.
    write_private(config, render_config(cfg))
    config.chmod(0o644)
    written.append(config)
    if plan.stack == "corosync":
        etc = at(plan.corosync_etc)
        etc.mkdir(parents=True, exist_ok=True)
        key = etc / "authkey"
        key.unlink(missing_ok=True)
        corosync_conf.write_authkey(key)
        conf = etc / "corosync.conf"
        conf.write_text(corosync_conf.render(cfg, plan.totem,
                                             keyfile=str(plan.corosync_etc / "authkey")))
        written += [conf, key]
    unit = at(plan.unit_dir / UNIT_NAME)
    unit.parent.mkdir(parents=True, exist_ok=True)
    unit.write_text(render_unit(plan))
    written.append(unit)
    state = at(plan.state_dir)
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o700)
    return written
