"""Local nodes as small hosts: the machine side (bridges, launch, teardown).

With ``DIR/hosts.json`` a local cluster's nodes are started by ``defib.cluster.hostinit``:
each in its own PID, mount, UTS and network namespaces, node i at 198.18.<link>.<10+i>/24
on ``eth<link>``, one veth pair per link into the cluster's bridge ``dfb<tag>b<link>``
(no address on the machine's side: the machine's routes and addresses are never touched).
Powering a node off kills its PID namespace; nothing it started survives. The control
socket and state stay in ``DIR/<node>``, shared with the machine, so the CLI works as usual.

Root only. Without it, the marker method of ``defib.fencing.local_agent`` stays, with its
limits (``LIMITS``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from defib.cluster.hostinit import bridge_name, host_veth, members, node_address
from defib.errors import ClusterError
from defib.fencing.local_agent import HOSTS_FILE, host_request

HOSTINIT_MODULE = "defib.cluster.hostinit"
BASE_PORT = 5405
LIMITS = ("nodes are processes of this machine marked by DEFIB_LOCAL_NODE: fencing cannot"
          " reach what drops its environment (su -, env -i daemons), and agents that touch"
          " the network (IPaddr2) would change this machine's interfaces; run as root with"
          " --hosts for nodes as real hosts")


@dataclass(frozen=True)
class Layout:
    tag: str
    links: int
    corosync: bool = False  # each host runs Corosync (stack = "corosync")

    def bridges(self) -> list[str]:
        return [bridge_name(self.tag, link) for link in range(self.links)]


@functools.cache
def unavailable_reason() -> str | None:
    """Why nodes cannot run as hosts here (None: they can). Asked once per process: the
    probe starts a Python, and every new local cluster asks."""
    if os.geteuid() != 0:
        return "host isolation needs root (namespaces, bridges, veth pairs)"
    probe = subprocess.run(
        [sys.executable, "-c", "import defib.cluster.hostinit as h; h.unshare("
         "h.CLONE_NEWPID | h.CLONE_NEWNS | h.CLONE_NEWUTS | h.CLONE_NEWNET)"],
        capture_output=True, text=True)
    if probe.returncode != 0:
        return f"namespaces are not permitted here: {probe.stderr.strip()[-200:]}"
    if subprocess.run(["ip", "-V"], capture_output=True).returncode != 0:
        return "the ip command (iproute2) is missing"
    return None


# As root where the kernel allows namespaces, local nodes are hosts unless told otherwise
# (tests, CI, the demo): a process node escapes fencing whenever it drops its environment.
DEFAULT_AS_HOSTS = True


def by_default() -> bool:
    """Whether a new local cluster runs its nodes as hosts when not told: DEFIB_LOCAL_HOSTS=1
    asks for it, =0 refuses it, otherwise ``DEFAULT_AS_HOSTS``; never where unavailable."""
    wanted = os.environ.get("DEFIB_LOCAL_HOSTS", "")
    on = wanted == "1" or (wanted != "0" and DEFAULT_AS_HOSTS)
    return on and unavailable_reason() is None


def tag_of(directory: Path) -> str:
    """A short name for the cluster's links (interface names are at most 15 characters)."""
    return hashlib.sha1(str(directory.resolve()).encode()).hexdigest()[:6]


def addresses(index: int, links: int) -> tuple[tuple[str, int], ...]:
    # Each node has its own network stack: the same port on every node is fine.
    return tuple((node_address(index, link), BASE_PORT + link) for link in range(links))


def enable(directory: Path, links: int, corosync: bool = False) -> Layout:
    """Mark a (new) cluster directory as one of hosts."""
    if str(directory.resolve()).startswith("/run/"):
        raise ClusterError("a cluster of hosts cannot live under /run (each host has its own)")
    layout = Layout(tag_of(directory), links, corosync)
    record: dict[str, object] = {"tag": layout.tag, "links": links}
    if corosync:
        record["corosync"] = True
    (directory / HOSTS_FILE).write_text(json.dumps(record) + "\n")
    return layout


def layout(directory: Path) -> Layout | None:
    try:
        data = json.loads((directory / HOSTS_FILE).read_text())
        return Layout(str(data["tag"]), int(data["links"]), bool(data.get("corosync", False)))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ClusterError(f"{directory / HOSTS_FILE} is unreadable: {exc}") from exc


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise ClusterError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done


def link_names() -> list[str]:
    out = _ip("-o", "link", "show").stdout
    return [m.group(1) for m in re.finditer(r"^\d+: ([^:@]+)[@:]", out, re.M)]


def ensure_bridges(lay: Layout) -> None:
    present = set(link_names())
    for name in lay.bridges():
        if name not in present:
            _ip("link", "add", name, "type", "bridge")
        _ip("link", "set", name, "up")


def owned_links(lay: Layout) -> list[str]:
    prefix = f"dfb{lay.tag}"
    return [n for n in link_names() if n.startswith(prefix)]


