"""Faults on a local cluster of hosts, as first-class tools for the lab, tests and benches.

Every fault acts on the hosts of ``defib.cluster.hosts`` (root only): a power cut kills a
host's PID namespace; a freeze stops every process of it (SIGSTOP, as a hung machine);
a daemon crash kills the cluster daemon alone; partitions and packet loss are iptables
rules inside the nodes' own network namespaces (nothing of the machine is touched). The
kernel here has no ``netem``: loss is ``-m statistic`` random drop, and delay and
reordering are done by the nodes' own fault-injecting transport (``defib.cluster.netfault``,
``NetFaults``: any local cluster, hosts or not).

``heal()`` undoes every partition, loss and freeze this object made; use ``Faults`` as a
context manager so that it runs even when the body fails.

The benches' clusters of processes in one network namespace (``LocalCluster(netns=True)``)
get the same loss and cut-off rules from the functions at the end (``packet_loss``,
``cut_off``), and load from ``busy_loops``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

from defib.cluster import hosts
from defib.cluster.hostinit import POWER_LOG, members
from defib.cluster.netfault import RULES_FILE, LinkFault, write_rules
from defib.errors import ClusterError, UnsupportedOpError

CHAIN = "DEFIBLAB"  # our own chain in each node's filter table: flushed and deleted by heal
FILLER = ".defib-fault-filler"  # the file full_disk writes and free_disk removes
# full_disk fills a file system only when it is this small (a tmpfs or loop mount made for a
# node's state), never the machine's own disk.
FILL_LIMIT = 512 << 20


def power_log(directory: Path, node: str) -> list[float]:
    """The wall-clock times at which ``node``'s host went down (power cut, fencing, or
    the daemon's own exit)."""
    try:
        text = (directory / node / POWER_LOG).read_text()
    except FileNotFoundError:
        return []
    times = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                times.append(float(parts[1]))
            except ValueError:
                continue
    return times


