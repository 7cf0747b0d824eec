"""Load and loss for the detection benches: busy loops on every core, random packet loss.

Loss is an iptables ``statistic`` rule in the cluster's own network namespace
(``LocalCluster(netns=True)``: every node's loopback addresses live there), so it drops
that share of every packet on every link of that cluster and touches nothing else on the
machine. The kernel here has no ``netem``; random drop is what iptables offers.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from defib.cluster.testing import LocalCluster


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


@contextmanager
def packet_loss(cluster: LocalCluster, probability: float) -> Iterator[None]:
    """Drop ``probability`` of the UDP packets every node receives, on every link."""
    if probability <= 0:
        yield
        return
    if cluster.netns is None:
        raise SystemExit("packet loss needs the cluster in its own network namespace")
    rule = ["INPUT", "-p", "udp", "-m", "statistic", "--mode", "random",
            "--probability", f"{probability:g}", "-j", "DROP"]
    subprocess.run(["ip", "netns", "exec", cluster.netns, "iptables", "-A", *rule],
                   check=True, capture_output=True)
    try:
        yield
    finally:
        subprocess.run(["ip", "netns", "exec", cluster.netns, "iptables", "-D", *rule],
                       capture_output=True)


def dropped(cluster: LocalCluster) -> int:
    """Packets the loss rule dropped so far (0 without one)."""
    if cluster.netns is None:
        return 0
    out = subprocess.run(["ip", "netns", "exec", cluster.netns, "iptables", "-L", "INPUT",
                          "-v", "-n", "-x"], capture_output=True, text=True).stdout
    return sum(int(line.split()[0]) for line in out.splitlines()
               if "statistic" in line and line.split()[0].isdigit())


CUT_CHAIN = "defib-cut"


def cut_off(cluster: LocalCluster, victim: str) -> None:
    """Cut ``victim`` off every link, both ways, in one atomic iptables commit (a few
    ``ip rule`` calls one after the other would cut the links ~0.1 s apart)."""
    assert cluster.netns is not None
    rules = [f":{CUT_CHAIN} - [0:0]", f"-I INPUT -j {CUT_CHAIN}"]
    for link in range(cluster.cfg.link_count):
        address = cluster.address(victim, link)
        rules += [f"-A {CUT_CHAIN} -s {address} -j DROP", f"-A {CUT_CHAIN} -d {address} -j DROP"]
    text = "*filter\n" + "\n".join(rules) + "\nCOMMIT\n"
    subprocess.run(["ip", "netns", "exec", cluster.netns, "iptables-restore", "--noflush"],
                   input=text, text=True, check=True, capture_output=True)


def heal_cut(cluster: LocalCluster) -> None:
    assert cluster.netns is not None
    for args in (["-D", "INPUT", "-j", CUT_CHAIN], ["-F", CUT_CHAIN], ["-X", CUT_CHAIN]):
        subprocess.run(["ip", "netns", "exec", cluster.netns, "iptables", *args],
                       capture_output=True)
