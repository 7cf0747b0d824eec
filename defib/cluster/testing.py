"""A harness around a local cluster of real daemons, for tests and benchmarks.

Optionally the whole cluster runs inside a private network namespace, where partitions are
made with policy-routing blackhole rules between loopback addresses (the namespace's own
``lo``; nothing outside it is touched). Always use it as a context manager: daemons are
stopped and the namespace deleted even when the body fails.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from defib.cluster import hosts as hostmode
from defib.cluster import local
from defib.cluster.client import ControlClient
from defib.cluster.config import QuorumOptions, Timing
from defib.cluster.corosync.conf import TotemOptions
from defib.errors import ClusterError, NotConnectedError


def netns_available() -> bool:
    if os.geteuid() != 0:
        return False
    name = f"defib-probe-{os.getpid()}"
    ok = subprocess.run(["ip", "netns", "add", name], capture_output=True).returncode == 0
    if ok:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return ok


def corosync_unavailable_reason() -> str | None:
    """Why a local Corosync cluster cannot run here (None: it can)."""
    reason = hostmode.unavailable_reason()
    if reason is not None:
        return reason
    if shutil.which("corosync") is None:
        return "corosync is not installed"
    try:
        from defib.cluster.corosync.lib import libraries

        libraries()
    except ClusterError as exc:
        return str(exc)
    return None


class LocalCluster:
    def __init__(
        self,
        directory: Path,
        count: int,
        *,
        links: int = 2,
        quorum: QuorumOptions | None = None,
        timing: Timing | None = None,
        encrypt: bool = False,
        netns: bool = False,
        controller: bool = True,
        hosts: bool | None = None,
        stack: str = "heartbeat",
        totem: TotemOptions | None = None,
    ) -> None:
        self.dir = directory.resolve()
        self.count = count
        self.names = [f"node{i}" for i in range(1, count + 1)]
        self.controller = controller
        self.netns = f"defib-t{os.getpid()}-{id(self) % 100000}" if netns else None
        # Nodes as hosts (own namespaces, 198.18 bridge): asked for, or the default here.
        # The netns mode partitions loopback addresses, which hosts do not use.
        self.hosts = (hostmode.by_default() if hosts is None else hosts) and not netns
        self.stack = stack
        if stack == "corosync":  # Corosync needs a network stack per node
            self.hosts = True
        self._rules: set[tuple[str, str]] = set()
        # Clusters of parallel tests must not race for the same ports: start the search at a
        # random place below the ephemeral range (our sending sockets use that one).
        start = random.randrange(10000, 30000, 2)
        self.cfg = local.create(self.dir, count, 0, links, quorum, encrypt, timing, start,
                                hosts=self.hosts, stack=stack, totem=totem)

    # -- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> LocalCluster:
        if self.netns:
            self._ip("netns", "add", self.netns)
            self._ns("ip", "link", "set", "lo", "up")
            # Let our blackhole rules be consulted before the local table (in this netns only).
            self._ns("ip", "rule", "add", "pref", "100", "lookup", "local")
            self._ns("ip", "rule", "del", "pref", "0")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            local.stop(self.dir, timeout=3.0)
        finally:
            hostmode.teardown(self.dir)
            if self.netns:
                subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True)

    def _ns(self, *args: str) -> None:
        assert self.netns
        subprocess.run(["ip", "netns", "exec", self.netns, *args], check=True,
                       capture_output=True)

    def start(self, names: list[str] | None = None) -> None:
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns, sys.executable, "-m", "defib.cli.main",
                   "cluster", "start", "--dir", str(self.dir), "--no-wait"]
            if not self.controller:
                cmd.append("--no-controller")
            for name in names or []:
                cmd += ["--node", name]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                raise ClusterError(f"cluster start failed: {done.stderr}")
        else:
            local.start(self.dir, names, controller=self.controller)

    def stop(self, names: list[str]) -> None:
        local.stop(self.dir, names)

    def pid(self, name: str) -> int:
        pid = local.daemon_pid(self.dir, name)
        if pid is None:
            raise ClusterError(f"{name} is not running", name)
        return pid

    def daemon_pid(self, name: str) -> int:
        """The machine PID of the node's daemon (on hosts, ``pid`` is the host's supply)."""
        pid = hostmode.daemon_process(self.dir, name) if self.hosts else self.pid(name)
        if pid is None:
            raise ClusterError(f"{name} has no daemon", name)
        return pid

    def kill(self, name: str) -> float:
        """kill -9 the node's daemon; returns the monotonic time of the kill. (A host stays
        up: its network stack answers, as a machine whose cluster daemon crashed.)"""
        os.kill(self.daemon_pid(name), signal.SIGKILL)
        return time.monotonic()

    # -- observation ------------------------------------------------------------------------
    def client(self, name: str) -> ControlClient:
        return ControlClient.for_node(self.dir, name, timeout=5.0)

    def status(self, name: str) -> dict[str, Any]:
        return self.client(name).status()

    def statuses(self, names: list[str]) -> dict[str, dict[str, Any]]:
        return {n: self.status(n) for n in names}

    def wait_formed(self, names: list[str] | None = None, timeout: float = 15.0) -> dict[str, Any]:
        return local.wait_formed(self.dir, names or self.names, timeout)

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float = 10.0,
                 poll: float = 0.02) -> float:
        """Poll until ``check()`` is true; returns the time it took."""
        start = time.monotonic()
        while True:
            try:
                if check():
                    return time.monotonic() - start
            except (NotConnectedError, ClusterError):
                pass
            if time.monotonic() - start > timeout:
                raise ClusterError(f"timed out after {timeout}s waiting for {what}")
            time.sleep(poll)

    def log(self, name: str) -> str:
        return (self.dir / name / "daemon.log").read_text(errors="replace")

    # -- faults -----------------------------------------------------------------------------
    def address(self, name: str, link: int) -> str:
        return self.cfg.node_by_name(name).addresses[link][0]

    def block(self, side_a: list[str], side_b: list[str], links: list[int] | None = None,
              both_ways: bool = True) -> None:
        """Drop every packet from side_a to side_b (and back unless ``both_ways`` is False)
        on the given links (default: all)."""
        for link in links if links is not None else range(self.cfg.link_count):
            for a in side_a:
                for b in side_b:
                    for src, dst in ((a, b), (b, a)) if both_ways else ((a, b),):
                        rule = (self.address(src, link), self.address(dst, link))
                        if rule not in self._rules:
                            self._ns("ip", "rule", "add", "pref", "10", "from", rule[0],
                                     "to", rule[1], "blackhole")
                            self._rules.add(rule)

    def split(self, groups: list[list[str]]) -> None:
        """Hosts only: partition the network between groups of nodes (all links)."""
        hostmode.split(self.dir, [[self.cfg.node_by_name(n).id for n in g] for g in groups])

    def heal(self) -> None:
        if self.hosts:
            hostmode.heal(self.dir)
            return
        for src, dst in sorted(self._rules):
            self._ns("ip", "rule", "del", "pref", "10", "from", src, "to", dst, "blackhole")
        self._rules.clear()
