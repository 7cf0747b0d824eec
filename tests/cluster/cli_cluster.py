"""Shared by the tests that drive a local cluster through the real ``defib`` command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

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
