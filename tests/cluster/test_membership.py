"""Membership, failure detection and quorum on real daemons over real UDP sockets."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from defib.cluster.auth import PacketCodec, load_key
from defib.cluster.config import QuorumOptions
from defib.cluster.heartbeat import encode
from defib.cluster.testing import LocalCluster, netns_available
from defib.errors import ClusterError
from defib.fencing.local_agent import power_off_node
from tests.cluster.stacks import STACKS

pytestmark = pytest.mark.cluster
ROOT = Path(__file__).resolve().parents[2]


def members(status: dict) -> list[str]:
    return [n["name"] for n in status["nodes"] if n["member"]]


def agree(cluster: LocalCluster, names: list[str], expected: list[str]) -> bool:
    sts = cluster.statuses(names)
    views = {s["view"] for s in sts.values()}
    return (len(views) == 1 and all(s["agreed"] for s in sts.values())
            and all(members(s) == expected for s in sts.values()))


@pytest.mark.parametrize("stack", STACKS)
def test_three_nodes_form_one_membership_and_status_shows_it(tmp_path: Path, stack: str) -> None:
    with LocalCluster(tmp_path / "c3", 3, stack=stack) as cluster:
        cluster.start()
        sts = cluster.wait_formed(timeout=10)
        assert {s["view"] for s in sts.values()} == {sts["node1"]["view"]}
        for s in sts.values():
            assert members(s) == ["node1", "node2", "node3"]
            assert s["dc"]["name"] == "node1"
            assert s["quorum"]["quorate"] and s["quorum"]["total_votes"] == 3
        out = subprocess.run(
            [sys.executable, "-m", "defib.cli.main", "status", "--dir", str(cluster.dir),
             "--node", "node3"], capture_output=True, text=True, check=True, cwd=ROOT,
        ).stdout
        assert "Cluster Summary:" in out
        assert "* Current DC: node1 (1) - partition with quorum" in out
        assert "* Online: [ node1 node2 node3 ]" in out
        env = (Path(f"/proc/{cluster.pid('node2')}/environ").read_bytes().split(b"\0"))
        assert f"DEFIB_LOCAL_NODE={cluster.dir}:node2".encode() in env


@pytest.mark.parametrize("stack", STACKS)
def test_five_nodes_kill9_detected_survivors_agree_and_rejoin(tmp_path: Path, stack: str) -> None:
    with LocalCluster(tmp_path / "c5", 5, controller=False, stack=stack) as cluster:
        cluster.start()
        cluster.wait_formed(timeout=10)
        survivors = ["node1", "node2", "node4", "node5"]
        killed = cluster.kill("node3")
        cluster.wait_for("survivors to agree without node3",
                         lambda: agree(cluster, survivors, survivors), timeout=3)
        detected = time.monotonic() - killed
        assert detected < 1.0, f"kill -9 took {detected:.3f}s to be agreed on"
        st = cluster.status("node5")
        # Corosync's votes are its nodes': node3's host and corosync are still up.
        assert st["quorum"]["quorate"]
        assert st["quorum"]["total_votes"] == (4 if stack == "heartbeat" else 5)
        if stack == "heartbeat":
            assert "node 3 unreachable: link0: port refused" in cluster.log("node1")

        # The DC dies too: the next lowest id takes over, quorum (3 of 5) holds.
        cluster.kill("node1")
        rest = ["node2", "node4", "node5"]
        cluster.wait_for("three survivors", lambda: agree(cluster, rest, rest), timeout=3)
        st = cluster.status("node4")
        assert st["dc"]["name"] == "node2" and st["quorum"]["quorate"]

        cluster.start(["node1", "node3"])
        cluster.wait_formed(timeout=10)
        assert cluster.status("node3")["dc"]["name"] == "node1"


def test_a_frozen_node_is_declared_lost_by_silence_within_a_second(tmp_path: Path) -> None:
    # SIGSTOP: the process keeps its sockets, nothing refuses our packets; only the silence
    # rule (dead_time) can find it out, as after a power loss or a cut cable.
    with LocalCluster(tmp_path / "frz", 3, controller=False) as cluster:
        cluster.start()
        cluster.wait_formed(timeout=10)
        assert cluster.cfg.timing.dead_time <= 0.7
        # The coordinator: its loss also moves the coordination. (Its daemon: on hosts,
        # ``pid`` is the host's power supply.)
        pid = cluster.daemon_pid("node1")
        os.kill(pid, signal.SIGSTOP)
        frozen = time.monotonic()
        try:
            survivors = ["node2", "node3"]
            cluster.wait_for("survivors to agree without node1",
                             lambda: agree(cluster, survivors, survivors), timeout=5)
            lost = time.monotonic() - frozen
        finally:
            os.kill(pid, signal.SIGCONT)
        # The bench measures ~0.7 s (bench.detection --freeze); the margin is for the load
        # of a shared test machine.
        assert lost < 1.5, f"a frozen node took {lost:.3f}s to be agreed lost"
        assert "node 1 unreachable: link0: silent for" in cluster.log("node2")
        cluster.wait_formed(timeout=10)


@pytest.mark.parametrize("stack", STACKS)
def test_two_node_with_wait_for_all(tmp_path: Path, stack: str) -> None:
    options = QuorumOptions(two_node=True)  # implies wait_for_all
    with LocalCluster(tmp_path / "c2", 2, quorum=options, controller=False,
                      stack=stack) as cluster:
        cluster.start(["node1"])
        time.sleep(0.6)
        st = cluster.status("node1")
        assert members(st) == ["node1"]
        assert not st["quorum"]["quorate"] and st["quorum"]["wait_for_all_pending"]
        cluster.start(["node2"])
        cluster.wait_formed(timeout=10)
        assert all(s["quorum"]["quorate"] for s in cluster.statuses(["node1", "node2"]).values())
        if stack == "corosync":  # the whole host: its corosync's vote goes too
            assert power_off_node(str(cluster.dir), "node2", 5.0)[0]
        else:
            cluster.kill("node2")
        cluster.wait_for("node1 alone", lambda: members(cluster.status("node1")) == ["node1"],
                         timeout=3)
        st = cluster.status("node1")
        assert st["quorum"]["quorate"], "two_node: the survivor keeps quorum"
        # A fresh start of one node alone must wait for all again.
        cluster.stop(["node1"])
        cluster.start(["node1"])
        time.sleep(0.6)
        st = cluster.status("node1")
        assert not st["quorum"]["quorate"] and st["quorum"]["wait_for_all_pending"]


def _send(packet: bytes, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.12", 0))
        sock.sendto(packet, ("127.0.0.11", port))


def test_wrong_key_forged_replayed_and_unknown_packets_are_dropped_and_counted(
    tmp_path: Path,
) -> None:
    # Forged packets are sent from this machine to the nodes' loopback addresses: process
    # nodes (hosts are reachable on their bridge only).
    with LocalCluster(tmp_path / "sec", 3, encrypt=True, controller=False,
                      hosts=False) as cluster:
        cluster.start()
        sts = cluster.wait_formed(timeout=10)
        view = sts["node1"]["view"]
        port = cluster.cfg.nodes[0].addresses[0][1]
        key = load_key(cluster.cfg.key_file)
        known = {1, 2, 3, 99}
        # Bodies without an incarnation: even the genuine one is only counted, never acted on.
        body = encode({"t": "noop"})
        _send(PacketCodec(os.urandom(64), 2, known, encrypt=True).seal(body, 1, 0), port)
        good = PacketCodec(key, 2, known, encrypt=True).seal(body, 1, 0)
        forged = bytearray(good)
        forged[30] ^= 1
        _send(bytes(forged), port)
        _send(PacketCodec(key, 99, known, encrypt=True).seal(body, 1, 0), port)
        stale = PacketCodec(key, 2, known, encrypt=True, clock=lambda: time.time() - 3600)
        _send(stale.seal(body, 1, 0), port)
        # A captured heartbeat replayed: the daemon already accepted it, the copy is refused.
        _send(good, port)
        _send(good, port)
        def counted() -> bool:
            packets = cluster.client("node1").stats()["packets"]
            return (packets.get("rx_bad_auth", 0) >= 2 and packets.get("rx_unknown_sender", 0) >= 1
                    and packets.get("rx_stale", 0) >= 1 and packets.get("rx_replayed", 0) >= 1)

        cluster.wait_for("drop counters", counted, timeout=3)
        time.sleep(0.3)
        assert all(s["view"] == view for s in cluster.statuses(cluster.names).values())


@pytest.mark.parametrize("stack", STACKS)
def test_key_file_readable_by_others_is_refused(tmp_path: Path, stack: str) -> None:
    with LocalCluster(tmp_path / "perm", 1, controller=False, stack=stack) as cluster:
        assert (cluster.cfg.key_file.stat().st_mode & 0o777) == 0o600
        cluster.cfg.key_file.chmod(0o644)
        with pytest.raises(ClusterError, match="accessible by group/others"):
            cluster.start()


netns = pytest.mark.skipif(not netns_available(), reason="needs root and `ip netns`")


@netns
def test_redundant_link_and_partition_majority_quorate_minority_not_then_heal(
    tmp_path: Path,
) -> None:
    with LocalCluster(tmp_path / "part", 5, netns=True, controller=False) as cluster:
        cluster.start()
        cluster.wait_formed(timeout=10)
        view = cluster.status("node1")["view"]

        # Link 0 cut everywhere: link 1 carries the heartbeats, nobody is lost.
        cluster.block(cluster.names, cluster.names, links=[0])
        time.sleep(cluster.cfg.timing.dead_time + 0.5)
        st = cluster.status("node1")
        assert st["view"] == view and len(members(st)) == 5
        assert all(n["links"] == [False, True] for n in st["nodes"] if n["name"] != "node1")
        cluster.heal()

        majority, minority = ["node1", "node2", "node3"], ["node4", "node5"]
        cluster.block(majority, minority)
        cluster.wait_for("majority view", lambda: agree(cluster, majority, majority), timeout=8)
        cluster.wait_for("minority view", lambda: agree(cluster, minority, minority), timeout=8)
        for name in majority:
            st = cluster.status(name)
            assert st["quorum"]["quorate"] and st["dc"]["name"] == "node1"
        for name in minority:
            st = cluster.status(name)
            assert not st["quorum"]["quorate"] and st["dc"]["name"] == "node4"

        # Both sides change the CIB; the majority's configuration change (epoch) wins.
        cluster.client("node2").replace_section(
            "resources", '<resources><primitive id="big" class="ocf" provider="heartbeat"'
            ' type="Dummy"/></resources>')
        cluster.client("node5").patch_status('<node_state id="5" uname="node5" in_ccm="true"/>')

        cluster.heal()
        cluster.wait_formed(timeout=8)
        cibs = {n: cluster.client(n).get_cib() for n in cluster.names}
        assert len({c["digest"] for c in cibs.values()}) == 1
        assert cibs["node4"]["version"] == [0, 1, 0]
        assert 'id="big"' in cibs["node5"]["xml"]
        assert all(s["quorum"]["quorate"] for s in cluster.statuses(cluster.names).values())

        # Asymmetric failure: node2 stops hearing node3 (node3 still hears everyone).
        # The coordinator drops node3 for everybody, node3 knows it is out.
        cluster.block(["node3"], ["node2"], both_ways=False)
        rest = ["node1", "node2", "node4", "node5"]
        cluster.wait_for("node3 dropped everywhere", lambda: agree(cluster, rest, rest), timeout=8)
        st = cluster.status("node3")
        assert members(st) == ["node3"] and not st["quorum"]["quorate"]
        cluster.heal()
        cluster.wait_formed(timeout=8)


def test_busy_event_loop_is_not_read_as_a_dead_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEFIB_DEBUG_OPS", "1")
    with LocalCluster(tmp_path / "busy", 3, links=1, controller=False) as cluster:
        cluster.start()
        cluster.wait_formed(timeout=10)
        view = cluster.status("node1")["view"]
        stall = cluster.cfg.timing.dead_time + 1.0
        # node2's loop is blocked (as by a long computation) for longer than dead_time.
        cluster.client("node2").request("debug_stall", seconds=stall)
        stats = cluster.client("node2").stats()
        assert stats["keeper_heartbeats"] > 0 and stats["loop_stalls"] >= 1
        assert all(s["view"] == view for s in cluster.statuses(cluster.names).values())
        assert "unreachable" not in cluster.log("node1") + cluster.log("node3")
