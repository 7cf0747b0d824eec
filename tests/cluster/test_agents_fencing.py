"""The fencer runs real fence agents: fence-agents' fence_dummy, and fence_defib_local
killing real processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from defib.fencing import FenceAgentRunner, FenceDevice, FencingLevel, LocalFencer
from defib.fencing.agent import FENCE_AGENT_DIRS

FENCE_DUMMY = Path("/usr/sbin/fence_dummy")
LOCAL_AGENT = FENCE_AGENT_DIRS[-1] / "fence_defib_local"

needs_dummy = pytest.mark.skipif(not FENCE_DUMMY.exists(), reason="fence-agents not installed")


def _power(path: Path, state: str) -> None:
    path.write_text(state)  # fence_dummy's "file" type: the plug's power state


def dummy(tmp_path: Path, name: str, **params: str) -> FenceDevice:
    status = tmp_path / f"{name}.status"
    _power(status, "on")
    return FenceDevice(name, "fence_dummy", {"status_file": str(status), **params})


def failing(name: str) -> FenceDevice:
    # type=fail never reaches "off"; power_timeout makes it give up after 1 s.
    return FenceDevice(name, "fence_dummy", {"type": "fail", "power_timeout": "1"})


@needs_dummy
def test_fence_dummy_success(tmp_path: Path) -> None:
    fencer = LocalFencer([dummy(tmp_path, "d1")], node_name="n0")
    result = asyncio.run(fencer.fence("n1", "off"))
    assert result.ok, result.reason
    assert result.devices == ("d1",)
    assert (tmp_path / "d1.status").read_text() == "off"
    assert result.attempts[0].rc == 0
    assert list(fencer.history) == [result]


@needs_dummy
def test_fence_dummy_failure_and_timeout(tmp_path: Path) -> None:
    slow = dummy(tmp_path, "slow", delay="10", pcmk_off_timeout="1s")
    fencer = LocalFencer([failing("bad")], node_name="n0")
    started = time.monotonic()
    result = asyncio.run(fencer.fence("n1", "off"))
    assert not result.ok
    assert "bad" in result.reason and "exited 1" in result.reason
    assert "Timed out waiting to power OFF" in result.reason

    started = time.monotonic()
    result = asyncio.run(LocalFencer([slow]).fence("n1", "off"))
    assert not result.ok and "timed out" in result.reason
    assert time.monotonic() - started < 5
    assert (tmp_path / "slow.status").read_text() == "on"


@needs_dummy
def test_topology_levels(tmp_path: Path) -> None:
    a, b = dummy(tmp_path, "a"), dummy(tmp_path, "b")
    c = dummy(tmp_path, "c")
    levels = [
        FencingLevel("n1", 2, ("a", "b")),
        FencingLevel("n1", 1, ("bad",)),
        FencingLevel("n2", 1, ("c", "bad")),
    ]
    fencer = LocalFencer([a, b, c, failing("bad")], levels, node_name="n0")

    async def scenario():  # type: ignore[no-untyped-def]
        return await fencer.fence("n1", "reboot"), await fencer.fence("n2", "off")

    n1, n2 = asyncio.run(scenario())
    # Level 1 failed; level 2 (both devices) worked: its reboot became off a, off b, on a, on b.
    assert n1.ok and n1.level == 2 and n1.devices == ("a", "b")
    assert [r.action for r in n1.attempts] == ["reboot", "off", "off", "on", "on"]
    assert {r.agent for r in n1.attempts} == {"fence_dummy"}
    assert (tmp_path / "a.status").read_text() == "on"
    # n2's only level has a failing device: the level fails although "c" worked.
    assert not n2.ok and "level 1" in n2.reason
    assert (tmp_path / "c.status").read_text() == "off"


def _spawn(marker: str, script: str = "exec sleep 60") -> subprocess.Popen[bytes]:
    env = dict(os.environ, DEFIB_LOCAL_NODE=marker)
    return subprocess.Popen(["sh", "-c", script], env=env, start_new_session=True)


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


@pytest.fixture
def local_nodes(tmp_path: Path) -> Iterator[dict[str, list[subprocess.Popen[bytes]]]]:
    cluster = str(tmp_path / "cluster")
    procs = {
        # A "node" with a daemon, an agent that forks children, and a grandchild.
        "n1": [_spawn(f"{cluster}:n1"),
               _spawn(f"{cluster}:n1", "sleep 60 & sleep 60 & (sleep 60 &) ; wait")],
        "n2": [_spawn(f"{cluster}:n2")],
        "other": [_spawn(f"{cluster}-other:n1")],  # same node name, another cluster
    }
    time.sleep(0.3)
    try:
        yield procs
    finally:
        for group in procs.values():
            for proc in group:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
        # Children of the shells outlive them only if the agent failed to kill them: end
        # them by PID, found by this test's own markers.
        for marker in (f"{cluster}:n1", f"{cluster}:n2", f"{cluster}-other:n1"):
            for pid in _marked(marker):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def _marked(marker: str) -> list[int]:
    from defib.fencing.local_agent import processes_of
    return processes_of(marker, exclude=os.getpid())


def test_fence_defib_local_powers_off_a_node(
    tmp_path: Path, local_nodes: dict[str, list[subprocess.Popen[bytes]]]
) -> None:
    cluster = str(tmp_path / "cluster")
    assert len(_marked(f"{cluster}:n1")) >= 5  # 2 shells/sleeps + 3 children
    device = FenceDevice("local", "fence_defib_local",
                         {"cluster_dir": cluster, "pcmk_host_list": "n1 n2"})
    fencer = LocalFencer([device], node_name="n3")

    async def scenario():  # type: ignore[no-untyped-def]
        return (await fencer.fence("n1", "status"), await fencer.fence("n1", "off"),
                await fencer.fence("n1", "status"), await fencer.fence("n9", "off"))

    before, off, after, unknown = asyncio.run(scenario())
    assert before.ok and before.attempts[-1].rc == 0  # on
    assert off.ok, off.reason
    assert "Powered OFF n1" in off.attempts[-1].output
    assert after.attempts[-1].rc == 2  # off
    assert not unknown.ok and "no fence device" in unknown.reason
    assert _marked(f"{cluster}:n1") == []
    for proc in local_nodes["n1"]:
        proc.wait(timeout=5)
        assert proc.returncode == -9
    assert all(p.poll() is None for p in local_nodes["n2"] + local_nodes["other"])
    # The stdin protocol by hand, and list.
    listed = subprocess.run([sys.executable, str(LOCAL_AGENT)], input=(
        f"action=list\ncluster_dir={cluster}\n"), capture_output=True, text=True, timeout=10)
    assert listed.returncode == 0 and listed.stdout.strip() == "n2,n2"
    meta = subprocess.run([str(LOCAL_AGENT), "-o", "metadata"], capture_output=True,
                          text=True, timeout=10)
    assert "<resource-agent name=\"fence_defib_local\"" in meta.stdout
    assert all(_gone(p.pid) for p in local_nodes["n1"])


def test_fence_defib_local_takes_cluster_dir_from_its_caller(
    tmp_path: Path, local_nodes: dict[str, list[subprocess.Popen[bytes]]]
) -> None:
    cluster = str(tmp_path / "cluster")
    # As run by node n3's fencer: the agent inherits n3's marker, which names the cluster.
    runner = FenceAgentRunner(env={"DEFIB_LOCAL_NODE": f"{cluster}:n3"})
    result = asyncio.run(LocalFencer([FenceDevice("local", "fence_defib_local")],
                                     runner=runner).fence("n2", "reboot"))
    assert result.ok, result.reason
    local_nodes["n2"][0].wait(timeout=5)
    assert _marked(f"{cluster}:n2") == []
    assert all(p.poll() is None for p in local_nodes["n1"] + local_nodes["other"])


def test_fence_defib_local_is_fast(tmp_path: Path) -> None:
    """Fencing is on the failover path (target: under 1 s in total), so the local power-off
    must take a small fraction of that. Prints the measured figure (run with -s)."""
    cluster = str(tmp_path / "fast")
    fencer = LocalFencer([FenceDevice("local", "fence_defib_local", {"cluster_dir": cluster})])
    times = []
    for i in range(3):
        procs = [_spawn(f"{cluster}:n{i}") for _ in range(10)]
        try:
            time.sleep(0.1)
            result = asyncio.run(fencer.fence(f"n{i}", "off"))
            assert result.ok, result.reason
            times.append(result.elapsed_ms)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
    times.sort()
    print(f"\nfence_defib_local off, 10-process node: median {times[1]} ms, max {times[2]} ms")
    assert times[1] < 500
