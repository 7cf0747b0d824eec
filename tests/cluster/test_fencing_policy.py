"""Fencing that cannot succeed, on a real local cluster: retries with back-off, a loud
give-up after ``stonith-max-attempts``, a bounded scheduler rate, the reason in
``defib status``, and recovery once a fence device appears."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from defib.controller.harness import ResourceCluster, cib_xml, fence_device, primitive

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

DEFIB = [sys.executable, "-m", "defib.cli.main"]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ResourceCluster]:
    with ResourceCluster(tmp_path / "c", 3) as rc:
        yield rc


def defib_status(directory: Path) -> str:
    env = {**os.environ, "DEFIB_CLUSTER_DIR": str(directory)}
    env.pop("CIB_file", None)
    proc = subprocess.run([*DEFIB, "status"], capture_output=True, text=True, env=env,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def only_dc(cluster: ResourceCluster, dc: str, dummy: str) -> None:
    """Leave a device that can fence the DC alone (pcmk_host_list): a cluster with a device
    schedules fencing (with none at all, Pacemaker schedules none), and no device can fence
    any other node, so fencing one of them fails every time."""
    device = fence_device(params={"pcmk_host_list": dc})
    cluster.replace_section("resources", f"<resources>{device + dummy}</resources>")
    cluster.wait("the restricted device", lambda: "pcmk_host_list" in cluster.cib())


def test_no_fence_device_gives_up_with_bounded_scheduler_runs(cluster: ResourceCluster) -> None:
    dummy = primitive("dummy", "ocf", "Dummy", "heartbeat", monitor="10s")
    props = {"stonith-max-attempts": "4"}
    # Nothing starts without a device (as in Pacemaker): start with one, then remove it.
    cluster.load(cib_xml(fence_device() + dummy, properties=props))
    where, _ = cluster.wait_running("dummy")
    dc = str(cluster.dc_status()["node"])
    victim = where if where != dc else next(n for n in cluster.names if n != dc)
    only_dc(cluster, dc, dummy)
    runs_before = int(cluster.dc_status()["scheduler_runs"])
    cluster.crash(victim)

    def fencing() -> dict[str, object]:
        return dict(cluster.dc_status()["fencing"].get(victim) or {})

    cluster.wait("a first failed attempt", lambda: fencing().get("attempts") == 1, timeout=20)
    text = defib_status(cluster.dir)
    # Attempts 2, 3 and 4 come after 1 s, 2 s and 4 s of back-off, then the DC gives up.
    assert re.search(rf"{victim}: UNCLEAN, waiting for fencing \([123] of 4 attempts failed,"
                     r" next attempt in \d+s\)", text), text
    assert f"no fence device can fence {victim}" in text
    cluster.wait("the give-up", lambda: fencing().get("gave_up") is True, timeout=30)
    assert fencing()["attempts"] == 4
    dc_log = cluster.log(dc)
    assert f"FENCING OF {victim} FAILED 4 times in a row" in dc_log and "GIVING UP" in dc_log
    # No hot loop: the retries ran inside one transition; after the give-up nothing runs
    # until something changes.
    given_up = int(cluster.dc_status()["scheduler_runs"])
    assert given_up - runs_before <= 6, f"{given_up - runs_before} scheduler runs"
    pengine = cluster.dir / dc / "pengine"
    inputs = len(list(pengine.glob("pe-input-*.xml")))
    cluster.wait("a quiet DC", lambda: cluster.dc_status()["in_flight"] == 0, timeout=5)
    settled = int(cluster.dc_status()["scheduler_runs"])
    # A few seconds in which nothing changes: no scheduler run, no new pe-input.
    with pytest.raises(Exception, match="timed out"):
        cluster.wait("any scheduler run",
                     lambda: int(cluster.dc_status()["scheduler_runs"]) > settled, timeout=4)
    assert len(list(pengine.glob("pe-input-*.xml"))) == inputs
    text = defib_status(cluster.dir)
    assert f"{victim}: UNCLEAN, fencing failed: gave up after 4 attempts" in text, text
    assert f"no fence device can fence {victim}" in text
    if where == victim:
        assert cluster.locations()["dummy"] == [victim], "recovered without fencing"
    # A device appears: the node is fenced at once and its failures are forgotten.
    cluster.replace_section("resources", f"<resources>{fence_device() + dummy}</resources>")
    cluster.wait("the victim fenced", lambda: victim in cluster.dc_status()["fenced"],
                 timeout=20)
    cluster.wait("fencing failures cleared", lambda: not cluster.dc_status()["fencing"],
                 timeout=10)
    cluster.wait_running("dummy", not_on={victim}, timeout=20)
    assert "Fencing:" not in defib_status(cluster.dir)


def test_manual_confirmation_ends_a_give_up(cluster: ResourceCluster) -> None:
    dummy = primitive("dummy", "ocf", "Dummy", "heartbeat", monitor="10s")
    cluster.load(cib_xml(fence_device() + dummy, properties={"stonith-max-attempts": "1"}))
    cluster.wait_running("dummy")
    dc = str(cluster.dc_status()["node"])
    victim = next(n for n in cluster.names if n != dc)
    only_dc(cluster, dc, dummy)
    cluster.crash(victim)
    cluster.wait("the give-up", lambda: (cluster.dc_status()["fencing"].get(victim) or {})
                 .get("gave_up") is True, timeout=20)
    env = {**os.environ, "DEFIB_CLUSTER_DIR": str(cluster.dir)}
    env.pop("CIB_file", None)
    alive = next(n for n in cluster.names if n not in (dc, victim))
    member = subprocess.run([*DEFIB, "node", "fence", alive, "--confirm"],
                            capture_output=True, text=True, env=env, timeout=60, check=False)
    assert member.returncode != 0 and "is a member of the cluster" in member.stderr
    done = subprocess.run([*DEFIB, "node", "fence", victim, "--confirm"], capture_output=True,
                          text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{victim} confirmed down" in done.stdout
    assert victim in cluster.dc_status()["fenced"]
    cluster.wait("fencing failures cleared", lambda: not cluster.dc_status()["fencing"])
    text = defib_status(cluster.dir)
    assert "Fencing:" not in text and f"Node {victim}: UNCLEAN" not in text, text
