"""Failover on real daemons, real agents and real fencing (local 3-node clusters).

A node crash is a power cut: SIGKILL of every process of the node. The Recorder agent logs
every start and stop; with the DC's fencing times it proves that no resource ever ran on
two nodes at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from defib.controller.harness import (
    ResourceCluster,
    cib_xml,
    fence_device,
    overlaps,
    primitive,
)
from tests.cluster.stacks import STACKS

# Every test runs on defib's own layer and on Corosync (each node a host running corosync:
# a crash is the host's power cut, corosync included).


@pytest.fixture(params=STACKS)
def cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ResourceCluster]:
    with ResourceCluster(tmp_path / "c", 3, stack=request.param) as rc:
        yield rc


def recorder(log: Path, rsc: str = "rec", meta: dict[str, str] | None = None) -> str:
    return primitive(rsc, "ocf", "Recorder", "defib", {"log": str(log)}, meta, monitor="1s")


def fenced_times(rc: ResourceCluster) -> dict[str, list[float]]:
    return {k: list(v) for k, v in rc.dc_status()["fenced"].items()}


def test_crash_is_fenced_then_recovered_elsewhere(cluster: ResourceCluster,
                                                  tmp_path: Path) -> None:
    log = tmp_path / "activations.log"
    cluster.load(cib_xml(fence_device() + recorder(log)))
    first, _ = cluster.wait_running("rec")
    crashed_at = cluster.crash(first)
    second, _ = cluster.wait_running("rec", not_on={first}, timeout=15)
    failover = time.monotonic() - crashed_at
    assert second != first
    status = cluster.dc_status()
    assert first in status["fenced"], status
    # The DC fenced before it recovered: its log orders the two.
    dc_log = cluster.log(status["node"])
    assert dc_log.index(f"fenced {first}") < dc_log.index(f"rec_start_0 on {second}")
    assert failover < 5.0, f"failover took {failover:.2f}s"
    assert overlaps(log.read_text(), fenced_times(cluster)) == []
    # The pe-input series holds what the scheduler ran on.
    pengine = cluster.dir / status["node"] / "pengine"
    assert list(pengine.glob("pe-input-*.xml")) and list(pengine.glob("pe-graph-*.xml"))


def test_monitor_failure_restarts_then_threshold_moves(cluster: ResourceCluster,
                                                       tmp_path: Path) -> None:
    log = tmp_path / "activations.log"
    cluster.load(cib_xml(fence_device() + recorder(log, meta={"migration-threshold": "2"})))
    home, _ = cluster.wait_running("rec")
    state = cluster.dir / home / "run" / "Recorder-rec.state"

    def break_it() -> None:
        # The resource dies behind the cluster's back; its end goes into the log.
        state.unlink()
        with log.open("a") as f:
            f.write(f"stop {time.time():.9f} {home} rec\n")

    def fail_count() -> str | None:
        return cluster.attributes().get(home, {}).get("fail-count-rec#monitor_1000")

    break_it()
    cluster.wait("fail count 1", lambda: fail_count() == "1", timeout=10)
    cluster.wait("restart in place", lambda: state.exists(), timeout=10)
    assert cluster.wait_running("rec")[0] == home
    break_it()
    cluster.wait("fail count 2", lambda: fail_count() == "2", timeout=10)
    other, _ = cluster.wait_running("rec", not_on={home}, timeout=10)
    assert other != home
    assert overlaps(log.read_text(), {}) == []
    starts = [ln.split()[2] for ln in log.read_text().splitlines() if ln.startswith("start")]
    assert starts == [home, home, other]
    cluster.cleanup("rec")
    cluster.wait("fail count cleared", lambda: fail_count() is None, timeout=10)


def test_fencing_failure_blocks_recovery_until_fencing_works(cluster: ResourceCluster,
                                                            tmp_path: Path) -> None:
    log = tmp_path / "activations.log"
    broken = fence_device("fence-broken", "fence_defib_local",
                          {"cluster_dir": str(tmp_path / "no-such-cluster"),
                           "pcmk_off_action": "no-such-action",
                           "pcmk_reboot_action": "no-such-action"})
    cluster.load(cib_xml(broken + recorder(log)))
    first, _ = cluster.wait_running("rec")
    cluster.crash(first)
    cluster.wait("fencing failure reported",
                 lambda: first in cluster.dc_status()["fence_failures"], timeout=10)
    time.sleep(2.0)
    assert cluster.locations()["rec"] == [first], "recovered without fencing"
    reason = cluster.dc_status()["fence_failures"][first]
    assert "no-such-action" in reason
    assert "FENCING OF " + first + " FAILED" in cluster.log(cluster.dc_status()["node"])
    # A working device: the retry fences and recovery follows.
    cluster.replace_section("resources",
                            f"<resources>{fence_device() + recorder(log)}</resources>")
    second, _ = cluster.wait_running("rec", not_on={first}, timeout=15)
    assert first in cluster.dc_status()["fenced"]
    assert overlaps(log.read_text(), fenced_times(cluster)) == []
    assert second != first


def test_dc_crash_new_dc_fences_and_recovers(cluster: ResourceCluster, tmp_path: Path) -> None:
    log = tmp_path / "activations.log"
    prefer = '<rsc_location id="rec-on-dc" rsc="rec" node="node1" score="100"/>'
    cluster.load(cib_xml(fence_device() + recorder(log), prefer))
    cluster.wait("rec on node1", lambda: cluster.locations()["rec"] == ["node1"], timeout=20)
    assert cluster.dc_status()["node"] == "node1"
    cluster.crash("node1")
    second, _ = cluster.wait_running("rec", not_on={"node1"}, timeout=15)
    status = cluster.dc_status()
    assert status["node"] == "node2" and "node1" in status["fenced"]
    assert overlaps(log.read_text(), fenced_times(cluster)) == []
    assert second in ("node2", "node3")


def test_fencing_topology_falls_back_to_the_next_level(cluster: ResourceCluster,
                                                      tmp_path: Path) -> None:
    log = tmp_path / "activations.log"
    broken = fence_device("fence-broken", "fence_defib_local",
                          {"pcmk_reboot_action": "no-such-action"})
    levels = "".join(
        f'<fencing-level id="fl-{n}-{i}" target="{n}" index="{i}" devices="{dev}"/>'
        for n in ("node1", "node2", "node3")
        for i, dev in ((1, "fence-broken"), (2, "fence-local")))
    cib = cib_xml(broken + fence_device() + recorder(log)).replace(
        "</constraints>", f"</constraints><fencing-topology>{levels}</fencing-topology>")
    cluster.load(cib)
    first, _ = cluster.wait_running("rec")
    cluster.crash(first)
    second, _ = cluster.wait_running("rec", not_on={first}, timeout=15)
    status = cluster.dc_status()
    assert first in status["fenced"] and second != first
    assert f"reboot of {first} by fence-local (level 2) succeeded" in cluster.log(status["node"])
    assert overlaps(log.read_text(), fenced_times(cluster)) == []


def test_failure_timeout_lets_the_resource_come_back(cluster: ResourceCluster,
                                                     tmp_path: Path) -> None:
    log = tmp_path / "activations.log"
    meta = {"migration-threshold": "1", "failure-timeout": "3s"}
    cluster.load(cib_xml(fence_device() + recorder(log, meta=meta),
                         '<rsc_location id="rec-home" rsc="rec" node="node2" score="100"/>'))
    cluster.wait("rec on node2", lambda: cluster.locations()["rec"] == ["node2"], timeout=20)
    state = cluster.dir / "node2" / "run" / "Recorder-rec.state"
    state.unlink()  # the resource dies behind the cluster's back
    with log.open("a") as f:
        f.write(f"stop {time.time():.9f} node2 rec\n")
    other, _ = cluster.wait_running("rec", not_on={"node2"}, timeout=10)
    failed_at = time.monotonic()
    # Nothing else happens: only the expiry of the failure brings it home again.
    cluster.wait("rec back on node2", lambda: cluster.locations()["rec"] == ["node2"],
                 timeout=15)
    assert time.monotonic() - failed_at > 1.5
    assert overlaps(log.read_text(), {}) == []
    starts = [ln.split()[2] for ln in log.read_text().splitlines() if ln.startswith("start")]
    assert starts == ["node2", other, "node2"]
