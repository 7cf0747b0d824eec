"""The simulated demo and the `defib simulate` / `defib demo` commands, end to end."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from defib.cli.main import main
from defib.simulate.demo import load_sample, lose_node, node_running, run_demo, sample_text
from defib.simulate.engine import simulate

DEFIB = [sys.executable, "-m", "defib.cli.main"]


def test_sample_cluster_is_settled() -> None:
    sim = simulate(load_sample())
    assert sim.transition.summary == []
    assert sim.executed == []
    assert node_running(load_sample()) == "alpha"


def test_node_death_fences_and_recovers_elsewhere() -> None:
    demo = run_demo()
    assert demo.victim == "alpha"
    text = demo.after.text()
    assert "* Node alpha: UNCLEAN (offline)" in text
    assert any("Fence (reboot) alpha" in line for line in demo.after.transition.summary)
    executed = [a.operation_key for a in demo.after.executed]
    assert "stonith-alpha-reboot" in executed
    revised = text.split("Revised Cluster Status:")[1]
    assert "OFFLINE: [ alpha ]" in revised
    web_lines = [line for line in revised.splitlines() if "web-" in line]
    assert len(web_lines) == 3
    assert all("Started bravo" in line or "Started charlie" in line for line in web_lines)
    assert "Promoted: [ bravo ]" in revised or "Promoted: [ charlie ]" in revised
    # The web group starts only after the fencing that makes alpha safe.
    assert executed.index("stonith-alpha-reboot") < executed.index("web-ip_start_0")


def test_lose_unknown_node_is_an_error() -> None:
    from defib.errors import ConfigError

    with pytest.raises(ConfigError):
        lose_node(load_sample(), "nosuchnode")


def test_simulated_demo_command_non_interactive() -> None:
    res = subprocess.run([*DEFIB, "demo", "--simulated", "--non-interactive"],
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    for heading in ("Cluster status:", "Transition Summary:", "Executing Cluster Transition:",
                    "Revised Cluster Status:", "Fencing alpha (reboot)"):
        assert heading in res.stdout


def test_simulate_command_and_graph_file(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    cib = tmp_path / "dead.xml"
    cib.write_text(sample_text().replace(
        'uname="alpha" in_ccm="true" crmd="online"', 'uname="alpha" in_ccm="false" crmd="offline"'))
    graph = tmp_path / "graph.xml"
    assert main(["simulate", "-x", str(cib), "-S", "-G", str(graph)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Current cluster status:")
    assert "Fencing alpha (reboot)" in out
    xml = graph.read_text()
    assert xml.startswith("<transition_graph ") and 'operation="stonith"' in xml


def test_simulate_command_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "-x", str(tmp_path / "missing.xml"), "-S"]) == 1
    assert "missing.xml" in capsys.readouterr().err
    bad = tmp_path / "bad.xml"
    bad.write_text("<cib><configuration>")
    assert main(["simulate", "-x", str(bad), "-S"]) == 1
    assert "malformed CIB XML" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("crm_simulate") is None, reason="crm_simulate not installed")
def test_demo_status_matches_crm_simulate(tmp_path: Path) -> None:
    """The status view of the dying cluster is exactly crm_simulate's (white space aside)."""
    cib = tmp_path / "dead.xml"
    cib.write_text(sample_text().replace(
        'uname="alpha" in_ccm="true" crmd="online"', 'uname="alpha" in_ccm="false" crmd="offline"'))
    ref = subprocess.run(["crm_simulate", "-x", str(cib), "-S"], capture_output=True, text=True,
                         timeout=120)
    assert ref.returncode == 0, ref.stderr
    ours = subprocess.run([*DEFIB, "simulate", "-x", str(cib), "-S"], capture_output=True,
                          text=True, timeout=120)

    def current(text: str) -> list[str]:
        part = text.split("Transition Summary:")[0]
        return ["".join(line.split()) for line in part.splitlines() if line.strip()]

    assert current(ours.stdout) == current(ref.stdout)
