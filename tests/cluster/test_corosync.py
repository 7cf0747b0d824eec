"""defib on Corosync: what only this stack has (knet's redundant links, a network split of
hosts, losing Corosync itself). Real hosts (own network, mount and PID namespaces on 198.18
bridges), each running corosync and a defib daemon; root only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from defib.cluster import hosts
from defib.cluster.hostinit import members as namespace_members
from defib.cluster.testing import LocalCluster, corosync_unavailable_reason

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.slow,
    pytest.mark.skipif(corosync_unavailable_reason() is not None,
                       reason=f"corosync: {corosync_unavailable_reason()}"),
]

RESOURCES = ('<resources><primitive id="big" class="ocf" provider="heartbeat"'
             ' type="Dummy"/></resources>')


def members(status: dict) -> list[str]:
    return [n["name"] for n in status["nodes"] if n["member"]]


def agree(cluster: LocalCluster, names: list[str], expected: list[str]) -> bool:
    sts = cluster.statuses(names)
    return (len({s["view"] for s in sts.values()}) == 1
            and all(members(s) == expected for s in sts.values()))


def leftovers(tag: str) -> list[str]:
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return [line for line in links.splitlines() if f"dfb{tag}" in line]


def corosync_pid(directory: Path, node: str) -> int:
    record = hosts.host_record(directory, node)
    assert record is not None, f"{node} is off"
    for pid in namespace_members(str(record["pid_namespace"])):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[0].endswith(b"corosync"):
            return pid
    raise AssertionError(f"no corosync on {node}")


def test_redundant_link_then_split_majority_keeps_quorum_and_cib_converges(
        tmp_path: Path) -> None:
    directory = tmp_path / "split"
    try:
        with LocalCluster(directory, 5, controller=False, stack="corosync") as cluster:
            cluster.start()
            cluster.wait_formed(timeout=30)

            # Link 0's switch dies: knet carries everything on link 1. (With a 1 s token,
            # knet may find the dead link after the token expired: one membership change,
            # then everyone is back on link 1.)
            bridge0 = hosts.layout(cluster.dir).bridges()[0]  # type: ignore[union-attr]
            subprocess.run(["ip", "link", "set", bridge0, "down"], check=True)
            cluster.wait_for("link 0 reported down", lambda: all(
                n["links"] == [False, True] for n in cluster.status("node1")["nodes"]
                if n["name"] != "node1"), timeout=20)
            cluster.wait_formed(timeout=30)
            subprocess.run(["ip", "link", "set", bridge0, "up"], check=True)

            majority, minority = ["node1", "node2", "node3"], ["node4", "node5"]
            cluster.split([majority, minority])
            cluster.wait_for("majority view", lambda: agree(cluster, majority, majority),
                             timeout=20)
            cluster.wait_for("minority view", lambda: agree(cluster, minority, minority),
                             timeout=20)
            for name in majority:
                st = cluster.status(name)
                assert st["quorum"]["quorate"] and st["dc"]["name"] == "node1"
                assert st["quorum"]["total_votes"] == 3
            for name in minority:
                st = cluster.status(name)
                assert not st["quorum"]["quorate"] and st["dc"]["name"] == "node4"

            # Both sides change the CIB; the majority's configuration change (epoch) wins.
            cluster.client("node2").replace_section("resources", RESOURCES)
            cluster.client("node5").patch_status(
                '<node_state id="5" uname="node5" in_ccm="true"/>')
            cluster.heal()
            cluster.wait_formed(timeout=30)
            cluster.wait_for("one CIB everywhere", lambda: len(
                {cluster.client(n).get_cib()["digest"] for n in cluster.names}) == 1,
                timeout=10)
            assert 'id="big"' in cluster.client("node5").get_cib()["xml"]
            assert all(s["quorum"]["quorate"]
                       for s in cluster.statuses(cluster.names).values())
    finally:
        assert leftovers(hosts.tag_of(directory)) == []


def test_losing_corosync_ends_the_daemon_and_the_others_go_on(tmp_path: Path) -> None:
    with LocalCluster(tmp_path / "lost", 3, links=1, controller=False,
                      stack="corosync") as cluster:
        cluster.start()
        cluster.wait_formed(timeout=30)
        os.kill(corosync_pid(cluster.dir, "node3"), signal.SIGKILL)
        rest = ["node1", "node2"]
        cluster.wait_for("node3 gone", lambda: agree(cluster, rest, rest), timeout=20)
        cluster.wait_for("node3's daemon exits", lambda: "lost the connection to corosync"
                         in cluster.log("node3"), timeout=10)
        assert all(s["quorum"]["quorate"] for s in cluster.statuses(rest).values())
        # The host went down with its daemon; started again, it rejoins.
        cluster.wait_for("node3's host off", lambda: hosts.host_record(cluster.dir, "node3")
                         is None, timeout=10)
        cluster.start(["node3"])
        cluster.wait_formed(timeout=30)


def test_cli_starts_a_corosync_cluster_of_hosts_status_and_stop(tmp_path: Path) -> None:
    directory = tmp_path / "cli"
    defib = [sys.executable, "-m", "defib.cli.main"]
    try:
        done = subprocess.run([*defib, "cluster", "start", "-n", "3", "--stack", "corosync",
                               "--links", "1", "--no-controller", "--dir", str(directory)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "membership formed: node1 node2 node3" in done.stdout
        assert 'stack = "corosync"' in (directory / "cluster.toml").read_text()
        for name in ("node1", "node2", "node3"):  # every host has its own corosync
            assert corosync_pid(directory, name) > 0
            assert "ring0_addr: 198.18.0.13" in (
                directory / name / "corosync/etc/corosync.conf").read_text()
        out = subprocess.run([*defib, "status", "--dir", str(directory), "--node", "node2"],
                             capture_output=True, text=True, timeout=30).stdout
        assert "* Online: [ node1 node2 node3 ]" in out
        assert "partition with quorum" in out
        stop = subprocess.run([*defib, "cluster", "stop", "--dir", str(directory)],
                              capture_output=True, text=True, timeout=60)
        assert stop.returncode == 0, stop.stderr
        assert all(hosts.host_record(directory, n) is None for n in ("node1", "node2", "node3"))
        # A clean stop is a clean corosync shutdown, not a kill.
        assert "Corosync Cluster Engine exiting normally" in (
            directory / "node3" / "corosync.log").read_text()
    finally:
        subprocess.run([*defib, "cluster", "stop", "--dir", str(directory)],
                       capture_output=True, timeout=60)
        assert leftovers(hosts.tag_of(directory)) == []


def test_cluster_status_finds_the_node_whose_corosync_conf_differs(tmp_path: Path) -> None:
    defib = [sys.executable, "-m", "defib.cli.main", "cluster", "status"]
    with LocalCluster(tmp_path / "agree", 3, links=1, controller=False,
                      stack="corosync") as cluster:
        cluster.start()
        cluster.wait_formed(timeout=30)
        done = subprocess.run([*defib, "--dir", str(cluster.dir)], capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "all 3 members agree" in done.stdout
        for name in ("cluster.toml", "authkey", "corosync.conf", "corosync authkey"):
            assert name in done.stdout
        # node3's administrator edited its copy (not yet applied: corosync runs on).
        conf = cluster.dir / "node3" / "corosync/etc/corosync.conf"
        conf.write_text(conf.read_text().replace("token: 1000", "token: 5000"))
        done = subprocess.run([*defib, "--dir", str(cluster.dir), "--node", "node1"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 1
        assert "corosync.conf: differs on node3" in done.stdout + done.stderr
        assert "authkey: differs" not in done.stdout
