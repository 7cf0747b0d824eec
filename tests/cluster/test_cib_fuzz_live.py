"""The CIB fuzz reaches the DC: mutated CIBs written straight into a live cluster (past the
command line's checks, as a buggy tool would) never crash or stall the controller."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from defib.cluster.testing import LocalCluster
from defib.errors import ClusterError
from defib.testing.cib_mutate import mutate

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
CASES = Path(__file__).resolve().parents[3] / "shared" / "scheduler-cases" / "xml"
INPUTS = 15


def _harmless(xml: bytes) -> str | None:
    """The mutated configuration with every agent a Dummy without parameters (no address,
    file system, fence device or file named by a mutation is touched); None when there is
    no configuration."""
    root = ET.fromstring(xml)
    conf = root.find("configuration")
    if conf is None:
        return None
    for prim in conf.iter("primitive"):
        prim.attrib.update({"class": "ocf", "provider": "heartbeat", "type": "Dummy"})
        for params in prim.findall("instance_attributes"):
            prim.remove(params)
    return ET.tostring(conf, encoding="unicode")


@pytest.mark.skipif(not CASES.is_dir(), reason="needs ../shared/scheduler-cases")
def test_mutated_cibs_imported_into_a_live_cluster_do_not_crash_the_controller(
        tmp_path: Path) -> None:
    rng = random.Random(12)
    cases = sorted(p for p in CASES.glob("*.xml") if p.stat().st_size < 20_000)
    with LocalCluster(tmp_path / "fz", 1, links=1) as cluster:
        cluster.start()
        cluster.wait_formed(timeout=15)
        client = cluster.client("node1")
        pid = cluster.pid("node1")
        imported = refused = 0
        for _ in range(INPUTS):
            conf = _harmless(mutate(rng.choice(cases).read_bytes(), rng, rng.randint(1, 6)))
            if conf is None:
                continue
            runs = client.request("crm_status")["scheduler_runs"]
            try:
                client.replace_section("configuration", conf)
            except ClusterError:
                refused += 1  # refused by the DC with a clean error: fine
                continue
            imported += 1
            # The controller is alive and schedules the new input (or reports why not).
            cluster.wait_for("the controller to run on the new input", lambda before=runs: (
                client.request("crm_status")["scheduler_runs"] > before), timeout=30)
        assert cluster.pid("node1") == pid
        log = cluster.log("node1")
        assert "cycle failure" not in log and "Traceback" not in log, log[-3000:]
        assert imported >= 5, (imported, refused)
        print(f"\n{imported} mutated CIBs scheduled by the live DC, {refused} refused")
