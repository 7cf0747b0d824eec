"""A cluster of N daemons on this machine: node i listens on 127.0.0.(10+i) and 127.0.1.(10+i),
or, run as hosts (``hosts=True``, root; see ``defib.cluster.hosts``), each node in its own
namespaces at 198.18.<link>.(10+i).

Layout of the cluster directory::

    DIR/cluster.toml  DIR/authkey  [DIR/hosts.json]
    DIR/<node>/daemon.pid  DIR/<node>/daemon.log  DIR/<node>/control.sock  DIR/<node>/cib.xml
    DIR/<node>/run (the node's HA_RSCTMP; a host's /run)  [DIR/<node>/power.sock, host.json]
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from defib.cluster import hosts as hostmode
from defib.cluster.auth import keygen
from defib.cluster.client import ControlClient
from defib.cluster.config import (
    ClusterConfig,
    NodeConfig,
    QuorumOptions,
    Timing,
    load_config,
    render_config,
)
from defib.cluster.corosync import conf as corosync_conf
from defib.cluster.corosync.conf import TotemOptions
from defib.cluster.private import private_dir, write_private
from defib.errors import ClusterError, NotConnectedError

CONFIG_NAME = "cluster.toml"
DAEMON_MODULE = "defib.cli.daemon_cmd"


@dataclass(frozen=True)
class StartedNode:
    name: str
    pid: int
    already_running: bool


def node_addresses(index: int, port: int, links: int) -> tuple[tuple[str, int], ...]:
    return tuple((f"127.0.{link}.{10 + index}", port + link) for link in range(links))


def _bindable(addresses: list[tuple[str, int]]) -> bool:
    for host, port in addresses:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                return False
    return True


def pick_port(count: int, links: int, start: int = 5405) -> int:
    for base in range(start, start + 2000, links):
        wanted = [a for i in range(1, count + 1) for a in node_addresses(i, base, links)]
        if _bindable(wanted):
            return base
    raise ClusterError("no free UDP port pair found for a local cluster")


def create(directory: Path, count: int, port: int = 0, links: int = 2,
           quorum: QuorumOptions | None = None, encrypt: bool = False,
           timing: Timing | None = None, search_from: int = 5405,
           hosts: bool = False, stack: str = "heartbeat",
           totem: TotemOptions | None = None) -> ClusterConfig:
    """Write DIR/cluster.toml and DIR/authkey for a new local cluster. Without ``port`` the
    first free port (pair) from ``search_from`` is used. ``hosts``: the nodes run as hosts
    (their own network stacks, so the addresses are 198.18.x and the port is fixed).
    ``stack="corosync"`` (hosts only): every host runs Corosync with ``totem``'s settings
    (default ``LOCAL_TOTEM``), its corosync.conf and authkey in DIR/<node>/corosync/etc."""
    if count < 1 or count > 200:
        raise ClusterError(f"node count {count} out of range 1..200")
    if stack == "corosync" and not hosts:
        raise ClusterError("a local Corosync cluster needs its nodes as hosts (--hosts, root):"
                           " each Corosync needs its own network stack")
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    if hosts:
        hostmode.enable(directory, links, corosync=stack == "corosync")
        nodes = tuple(NodeConfig(i, f"node{i}", hostmode.addresses(i, links))
                      for i in range(1, count + 1))
    else:
        base = port or pick_port(count, links, search_from)
        nodes = tuple(NodeConfig(i, f"node{i}", node_addresses(i, base, links))
                      for i in range(1, count + 1))
    cfg = ClusterConfig(
        name=directory.name or "local",
        nodes=nodes,
        key_file=directory / "authkey",
        state_dir=directory,
        encrypt=encrypt,
        timing=timing or Timing(),
        quorum=quorum or QuorumOptions(two_node=count == 2),
        stack=stack,
        source=directory / CONFIG_NAME,
    )
    if not cfg.key_file.exists():
        keygen(cfg.key_file)
    (directory / CONFIG_NAME).write_text(render_config(cfg))
    if stack == "corosync":
        _write_corosync(directory, cfg, totem or LOCAL_TOTEM)
    return cfg


# Local clusters detect a dead node in about a second, as the lab's fastest setting.
LOCAL_TOTEM = TotemOptions(token_ms=1000, token_coefficient_ms=0, to_syslog=False,
                           knet_ping_interval_ms=100, knet_ping_timeout_ms=400)


def _write_corosync(directory: Path, cfg: ClusterConfig, totem: TotemOptions) -> None:
    """Each host's /etc/corosync (the same corosync.conf and authkey on every node, as on
    real machines) and /var/lib/corosync."""
    text = corosync_conf.render(cfg, totem)
    shared_key = directory / "corosync-authkey"
    if not shared_key.exists():
        corosync_conf.write_authkey(shared_key)
    # Each host has its own copy, as a real machine would.
    for node in cfg.nodes:
        base = private_dir(directory / node.name) / "corosync"
        etc = base / "etc"
        etc.mkdir(parents=True, exist_ok=True)
        (base / "lib").mkdir(exist_ok=True)
        (etc / "corosync.conf").write_text(text)
        write_private(etc / "authkey", shared_key.read_bytes())


def _cmdline(pid: int) -> list[str]:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return []
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except (OSError, IndexError):
        return []


def daemon_pid(directory: Path, name: str) -> int | None:
    """The recorded PID of a node's daemon if that process is still this daemon."""
    try:
        pid = int((directory / name / "daemon.pid").read_text())
    except (OSError, ValueError):
        return None
    cmd = _cmdline(pid)
    if (DAEMON_MODULE in cmd or "daemon" in cmd) and name in cmd:
        return pid
    return None


