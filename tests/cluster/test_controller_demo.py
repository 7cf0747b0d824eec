"""`defib demo --non-interactive` (what `make demo` runs) on real daemons, end to end."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from defib.fencing.local_agent import nodes_of


def test_live_demo_non_interactive(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "defib.cli.main", "demo", "--non-interactive",
         "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    match = re.search(r"failover: (node\d) -> (node\d), web recorded started after ([\d.]+)s,"
                      r" answering HTTP after ([\d.]+)s", out)
    assert match, out
    crashed, recovered = match.group(1), match.group(2)
    assert crashed != recovered, out
    assert f"{crashed} fenced: yes" in out, out
    assert f"served by {recovered}" in out, out
    assert float(match.group(4)) < 10.0, out
    # Nothing of the demo cluster is left running (daemons, agents, the web server).
    clusters = list(tmp_path.glob("cluster-*"))
    assert len(clusters) == 1, out
    assert nodes_of(str(clusters[0])) == set(), out