def fill_disk(state_dir: Path) -> Path:
    """Fill the file system holding ``state_dir`` (a node's state) with one file until the
    next write fails with ENOSPC; returns the file. Refused when more than FILL_LIMIT is
    free: put the node's state on a small file system of its own first."""
    st = os.statvfs(state_dir)
    if st.f_bavail * st.f_frsize > FILL_LIMIT:
        raise ClusterError(f"{state_dir} is on a file system with more than {FILL_LIMIT >> 20}"
                           " MiB free: refusing to fill it (mount a small tmpfs there first)",
                           str(state_dir))
    filler = state_dir / FILLER
    chunk = b"\0" * (64 << 10)
    with open(filler, "ab", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError:
            pass
        try:
            while True:  # the last blocks
                out.write(b"\0" * 512)
        except OSError:
            pass
    return filler


def free_disk(state_dir: Path) -> None:
    """Undo ``fill_disk``."""
    (state_dir / FILLER).unlink(missing_ok=True)


def clock_off(directory: Path, node: str, seconds: float) -> None:
    """Shift the wall clock ``node``'s messaging layer stamps and checks by ``seconds`` (0:
    back to true time). Its daemon must run with DEFIB_DEBUG_OPS=1 (a test fault)."""
    from defib.cluster.client import ControlClient

    try:
        ControlClient.for_node(directory, node).request("debug_clock_offset", seconds=seconds)
    except UnsupportedOpError as exc:
        raise ClusterError(f"{node}: clock_off needs its daemon started with"
                           " DEFIB_DEBUG_OPS=1", node) from exc


def node_id(node: str) -> int:
    return int(node.removeprefix("node"))


class NetFaults:
    """Delay, jitter, reordering and drop between the nodes of any local cluster, through
    each node's rules file (``defib.cluster.netfault``); a fault on a node applies to what
    it sends and to what it is sent, on every link. The daemons see a change within
    ``netfault.RELOAD_EVERY`` seconds."""

    def __init__(self, directory: Path, names: list[str]) -> None:
        self.dir = directory
        self.names = names
        self.links: dict[tuple[str, str], LinkFault] = {}  # (sender, receiver) -> fault

    def _set(self, node: str, **change: Any) -> None:
        for peer in self.names:
            if peer == node:
                continue
            for pair in ((node, peer), (peer, node)):
                old = self.links.get(pair, LinkFault(to=node_id(pair[1])))
                self.links[pair] = replace(old, **change)
        self._write()

    def _write(self) -> None:
        for sender in self.names:
            rules = [f for (src, _), f in sorted(self.links.items()) if src == sender]
            path = self.dir / sender / RULES_FILE
            if rules:
                write_rules(path, rules)
            else:
                path.unlink(missing_ok=True)

    def delay(self, node: str, ms: float, jitter: float = 0.0) -> None:
        """Every packet to and from ``node`` waits ``ms`` plus up to ``jitter`` ms (jitter
        alone reorders packets)."""
        if ms < 0 or jitter < 0:
            raise ValueError("delay and jitter are durations")
        self._set(node, delay=ms / 1000, jitter=jitter / 1000)

    def reorder(self, node: str, fraction: float, hold_ms: float = 30.0) -> None:
        """Hold back ``fraction`` of the packets to and from ``node`` ``hold_ms`` more, so
        that later ones overtake them."""
        if not 0.0 <= fraction <= 1.0 or hold_ms < 0:
            raise ValueError(f"reorder {fraction} / {hold_ms} ms is out of range")
        self._set(node, reorder=fraction, hold=hold_ms / 1000)

    def drop(self, node: str, fraction: float) -> None:
        """Drop ``fraction`` of the packets to and from ``node`` in its transport (works
        without hosts, unlike ``Faults.loss``)."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"drop fraction {fraction} is not between 0 and 1")
        self._set(node, drop=fraction)

    def heal(self) -> None:
        self.links.clear()
        for node in self.names:
            (self.dir / node / RULES_FILE).unlink(missing_ok=True)


class Faults:
    def __init__(self, directory: Path, names: list[str]) -> None:
        if hosts.layout(directory) is None:
            raise ClusterError(f"{directory} is not a cluster of hosts: faults need hosts")
        self.dir = directory
        self.names = names
        self.frozen: dict[str, list[int]] = {}
        self.filtered: set[str] = set()  # nodes with our chain installed
        self.net = NetFaults(directory, names)

    def __enter__(self) -> Faults:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.heal()

    # -- where things are ---------------------------------------------------------------------
    def init_pid(self, node: str) -> int | None:
        record = hosts.host_record(self.dir, node)
        return None if record is None else int(str(record["init_pid"]))

    def namespace(self, node: str) -> str | None:
        record = hosts.host_record(self.dir, node)
        return None if record is None else str(record["pid_namespace"])

    def addresses(self, node: str) -> list[str]:
        lay = hosts.layout(self.dir)
        links = lay.links if lay else 1
        index = node_id(node)
        return [address for address, _ in hosts.addresses(index, links)]

    def _in_node(self, node: str, *cmd: str, check: bool = True) -> bool:
        pid = self.init_pid(node)
        if pid is None:
            if check:
                raise ClusterError(f"{node} is off", node)
            return False
        done = subprocess.run(["nsenter", "-t", str(pid), "-n", *cmd], capture_output=True,
                              text=True, timeout=10)
        if check and done.returncode != 0:
            raise ClusterError(f"{node}: {' '.join(cmd)}: {done.stderr.strip()}", node)
        return done.returncode == 0

    # -- faults -------------------------------------------------------------------------------
    def freeze(self, node: str) -> float:
        """SIGSTOP every process of the host (a hung machine); returns the monotonic time."""
        namespace = self.namespace(node)
        if namespace is None:
            raise ClusterError(f"{node} is off", node)
        stopped = []
        for pid in members(namespace):
            try:
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
            except ProcessLookupError:
                continue
        self.frozen[node] = stopped
        return time.monotonic()

    def thaw(self, node: str) -> None:
        for pid in self.frozen.pop(node, []):
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                continue

    def _chain(self, node: str) -> None:
        if node in self.filtered:
            return
        # A host keeps its (flushed) chain after a heal; a power-cycled one has none.
        self._in_node(node, "iptables", "-N", CHAIN, check=False)
        for hook in ("INPUT", "OUTPUT"):
            if not self._in_node(node, "iptables", "-C", hook, "-j", CHAIN, check=False):
                self._in_node(node, "iptables", "-I", hook, "-j", CHAIN)
        self.filtered.add(node)

    def partition(self, *sides: list[str]) -> None:
        """Cut the given sets of nodes off each other (every pair across sets, every link,
        both ways); nodes not named keep talking to everyone. Every node gets its rules in
        one commit, all nodes at once: rules added one by one took seconds on 5 loaded
        hosts, long enough for a half-cut node to be fenced before its last rule (and for
        views to form on a half-cut network)."""
        rules: dict[str, list[list[str]]] = {}
        for i, side in enumerate(sides):
            others = [n for other in sides[i + 1:] for n in other]
            for a in side:
                for b in others:
                    for x, y in ((a, b), (b, a)):
                        for address in self.addresses(y):
                            rules.setdefault(x, []).extend(cut_rules(address))
        self._commit_all(rules)

    def _commit_all(self, rules: dict[str, list[list[str]]]) -> None:
        """Append ``rules`` to our chain on each node, in parallel, one commit per node.
        A host that is off (fenced meanwhile) needs none."""
        script = (f"iptables -N {CHAIN} 2>/dev/null; for hook in INPUT OUTPUT; do"
                  f" iptables -C $hook -j {CHAIN} 2>/dev/null ||"
                  f" iptables -I $hook -j {CHAIN} || exit 1; done;"
                  " exec iptables-restore --noflush")
        running: dict[str, subprocess.Popen[str]] = {}
        for node, bodies in rules.items():
            pid = self.init_pid(node)
            if pid is None:
                continue
            text = "*filter\n" + "".join(f"-A {CHAIN} {' '.join(b)}\n" for b in bodies)
            proc = subprocess.Popen(["nsenter", "-t", str(pid), "-n", "sh", "-c", script],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            running[node] = proc
            self.filtered.add(node)
            assert proc.stdin is not None
            proc.stdin.write(text + "COMMIT\n")
            proc.stdin.close()
        failed = []
        for node, proc in running.items():
            assert proc.stderr is not None and proc.stdout is not None
            err = proc.stderr.read()  # small: the pipes cannot fill up
            proc.stdout.close()
            proc.stderr.close()
            proc.wait(timeout=30)
            if proc.returncode != 0 and self.init_pid(node) is not None:
                failed.append(f"{node}: {err.strip()[-200:]}")
        if failed:
            raise ClusterError(f"partition rules not committed: {'; '.join(failed)}")

    def isolate(self, node: str) -> None:
        self.partition([node], [n for n in self.names if n != node])

    def loss(self, node: str, fraction: float) -> None:
        """Drop ``fraction`` of the packets the node receives, at random (every link)."""
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"loss fraction {fraction} is not between 0 and 1")
        self._chain(node)
        self._in_node(node, "iptables", "-A", CHAIN, *loss_rule(fraction))

    def clock_off(self, node: str, seconds: float) -> None:
        """The node's clock ``seconds`` off (as its peers see its packets); see clock_off."""
        clock_off(self.dir, node, seconds)

    def full_disk(self, node: str) -> Path:
        """The node's state directory full (its writes fail with ENOSPC); see fill_disk."""
        return fill_disk(self.dir / node)

    def free_disk(self, node: str) -> None:
        free_disk(self.dir / node)

    def delay(self, node: str, ms: float, jitter: float = 0.0) -> None:
        self.net.delay(node, ms, jitter)

    def reorder(self, node: str, fraction: float, hold_ms: float = 30.0) -> None:
        self.net.reorder(node, fraction, hold_ms)

    def heal(self) -> None:
        """Undo every freeze, partition, loss, delay and reordering (on hosts still up)."""
        self.net.heal()
        for node in list(self.frozen):
            self.thaw(node)
        for node in sorted(self.filtered):
            self._in_node(node, "iptables", "-F", CHAIN, check=False)
        self.filtered.clear()


# -- rules, load, and clusters of processes in one network namespace (the benches) ----------
def loss_rule(fraction: float) -> list[str]:
    """An iptables rule body dropping ``fraction`` of UDP packets at random."""
    return ["-p", "udp", "-m", "statistic", "--mode", "random", "--probability",
            f"{fraction:.4f}", "-j", "DROP"]


def cut_rules(address: str) -> list[list[str]]:
    """Rule bodies dropping every packet from and to ``address``."""
    return [["-s", address, "-j", "DROP"], ["-d", address, "-j", "DROP"]]


@contextmanager
def busy_loops(count: int) -> Iterator[None]:
    """``count`` processes spinning at normal priority until the block ends."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(count)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.send_signal(signal.SIGKILL)
            hog.wait()


def _netns(netns: str, *cmd: str, check: bool = False, text: str | None = None
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", netns, *cmd], input=text, text=True,
                          check=check, capture_output=True)


@contextmanager
def packet_loss(netns: str | None, probability: float) -> Iterator[None]:
    """Drop ``probability`` of the UDP packets received in ``netns`` (every node, every
    link of a cluster that lives there) until the block ends."""
    if probability <= 0:
        yield
        return
    if netns is None:
        raise ClusterError("packet loss needs the cluster in its own network namespace")
    rule = ["INPUT", *loss_rule(probability)]
    _netns(netns, "iptables", "-A", *rule, check=True)
    try:
        yield
    finally:
        _netns(netns, "iptables", "-D", *rule)


def dropped(netns: str | None) -> int:
    """Packets the loss rules of ``netns`` dropped so far (0 without one)."""
    if netns is None:
        return 0
    out = _netns(netns, "iptables", "-L", "INPUT", "-v", "-n", "-x").stdout
    return sum(int(line.split()[0]) for line in out.splitlines()
               if "statistic" in line and line.split()[0].isdigit())


CUT_CHAIN = "defib-cut"


def cut_off(netns: str, addresses: list[str]) -> None:
    """Cut these addresses (a node's, every link) off, both ways, in one atomic iptables
    commit (rules added one after the other would cut the links ~0.1 s apart)."""
    rules = [f":{CUT_CHAIN} - [0:0]", f"-I INPUT -j {CUT_CHAIN}"]
    rules += [f"-A {CUT_CHAIN} {' '.join(rule)}" for a in addresses for rule in cut_rules(a)]
    _netns(netns, "iptables-restore", "--noflush", check=True,
           text="*filter\n" + "\n".join(rules) + "\nCOMMIT\n")


def heal_cut(netns: str) -> None:
    for args in (["-D", "INPUT", "-j", CUT_CHAIN], ["-F", CUT_CHAIN], ["-X", CUT_CHAIN]):
        _netns(netns, "iptables", *args)
