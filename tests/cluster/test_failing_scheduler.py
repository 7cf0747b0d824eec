"""A scheduler that keeps failing on the CIB shows in `defib status`, and what it can still
schedule is scheduled (real daemon, real Dummy agents; the scheduler's failure is the test
fault DEFIB_DEBUG_SCHEDULER_FAIL, a scheduler that raises on one resource)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cluster.cli_cluster import DEFIB, tear_down, until

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def defib(directory: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*DEFIB, *args, "--dir", str(directory)], capture_output=True,
                          text=True, timeout=90)
    if ok:
        assert proc.returncode == 0, f"defib {' '.join(args)}: {proc.stdout}{proc.stderr}"
    assert "Traceback" not in proc.stderr
    return proc


def running(directory: Path, rsc: str) -> bool:
    return any(directory.glob(f"*/run/Dummy-{rsc}.state"))


def test_a_failing_scheduler_is_shown_and_the_rest_is_scheduled(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFIB_DEBUG_OPS", "1")
    monkeypatch.setenv("DEFIB_DEBUG_SCHEDULER_FAIL", "bad")
    directory = tmp_path / "c"
    try:
        defib(directory, "cluster", "start", "-n", "1")
        defib(directory, "configure", "property", "stonith-enabled=false")
        defib(directory, "configure", "primitive", "bad", "ocf:heartbeat:Dummy")
        defib(directory, "configure", "primitive", "good", "ocf:heartbeat:Dummy")
        until(lambda: running(directory, "good"), "good to run", timeout=60)
        def failing() -> str | None:
            out = defib(directory, "status").stdout
            return out if "FAILING" in out else None

        text = until(failing, "the failure in status", timeout=30)
        assert "IndexError: TEST FAULT: the scheduler fails on resource bad" in text
        assert "left as they are, not managed: bad (everything else is scheduled)" in text
        data = json.loads(defib(directory, "status", "--json").stdout)
        assert data["scheduler"]["skipped"] == ["bad"] and data["scheduler"]["failures"] >= 1
        assert not running(directory, "bad")
        assert "the scheduler fails on this CIB" in (directory / "node1" / "daemon.log"
                                                     ).read_text()
        # Without the resource it fails on, the scheduler runs on the whole CIB again.
        defib(directory, "configure", "delete", "bad")
        until(lambda: "Scheduler:" not in defib(directory, "status").stdout,
              "the failure gone from status", timeout=30)
        assert json.loads(defib(directory, "status", "--json").stdout)["scheduler"] is None
    finally:
        tear_down(directory, ("node1",))