def teardown(directory: Path) -> list[str]:
    """Delete the cluster's bridges and any veth left behind; returns what was deleted."""
    lay = layout(directory)
    if lay is None:
        return []
    gone = []
    for name in owned_links(lay):
        if _ip("link", "del", name, check=False).returncode == 0:
            gone.append(name)
    return gone


def spawn(directory: Path, node: str, index: int, daemon_cmd: list[str],
          env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    """Start a node as a host; the returned process is its supply (its power)."""
    lay = layout(directory)
    if lay is None:
        raise ClusterError(f"{directory} is not a cluster of hosts")
    ensure_bridges(lay)
    cmd = [sys.executable, "-m", HOSTINIT_MODULE, "--dir", str(directory), "--node", node,
           "--index", str(index), "--links", str(lay.links), "--tag", lay.tag,
           *(["--corosync"] if lay.corosync else []), "--", *daemon_cmd]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            cwd=directory / node, env=env, start_new_session=True)


def host_record(directory: Path, node: str) -> dict[str, object] | None:
    """What the node's supply recorded (machine PIDs, PID namespace); None when it is off."""
    try:
        data = json.loads((directory / node / "host.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def set_cable(directory: Path, index: int, up: bool) -> None:
    """Pull (or plug back) every network cable of node ``index``: its side stays up, as a
    host whose switch port died."""
    lay = layout(directory)
    if lay is None:
        raise ClusterError(f"{directory} is not a cluster of hosts")
    for link in range(lay.links):
        _ip("link", "set", host_veth(lay.tag, index, link), "up" if up else "down")


def split(directory: Path, groups: list[list[int]]) -> None:
    """Partition the hosts' network as a switch split would: the hosts of ``groups[0]`` stay
    on the cluster's bridges, each later group gets bridges of its own (all links).
    ``heal`` joins them again."""
    lay = layout(directory)
    if lay is None:
        raise ClusterError(f"{directory} is not a cluster of hosts")
    for number, group in enumerate(groups[1:], 1):
        for link in range(lay.links):
            bridge = f"dfb{lay.tag}p{number}l{link}"
            if _ip("link", "show", bridge, check=False).returncode != 0:
                _ip("link", "add", bridge, "type", "bridge")
            _ip("link", "set", bridge, "up")
            for index in group:
                _ip("link", "set", host_veth(lay.tag, index, link), "master", bridge)


def heal(directory: Path) -> None:
    """Every host back on the cluster's bridges; the split's bridges go."""
    lay = layout(directory)
    if lay is None:
        raise ClusterError(f"{directory} is not a cluster of hosts")
    prefix = f"dfb{lay.tag}n"
    for name in link_names():
        if name.startswith(prefix):
            link = int(name.rsplit("l", 1)[1])
            _ip("link", "set", name, "master", bridge_name(lay.tag, link))
    for name in link_names():
        if name.startswith(f"dfb{lay.tag}p"):
            _ip("link", "del", name, check=False)


class ClientNamespace:
    """A client machine on the cluster's link ``link``: a network namespace with one address
    (198.18.<link>.<host>), for reaching services and virtual IPs from outside the nodes.
    A context manager: the namespace and its veth go even when the body fails."""

    def __init__(self, directory: Path, link: int = 0, host: int = 250) -> None:
        lay = layout(directory)
        if lay is None:
            raise ClusterError(f"{directory} is not a cluster of hosts")
        self.layout = lay
        self.link = link
        self.address = f"198.18.{link}.{host}"
        self.name = f"defib-{lay.tag}-c{host}"
        self.veth = f"dfb{lay.tag}c{host}"

    def __enter__(self) -> ClientNamespace:
        try:
            ensure_bridges(self.layout)
            _ip("netns", "add", self.name)
            _ip("link", "add", self.veth, "type", "veth", "peer", "name", "eth0", "netns",
                self.name)
            _ip("link", "set", self.veth, "master", bridge_name(self.layout.tag, self.link))
            _ip("link", "set", self.veth, "up")
            self.run("ip", "link", "set", "lo", "up")
            self.run("ip", "addr", "add", f"{self.address}/24", "dev", "eth0")
            self.run("ip", "link", "set", "eth0", "up")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        _ip("link", "del", self.veth, check=False)
        _ip("netns", "del", self.name, check=False)

    def run(self, *cmd: str, timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", self.name, *cmd], capture_output=True,
                              text=True, timeout=timeout)


def daemon_process(directory: Path, node: str) -> int | None:
    """Machine PID of the node's daemon inside its host (None: host off or daemon dead)."""
    record = host_record(directory, node)
    if record is None:
        return None
    namespace = str(record.get("pid_namespace", ""))
    for pid in members(namespace):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "defib.cli.daemon_cmd" in argv and HOSTINIT_MODULE not in argv:
            return pid
    return None


def start_daemon(directory: Path, node: str) -> None:
    """A new daemon in a host that is up but whose daemon died (as after a daemon crash)."""
    if host_request(str(directory), node, "start", 5.0) != "starting":
        raise ClusterError(f"the host of {node} is off", node)
