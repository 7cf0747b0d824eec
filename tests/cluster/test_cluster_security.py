"""Packet binding and clock checks of the messaging layer, on real daemons over real sockets."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from defib.cluster.testing import LocalCluster

pytestmark = pytest.mark.cluster


def test_packet_captured_on_its_way_to_one_node_is_refused_by_another(tmp_path: Path) -> None:
    with LocalCluster(tmp_path / "bind", 3, controller=False) as cluster:
        # node2 is not started: an eavesdropper owns its addresses and records what node1
        # sends to it, then replays it to node3 (same link, then the other link).
        taps = []
        for link in range(2):
            tap = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            tap.bind(cluster.cfg.node_by_name("node2").addresses[link])
            tap.settimeout(10)
            taps.append(tap)
        try:
            cluster.start(["node1", "node3"])
            cluster.wait_formed(["node1", "node3"], timeout=10)
            view = cluster.status("node3")["view"]
            captured, source = taps[0].recvfrom(70000)
            while source[0] != cluster.address("node1", 0):  # node3 talks to node2 too
                captured, source = taps[0].recvfrom(70000)
            node3 = cluster.cfg.node_by_name("node3")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
                out.bind((cluster.address("node2", 0), 0))
                for link in range(2):
                    out.sendto(captured, node3.addresses[link])
        finally:
            for tap in taps:
                tap.close()

        def refused() -> bool:
            return cluster.client("node3").stats()["packets"].get("rx_misdirected", 0) >= 2

        cluster.wait_for("node3 to refuse both replays", refused, timeout=5)
        assert cluster.status("node3")["view"] == view


def _offset_of(cluster: LocalCluster, observer: str, name: str) -> float | None:
    for node in cluster.status(observer)["nodes"]:
        if node["name"] == name:
            value = node["clock_offset_ms"]
            return None if value is None else float(value)
    raise AssertionError(name)


def test_clock_offsets_are_measured_and_a_node_too_far_off_is_refused_and_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEFIB_DEBUG_OPS", "1")
    with LocalCluster(tmp_path / "skew", 3, links=1, controller=False) as cluster:
        cluster.start(["node1", "node2"])
        cluster.wait_formed(["node1", "node2"], timeout=10)
        # node3 runs 2 s ahead: within max_clock_offset, it joins and the offset is shown.
        monkeypatch.setenv("DEFIB_DEBUG_CLOCK_OFFSET", "2.0")
        cluster.start(["node3"])
        cluster.wait_formed(timeout=10)
        offset = _offset_of(cluster, "node1", "node3")
        assert offset is not None and 1900 < offset <= 2000
        back = _offset_of(cluster, "node3", "node2")
        assert back is not None and -2100 < back < -1900
        assert _offset_of(cluster, "node1", "node1") == 0.0

        # 60 s ahead: its packets are refused, and the log says that the clock is why.
        cluster.stop(["node3"])
        monkeypatch.setenv("DEFIB_DEBUG_CLOCK_OFFSET", "60")
        cluster.start(["node3"])
        lines = {"node1": "refusing packets from node 3 (node3): its clock is 60.0 s ahead of ours",
                 "node3": "refusing packets from node 1 (node1): its clock is 60.0 s behind ours"}
        cluster.wait_for("the clock lines in the logs",
                         lambda: all(line in cluster.log(n) for n, line in lines.items()),
                         timeout=10)
        st = cluster.status("node1")
        assert [n["name"] for n in st["nodes"] if n["member"]] == ["node1", "node2"]
        far = _offset_of(cluster, "node1", "node3")
        assert far is not None and 59900 < far <= 60000


def test_a_running_node_keeps_its_state_private(tmp_path: Path) -> None:
    old = os.umask(0o002)  # a careless administrator's shell
    try:
        with LocalCluster(tmp_path / "priv", 1) as cluster:
            cluster.start()
            cluster.wait_formed(timeout=10)
            state = cluster.dir / "node1"
            pengine = state / "pengine"
            cluster.wait_for("a saved scheduler input",
                             lambda: any(pengine.glob("pe-input-*.xml")), timeout=20)
            cluster.client("node1").replace_section(
                "resources", '<resources><primitive id="d" class="ocf" provider="heartbeat"'
                ' type="Dummy"><instance_attributes id="d-ia"><nvpair id="d-pw"'
                ' name="password" value="s3cret"/></instance_attributes></primitive></resources>')
            cluster.wait_for("an input holding the password", lambda: any(
                "s3cret" in p.read_text() for p in pengine.glob("pe-input-*.xml")), timeout=20)
            # run/ is the agents' HA_RSCTMP, 0755 as /run/resource-agents: not the node's state.
            every = [p for p in [state, *state.rglob("*")]
                     if p.relative_to(state).parts[:1] != ("run",)]
            names = {p.relative_to(state.parent).as_posix() for p in every}
            assert {"node1/cib.xml", "node1/daemon.log", "node1/cib-backups",
                    "node1/control.sock"} <= names
            assert {str(p): _mode(p) for p in every} == {
                str(p): 0o700 if p.is_dir() else 0o600 for p in every}
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)
