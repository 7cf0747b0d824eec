"""CIB replication and durability on real daemons."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from defib.cluster.cibstore import verify
from defib.cluster.testing import LocalCluster
from defib.errors import ClusterError
from tests.cluster.stacks import STACKS

pytestmark = pytest.mark.cluster

RESOURCES = (
    '<resources><primitive id="web" class="ocf" provider="heartbeat" type="Dummy"/>'
    "</resources>"
)


def cib_of(cluster: LocalCluster, name: str) -> dict:
    return cluster.client(name).get_cib()


@pytest.mark.parametrize("stack", STACKS)
def test_change_on_one_node_is_visible_on_all_and_survives_dc_crash(tmp_path: Path,
                                                                   stack: str) -> None:
    with LocalCluster(tmp_path / "repl", 3, controller=False, stack=stack) as cluster:
        cluster.start()
        cluster.wait_formed(timeout=10)
        # Through a non-DC node; the answer comes only once every member acked.
        result = cluster.client("node3").replace_section("resources", RESOURCES)
        assert result["version"] == [0, 1, 0] and result["acked_by"] == [1, 2, 3]
        # The DC dies right after the acknowledgement.
        cluster.kill("node1")
        for name in ("node2", "node3"):
            cib = cib_of(cluster, name)
            assert cib["version"] == [0, 1, 0] and 'id="web"' in cib["xml"]
            on_disk = verify((cluster.dir / name / "cib.xml").read_bytes())
            assert on_disk.version == (0, 1, 0)
        cluster.wait_for("node2 as DC", lambda: cluster.status("node3")["dc"]["name"] == "node2",
                         timeout=3)
        status = '<node_state id="3" uname="node3" in_ccm="true" crmd="online"/>'
        result = cluster.client("node3").patch_status(status)
        assert result["version"] == [0, 1, 1] and result["acked_by"] == [2, 3]
        # The old DC comes back with an older copy and converges on the newest.
        cluster.start(["node1"])
        cluster.wait_formed(timeout=10)
        cluster.wait_for("node1 catches up", lambda: cib_of(cluster, "node1")["version"]
                         == [0, 1, 1], timeout=5)
        digests = {cib_of(cluster, n)["digest"] for n in cluster.names}
        assert len(digests) == 1


@pytest.mark.parametrize("stack", STACKS)
def test_replace_whole_cib_and_invalid_change_refused_events_streamed(tmp_path: Path,
                                                                      stack: str) -> None:
    with LocalCluster(tmp_path / "repl2", 3, links=1, controller=False,
                      stack=stack) as cluster:
        cluster.start()
        cluster.wait_formed(timeout=10)
        events = cluster.client("node1").events(timeout=5)
        assert next(events)["event"] == "subscribed"
        cib = ET.fromstring(cib_of(cluster, "node2")["xml"])
        cib.set("epoch", "41")
        cib.find("configuration/crm_config").append(ET.fromstring(
            '<cluster_property_set id="opts"><nvpair id="o1" name="stonith-enabled"'
            ' value="false"/></cluster_property_set>'))
        result = cluster.client("node2").replace_cib(ET.tostring(cib, encoding="unicode"))
        assert result["version"] == [0, 42, 0]
        event = next(events)
        assert event["event"] == "cib" and event["version"] == [0, 42, 0]
        assert event["node"] == "node1"
        for name in cluster.names:
            assert 'name="stonith-enabled"' in cib_of(cluster, name)["xml"]
        with pytest.raises(ClusterError, match="DC refused"):
            cluster.client("node3").replace_section("resources", "<resources><oops")
        assert {cib_of(cluster, n)["version"][1] for n in cluster.names} == {42}


@pytest.mark.parametrize("stack", STACKS)
def test_corrupt_cib_file_detected_and_newest_copy_used(tmp_path: Path, stack: str) -> None:
    with LocalCluster(tmp_path / "corrupt", 3, links=1, controller=False,
                      stack=stack) as cluster:
        cluster.start()
        cluster.wait_formed(timeout=10)
        for i in range(3):
            cluster.client("node1").patch_status(f'<node_state id="1" uname="node1" n="{i}"/>')
        cluster.stop(["node2"])
        path = cluster.dir / "node2" / "cib.xml"
        path.write_bytes(path.read_bytes()[:-40])  # truncated
        cluster.client("node1").replace_section("resources", RESOURCES)
        cluster.start(["node2"])
        cluster.wait_formed(timeout=10)
        log = cluster.log("node2")
        assert "CORRUPT CIB COPY" in log and "checksum trailer missing" in log
        assert "USING BACKUP" in log
        cluster.wait_for("node2 converges", lambda: cib_of(cluster, "node2")["version"]
                         == [0, 1, 0], timeout=5)
        assert verify(path.read_bytes()).version == (0, 1, 0)
        assert list((cluster.dir / "node2").glob("cib.xml.corrupt-*"))


@pytest.mark.parametrize("stack", STACKS)
def test_large_cib_travels_in_fragments(tmp_path: Path, stack: str) -> None:
    primitives = "".join(
        f'<primitive id="r{i}" class="ocf" provider="heartbeat" type="Dummy">'
        f'<instance_attributes id="r{i}-ia"><nvpair id="r{i}-s" name="state"'
        f' value="{os.urandom(16).hex()}"/></instance_attributes></primitive>'
        for i in range(3000)
    )
    with LocalCluster(tmp_path / "big", 3, links=1, controller=False, stack=stack) as cluster:
        cluster.start()
        cluster.wait_formed(timeout=10)
        result = cluster.client("node2").replace_section(
            "resources", f"<resources>{primitives}</resources>")
        assert result["acked_by"] == [1, 2, 3]
        cibs = [cib_of(cluster, n) for n in cluster.names]
        assert len({c["digest"] for c in cibs}) == 1 and len(cibs[0]["xml"]) > 500_000
        assert cibs[0]["xml"].count("<primitive ") == 3000
