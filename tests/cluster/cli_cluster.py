"""Shared by the tests that drive a local cluster through the real ``defib`` command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from defib.cluster.local import daemon_pid

DEFIB = [sys.executable, "-m", "defib.cli.main"]


def tear_down(directory: Path, names: tuple[str, ...] = ("node1", "node2")) -> None:
    """Stop the cluster the CLI way; kill (by PID) any daemon that outlived the stop."""
    subprocess.run([*DEFIB, "cluster", "stop", "--dir", str(directory)],
                   capture_output=True, timeout=30)
    for name in names:
        pid = daemon_pid(directory, name) if directory.exists() else None
        if pid is not None:
            os.kill(pid, signal.SIGKILL)


def until(what: Callable[[], Any], description: str = "the condition",
          timeout: float = 20.0) -> Any:
    """``what()`` once it is truthy (polled), failing after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {description}"
        time.sleep(0.2)
