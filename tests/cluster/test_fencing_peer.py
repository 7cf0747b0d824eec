"""Fencing from a peer on real daemons: the DC has no access to the fence device (a
location constraint keeps the device off it, as a node without a cable to the power
switch), so it asks a member that has it; the crashed node is fenced, then recovered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from defib.controller.harness import ResourceCluster, cib_xml, fence_device, primitive

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ResourceCluster]:
    with ResourceCluster(tmp_path / "c", 3) as rc:
        yield rc


def test_a_peer_with_the_device_fences_for_the_dc(cluster: ResourceCluster) -> None:
    dc = str(cluster.dc_status()["node"])
    victim, peer = [n for n in cluster.names if n != dc]
    constraints = (f'<rsc_location id="no-cable" rsc="fence-local" node="{dc}"'
                   ' score="-INFINITY"/>'
                   f'<rsc_location id="d-there" rsc="d" node="{victim}" score="100"/>')
    cluster.load(cib_xml(fence_device() + primitive("d", "ocf", "Dummy", "heartbeat",
                                                    monitor="10s"), constraints))
    where, _ = cluster.wait_running("d")
    assert where == victim
    cluster.crash(victim)
    second, _ = cluster.wait_running("d", not_on={victim}, timeout=20)
    assert second in (dc, peer)
    status = cluster.dc_status()
    assert status["node"] == dc and victim in status["fenced"], status
    dc_log, peer_log = cluster.log(dc), cluster.log(peer)
    assert f"asking {peer} to fence {victim}" in dc_log
    assert f"fencing for the DC: reboot of {victim} by fence-local succeeded" in peer_log
    # Recorded as fenced by the DC before the resource was started again.
    assert dc_log.index(f"fenced {victim}") < dc_log.index(f"d_start_0 on {second}")
