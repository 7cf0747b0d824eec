"""Packet binding and clock checks of the messaging layer, on real daemons over real sockets."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from defib.cluster import local
from defib.cluster.config import render_config
from defib.cluster.testing import LocalCluster
from defib.errors import ClusterError

pytestmark = pytest.mark.cluster


def test_packet_captured_on_its_way_to_one_node_is_refused_by_another(tmp_path: Path) -> None:
    # The eavesdropper binds node2's addresses on this machine: process nodes (a host's
    # addresses exist in its own network namespace only).
    with LocalCluster(tmp_path / "bind", 3, controller=False, hosts=False) as cluster:
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
        # What `defib cluster start` says when it waits for the membership in vain.
        with pytest.raises(ClusterError, match="node3's clock is 60.0 s ahead of node1's"):
            local.wait_formed(cluster.dir, cluster.names, timeout=2)
        # The others' status shows the offsets and why node3 is out (text and JSON).
        text = _cli(cluster, "status", "--brief", "--node", "node1")
        assert "REFUSED: node3: its clock is 60.0 s ahead of node1's, more than" \
            " max_clock_offset = 30 s" in text.stdout, text.stdout
        assert "Clock offsets from node1 (heartbeats): node2 " in text.stdout
        data = json.loads(_cli(cluster, "status", "--brief", "--json", "--node", "node2").stdout)
        assert data["max_clock_offset_ms"] == 30000.0
        assert 59900 < _node_of(data, "node3")["clock_offset_ms"] <= 60000
        # Started alone, the node must join the running ones: the command fails and says why.
        cluster.stop(["node3"])
        started = _cli(cluster, "cluster", "start", "--node", "node3")
        assert started.returncode != 0
        assert "node3's clock is 60.0 s ahead of node1's" in started.stderr, started.stderr
        assert "Traceback" not in started.stderr


def _cli(cluster: LocalCluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "defib.cli.main", *args, "--dir",
                           str(cluster.dir)], capture_output=True, text=True, timeout=60)


def _node_of(status: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(next(n for n in status["nodes"] if n["name"] == name))


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


CLIENT = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile()
for line in sys.stdin:
    s.sendall(line.encode())
    print(f.readline(), end="", flush=True)
"""
ACLS = """<acls><acl_target id="nobody"><role id="operator"/></acl_target>
<acl_role id="operator"><acl_permission id="o1" kind="read" xpath="/cib"/>
<acl_permission id="o2" kind="deny" xpath="//nvpair[@name='password']"/>
<acl_permission id="o3" kind="write" xpath="//meta_attributes/nvpair[@name='target-role']"/>
</acl_role></acls>"""
WEB = """<resources><primitive id="web" class="ocf" provider="heartbeat" type="Dummy">
<instance_attributes id="web-ia"><nvpair id="web-pw" name="password" value="{pw}"/>
</instance_attributes><meta_attributes id="web-meta">
<nvpair id="web-role" name="target-role" value="{role}"/></meta_attributes></primitive>
</resources>"""


def _as_nobody(sock: Path, requests: list[dict[str, object]]) -> list[dict[str, Any]]:
    done = subprocess.run(["/usr/bin/python3", "-c", CLIENT, str(sock)], user=65534,
                          group=65534, extra_groups=[], capture_output=True, text=True,
                          timeout=30, check=True,
                          input="".join(json.dumps(r) + "\n" for r in requests))
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.skipif(os.geteuid() != 0, reason="runs a client as user nobody")
def test_acl_user_on_a_real_daemon(tmp_path: Path) -> None:
    directory = Path(tempfile.mkdtemp(prefix="defib-acl-"))
    directory.chmod(0o755)  # pytest's own directory is private to root
    try:
        with LocalCluster(directory / "c", 1, controller=False) as cluster:
            cfg = dataclasses.replace(cluster.cfg, acl_users=True)
            (cluster.dir / "cluster.toml").write_text(render_config(cfg))
            cluster.dir.chmod(0o755)
            cluster.start()
            cluster.wait_formed(timeout=10)
            client = cluster.client("node1")
            root = ET.fromstring(client.get_cib()["xml"])
            configuration = root.find("configuration")
            assert configuration is not None
            crm = configuration.find("crm_config")
            if crm is None:
                crm = ET.SubElement(configuration, "crm_config")
            crm.append(ET.fromstring('<cluster_property_set id="acl-opts"><nvpair id="ea"'
                                     ' name="enable-acl" value="true"/></cluster_property_set>'))
            old = configuration.find("resources")
            if old is not None:
                configuration.remove(old)
            configuration.append(ET.fromstring(WEB.format(pw="s3cret", role="Started")))
            configuration.append(ET.fromstring(ACLS))
            client.replace_section("configuration", ET.tostring(configuration, "unicode"))

            state = cluster.dir / "node1"
            assert _mode(state) == 0o711 and _mode(state / "control.sock") == 0o666
            assert _mode(state / "cib.xml") == 0o600

            def change(pw: str, role: str) -> dict[str, object]:
                return {"op": "cib_change", "change": {
                    "op": "replace_section", "section": "resources",
                    "xml": WEB.format(pw=pw, role=role)}}

            status, cib, denied, allowed, shutdown = _as_nobody(state / "control.sock", [
                {"op": "status"}, {"op": "get_cib"}, change("stolen", "Started"),
                change("s3cret", "Stopped"), {"op": "shutdown"}])
            assert status["ok"] and status["node"]["name"] == "node1"
            assert cib["ok"] and "s3cret" not in cib["xml"] and "web-role" in cib["xml"]
            assert denied["ok"] is False and "web-pw" in denied["error"]
            assert allowed["ok"] is True, allowed
            assert shutdown["ok"] is False
            xml = client.get_cib()["xml"]
            assert 'value="Stopped"' in xml and "s3cret" in xml and "stolen" not in xml
            log = cluster.log("node1")
            assert "refused 'cib_change' for user nobody (uid 65534" in log
            assert "refused 'shutdown' for user nobody (uid 65534" in log
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_lab_fault_clock_off_shifts_a_running_node_out_and_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from defib.lab.faults import clock_off

    monkeypatch.setenv("DEFIB_DEBUG_OPS", "1")
    with LocalCluster(tmp_path / "off", 3, links=1, controller=False) as cluster:
        cluster.start()
        cluster.wait_formed(timeout=15)
        clock_off(cluster.dir, "node3", 45.0)
        cluster.wait_for("node3 refused by the others", lambda: [
            n["name"] for n in cluster.status("node1")["nodes"] if n["member"]]
            == ["node1", "node2"], timeout=20)
        text = _cli(cluster, "status", "--brief", "--node", "node2").stdout
        assert "REFUSED: node3: its clock is 45.0 s ahead of node2's" in text, text
        clock_off(cluster.dir, "node3", 0.0)
        cluster.wait_formed(timeout=20)
        # The offset is the largest of the recent samples: the old ones age out in seconds.
        cluster.wait_for("no clock refused", lambda: "REFUSED" not in _cli(
            cluster, "status", "--brief", "--node", "node2").stdout, timeout=20)