def start(directory: Path, names: list[str] | None = None, wait: float = 15.0,
          controller: bool = True) -> list[StartedNode]:
    """Start the named nodes (default all) that are not running; wait for their sockets.
    ``controller=False`` runs the cluster layer alone (``defib daemon --no-controller``)."""
    directory = directory.resolve()
    cfg = load_config(directory / CONFIG_NAME)
    chosen = [cfg.node_by_name(n) for n in names] if names else list(cfg.nodes)
    as_hosts = hostmode.layout(directory) is not None
    started: list[StartedNode] = []
    spawned: dict[str, subprocess.Popen[bytes]] = {}
    for node in chosen:
        state = private_dir(directory / node.name)
        pid = daemon_pid(directory, node.name)
        if pid is not None and as_hosts and hostmode.daemon_process(directory, node.name) is None:
            hostmode.start_daemon(directory, node.name)  # the host is up, its daemon crashed
            started.append(StartedNode(node.name, pid, False))
            continue
        if pid is not None:
            started.append(StartedNode(node.name, pid, True))
            continue
        env = dict(os.environ, DEFIB_LOCAL_NODE=f"{directory}:{node.name}")
        cmd = [sys.executable, "-m", DAEMON_MODULE,
               "--config", str(directory / CONFIG_NAME), "--node", node.name]
        if not controller:
            cmd.append("--no-controller")
        log_fd = os.open(state / "daemon.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with open(log_fd, "ab") as log:
            if as_hosts:  # the recorded PID is the host's power supply
                proc = hostmode.spawn(directory, node.name, node.id, cmd, env, log)
            else:
                proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=state, env=env,
                    start_new_session=True,
                )
        write_private(state / "daemon.pid", f"{proc.pid}\n")
        spawned[node.name] = proc
        started.append(StartedNode(node.name, proc.pid, False))
    deadline = time.monotonic() + wait
    for one in started:
        client = ControlClient.for_node(directory, one.name, timeout=2.0)
        while True:
            try:
                client.status()
                break
            except NotConnectedError as exc:
                # A daemon spawned here is judged by its own process: right after the
                # fork, /proc/PID/cmdline may still show the launcher's command line.
                child = spawned.get(one.name)
                gone = (child.poll() is not None if child is not None
                        else daemon_pid(directory, one.name) is None)
                if gone:
                    log_tail = (directory / one.name / "daemon.log").read_text()[-2000:]
                    raise ClusterError(f"{one.name} exited at start:\n{log_tail}",
                                       one.name, code="exited-at-start") from exc
                if time.monotonic() > deadline:
                    raise ClusterError(f"{one.name} did not answer within {wait}s",
                                       one.name) from exc
                time.sleep(0.05)
    return started


def stop(directory: Path, names: list[str] | None = None, timeout: float = 5.0) -> list[str]:
    """SIGTERM each recorded daemon (SIGKILL after ``timeout``); returns the names stopped."""
    directory = directory.resolve()
    cfg = load_config(directory / CONFIG_NAME)
    chosen = names or [n.name for n in cfg.nodes]
    pids: dict[str, int] = {}
    for name in chosen:
        pid = daemon_pid(directory, name)
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            pids[name] = pid
    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        pids = {n: p for n, p in pids.items() if daemon_pid(directory, n) == p}
        time.sleep(0.05)
    for name, pid in pids.items():
        if daemon_pid(directory, name) == pid:
            os.kill(pid, signal.SIGKILL)
    for name in chosen:
        (directory / name / "daemon.pid").unlink(missing_ok=True)
    if not any(daemon_pid(directory, n.name) for n in cfg.nodes):
        hostmode.teardown(directory)  # the last host is down: its bridges go too
    return chosen


def wait_formed(
    directory: Path, names: list[str], timeout: float = 15.0
) -> dict[str, dict[str, Any]]:
    """Wait until the named nodes share one agreed view made of exactly them."""
    deadline = time.monotonic() + timeout
    wanted = sorted(names)
    last: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        try:
            last = {n: ControlClient.for_node(directory, n, 2.0).status() for n in names}
        except (NotConnectedError, ClusterError):
            time.sleep(0.1)
            continue
        views = {s["view"] for s in last.values()}
        member_names = {
            tuple(sorted(x["name"] for x in s["nodes"] if x["member"])) for s in last.values()
        }
        if (len(views) == 1 and None not in views and member_names == {tuple(wanted)}
                and all(s["agreed"] for s in last.values())):
            return last
        time.sleep(0.05)
    summary = {n: (s.get("view"), s.get("members")) for n, s in last.items()}
    raise ClusterError(f"nodes {wanted} did not agree on one membership in {timeout}s:"
                       f" {summary}{_clock_hint(directory, last)}")


def _clock_hint(directory: Path, statuses: dict[str, dict[str, Any]]) -> str:
    """Name the nodes kept out because their clocks are too far off (their packets are
    refused), the commonest reason a started node never joins."""
    limit = load_config(directory / CONFIG_NAME).timing.max_clock_offset * 1000
    hints = set()
    for observer, status in statuses.items():
        for peer in status.get("nodes", []):
            offset = peer.get("clock_offset_ms")
            if isinstance(offset, int | float) and abs(offset) > limit:
                hints.add(f"{peer['name']}'s clock is {abs(offset) / 1000:.1f} s"
                          f" {'ahead of' if offset > 0 else 'behind'} {observer}'s")
    if not hints:
        return ""
    return (f"; {'; '.join(sorted(hints))} (more than max_clock_offset ="
            f" {limit / 1000:g} s): synchronise the clocks")
