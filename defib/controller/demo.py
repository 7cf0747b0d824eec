"""The live demo: a local 3-node cluster, a small web stack, a crash and its failover.

Resources: ``vip`` (an address; ``ocf:heartbeat:Dummy`` stands in, since a real
``IPaddr2`` needs a network namespace), ``fs`` (a stand-in file system, Dummy) and ``web``
(``ocf:defib:DemoHTTP``, a real HTTP server on the node's own 127.0.0.x address), ordered
vip -> fs -> web and colocated, with ``fence_defib_local`` as the fencing device.

The demo crashes the node that runs ``web`` (SIGKILL of every process of that node, as a
power cut), and measures until the stack runs on another node and answers HTTP there.
When the nodes are hosts (``defib.cluster.hosts``: root), the crash is a real power cut of
the host and the page is fetched from a client namespace on the hosts' bridge. The
library reports through ``emit``; the CLI prints.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from defib.cluster import hosts
from defib.cluster.config import load_config
from defib.controller.harness import ResourceCluster, cib_xml, fence_device, primitive
from defib.errors import ClusterError, NotConnectedError

Emit = Callable[[str], None]
STACK = ("vip", "fs", "web")


@dataclass(frozen=True)
class DemoReport:
    crashed: str
    recovered_on: str
    recorded_s: float  # crash -> web recorded started on another node (fencing included)
    http_s: float  # crash -> HTTP answered by the new node
    served_by: str


def demo_cib(port: int) -> str:
    resources = (
        fence_device()
        + primitive("vip", "ocf", "Dummy", "heartbeat", monitor="5s")
        + primitive("fs", "ocf", "Dummy", "heartbeat", monitor="5s")
        + primitive("web", "ocf", "DemoHTTP", "defib", {"port": str(port)}, monitor="2s")
    )
    constraints = (
        '<rsc_order id="order-vip-fs" first="vip" then="fs" kind="Mandatory"/>'
        '<rsc_order id="order-fs-web" first="fs" then="web" kind="Mandatory"/>'
        '<rsc_colocation id="fs-with-vip" rsc="fs" with-rsc="vip" score="INFINITY"/>'
        '<rsc_colocation id="web-with-fs" rsc="web" with-rsc="fs" score="INFINITY"/>'
    )
    return cib_xml(resources, constraints, {"cluster-name": "defib-demo"})


def free_port(addresses: list[str], start: int = 18080) -> int:
    """A TCP port free on every node address (other programs may use 127.0.0.x too)."""
    for port in range(start, start + 500):
        ok = True
        for addr in addresses:
            with socket.socket() as sock:
                try:
                    sock.bind((addr, port))
                except OSError:
                    ok = False
                    break
        if ok:
            return port
    raise ClusterError("no free TCP port for the demo web service")


def http_get(addr: str, port: int, timeout: float = 1.0,
             client: hosts.ClientNamespace | None = None) -> str | None:
    """The node that served the page (its X-Served-By header), or None. Nodes that are
    hosts are reached from ``client``, a machine on their bridge (not from this one)."""
    if client is not None:
        try:
            done = client.run("curl", "-s", "-o", "/dev/null", "-D", "-", "-m", str(timeout),
                              f"http://{addr}:{port}/", timeout=timeout + 5)
        except subprocess.TimeoutExpired:
            return None
        for line in done.stdout.splitlines():
            name, _, value = line.partition(":")
            if name.strip().lower() == "x-served-by":
                return value.strip()
        return None
    try:
        with urllib.request.urlopen(f"http://{addr}:{port}/", timeout=timeout) as reply:
            served = reply.headers.get("X-Served-By")
            return str(served) if served is not None else None
    except OSError:
        return None


class LiveDemo:
    def __init__(self, directory: Path, emit: Emit) -> None:
        self.directory = directory
        self.emit = emit
        self.rc: ResourceCluster | None = None
        self.addresses: dict[str, str] = {}
        self.port = 0
        self.client: hosts.ClientNamespace | None = None

    def fetch(self, node: str, timeout: float = 1.0) -> str | None:
        return http_get(self.addresses[node], self.port, timeout, self.client)

    def status_lines(self) -> list[str]:
        rc = self.rc
        assert rc is not None
        try:
            status = rc.client_request("status")
            locations = rc.locations()
            ctl = rc.dc_status()
        except (ClusterError, NotConnectedError) as exc:
            return [f"  (status unavailable: {exc})"]
        members = {n["name"]: n["member"] for n in status["nodes"]}
        dc = (status.get("dc") or {}).get("name")
        lines = [f"  quorum: {'yes' if status['quorum']['quorate'] else 'NO'}   DC: {dc}"
                 f"   transition: {ctl.get('transition')}"]
        for name in rc.names:
            here = sorted(r for r, nodes in locations.items() if name in nodes)
            state = "online " if members.get(name) else "OFFLINE"
            lines.append(f"  {name} {state} {self.addresses[name]:<12} {' '.join(here)}")
        for node, reason in ctl.get("fence_failures", {}).items():
            lines.append(f"  FENCING OF {node} FAILED: {reason} (recovery waits)")
        return lines

    def where(self, rsc: str) -> str | None:
        assert self.rc is not None
        nodes = self.rc.locations().get(rsc, [])
        return nodes[0] if len(nodes) == 1 else None

    def run(self, interactive: bool, status_every: float = 2.0) -> DemoReport:
        self.emit(f"Starting a local 3-node cluster in {self.directory} ...")
        # A fresh cluster each run: an old one's CIB would bring back its old status.
        with contextlib.ExitStack() as stack:
            rc = stack.enter_context(ResourceCluster(
                self.directory / time.strftime("cluster-%Y%m%d-%H%M%S"), 3))
            self.rc = rc
            cfg = load_config(rc.dir / "cluster.toml")
            self.addresses = {n.name: n.addresses[0][0] for n in cfg.nodes}
            if hosts.layout(rc.dir) is not None:  # each host has a network stack of its own
                self.client = stack.enter_context(hosts.ClientNamespace(rc.dir))
                self.port = 8080
                self.emit(f"Nodes are hosts (own PID, mount, UTS, network namespaces);"
                          f" the web client is {self.client.address} on their bridge")
            else:
                self.port = free_port(list(self.addresses.values()))
            self.emit(f"Cluster formed: node1 node2 node3 (heartbeats on"
                      f" {', '.join(self.addresses.values())})")
            rc.load(demo_cib(self.port))
            self.emit("Configured: fencing fence_defib_local; vip -> fs -> web"
                      " (ordered, colocated)")
            home, took = rc.wait_running("web", timeout=30)
            for rsc in STACK:
                rc.wait_running(rsc, timeout=10)
            self.emit(f"web started on {home} after {took:.2f}s:")
            for line in self.status_lines():
                self.emit(line)
            served = self.fetch(home)
            self.emit(f"HTTP http://{self.addresses[home]}:{self.port}/ -> served by {served}")
            report = self.crash_and_recover(home)
            self.emit("Restarting the crashed node (it rejoins empty, as after a reboot) ...")
            rc.restart(report.crashed)
            rc.cluster.wait_formed(timeout=20)
            for line in self.status_lines():
                self.emit(line)
            if interactive:
                self.emit("Live status every few seconds; Ctrl-C stops the demo and the"
                          " cluster.")
                try:
                    while True:
                        time.sleep(status_every)
                        self.emit(time.strftime("%H:%M:%S"))
                        for line in self.status_lines():
                            self.emit(line)
                except KeyboardInterrupt:
                    self.emit("Stopping the cluster ...")
            return report

    def crash_and_recover(self, home: str) -> DemoReport:
        rc = self.rc
        assert rc is not None
        what = "power cut of host" if self.client else "kill -9 of every process of"
        self.emit(f"CRASH: {what} {home} (daemon and the web server)")
        t0 = rc.crash(home)
        new_home, _ = rc.wait_running("web", not_on={home}, timeout=30, poll=0.005)
        recorded = time.monotonic() - t0
        served = None
        while served != new_home and time.monotonic() - t0 < 30:
            served = self.fetch(new_home, timeout=0.5)
            if served != new_home:
                time.sleep(0.005)
        http_s = time.monotonic() - t0
        fenced = home in rc.dc_status().get("fenced", {})
        self.emit(f"{home} fenced: {'yes' if fenced else 'NO'}; web recovered on {new_home}:"
                  f" recorded started after {recorded:.3f}s, HTTP answered after"
                  f" {http_s:.3f}s (served by {served})")
        for line in self.status_lines():
            self.emit(line)
        return DemoReport(home, new_home, recorded, http_s, served or "")


def run_demo(emit: Emit, interactive: bool, directory: Path | None = None) -> DemoReport:
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        return LiveDemo(directory.resolve(), emit).run(interactive)
    with tempfile.TemporaryDirectory(prefix="defib-demo-") as tmp:
        return LiveDemo(Path(tmp), emit).run(interactive)
