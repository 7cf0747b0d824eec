"""Exports go back into Pacemaker: ``crm_simulate -x EXPORT -S`` and ``crm_verify -x EXPORT``
(Pacemaker 2.1.5's own tools) read what ``defib cib export`` writes, and ``configure verify``
says what ``crm_verify`` says. Skipped where Pacemaker's tools are not installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

DEFIB = [sys.executable, "-m", "defib.cli.main"]
CASES = Path(__file__).resolve().parents[2] / ".." / "shared" / "scheduler-cases" / "xml"
TOOLS = shutil.which("crm_simulate"), shutil.which("crm_verify")
pytestmark = pytest.mark.skipif(
    None in TOOLS, reason="crm_simulate/crm_verify not installed (Debian pacemaker-cli-utils)")


def defib(*args: str, cib: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CIB_file": str(cib)}
    return subprocess.run([*DEFIB, *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def pcmk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120,
                          check=False)


def summary(output: str) -> str:
    m = re.search(r"Transition Summary:\n(.*?)\n\n", output, re.S)
    assert m is not None, output
    return m.group(1)


def test_export_of_a_running_cluster_simulates_as_the_original(tmp_path: Path) -> None:
    """A CIB with history as a defib cluster of before wrote it (feature set 3.17.4, which
    crm_simulate 2.1.5 aborts on) is exported; Pacemaker reads the export and decides what it
    decides on the original."""
    case = CASES / "1-a-then-bm-move-b.xml"
    if not case.is_file():
        pytest.skip(f"scheduler cases not found at {CASES}")
    original = pcmk("crm_simulate", "-x", str(case), "-S")
    assert original.returncode == 0
    cib = tmp_path / "cib.xml"
    cib.write_text(re.sub(r'crm_feature_set="[^"]*"', 'crm_feature_set="3.17.4"',
                          case.read_text()))
    refused = pcmk("crm_simulate", "-x", str(cib), "-S")
    assert "fatal assertion" in refused.stdout + refused.stderr  # the bug the export avoids
    export = tmp_path / "export.xml"
    assert defib("cib", "export", str(export), cib=cib).returncode == 0
    root = ET.parse(export).getroot()
    assert root.get("crm_feature_set") == "3.16.1"
    assert root.get("have-quorum") == "1" and root.get("dc-uuid") == "3"
    simulated = pcmk("crm_simulate", "-x", str(export), "-S")
    assert simulated.returncode == 0, simulated.stderr
    assert "assertion" not in simulated.stdout + simulated.stderr
    assert summary(simulated.stdout) == summary(original.stdout)
    assert "Migrate    B" in summary(simulated.stdout)
    verified = pcmk("crm_verify", "-x", str(export))
    assert verified.returncode == 0, verified.stdout + verified.stderr


CONFIG = """\
primitive vip ocf:heartbeat:IPaddr2 params ip=198.18.0.10 cidr_netmask=24
primitive web ocf:heartbeat:Dummy
group site vip web
location prefer-1 site 100: node1
"""


@pytest.mark.parametrize(("extra", "defib_rc", "pcmk_rc"), [
    ("property stonith-enabled=false\n", 0, 0),
    # Fencing on (the default) and no device: crm_verify says nothing will start.
    ("", 1, 78),
    ("property stonith-enabled=true no-quorum-policy=ignore\n"
     "primitive fence stonith:fence_dummy\n", 0, 0),
])
def test_configure_verify_says_what_crm_verify_says(tmp_path: Path, extra: str, defib_rc: int,
                                                    pcmk_rc: int) -> None:
    cib = tmp_path / "cib.xml"
    # (No node entries: a node without status is unclean to crm_verify, a warning about the
    # state, not the configuration.)
    script = tmp_path / "s.crm"
    script.write_text(CONFIG + extra)
    made = defib("configure", "-f", str(script), cib=cib)
    assert made.returncode == 0, made.stderr
    export = tmp_path / "export.xml"
    assert defib("cib", "export", str(export), cib=cib).returncode == 0
    ours = defib("configure", "verify", cib=cib)
    theirs = pcmk("crm_verify", "-V", "-x", str(export))
    assert (ours.returncode, theirs.returncode) == (defib_rc, pcmk_rc), \
        ours.stderr + theirs.stdout + theirs.stderr
    if pcmk_rc:
        assert "no STONITH resources have been defined" in theirs.stderr
        assert "stonith enabled without a device: nothing will start" in ours.stderr
    simulated = pcmk("crm_simulate", "-x", str(export), "-S")
    assert simulated.returncode == 0, simulated.stderr


def test_verify_of_a_schema_invalid_cib_fails_as_crm_verify(tmp_path: Path) -> None:
    cib = tmp_path / "cib.xml"
    cib.write_text('<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" '
                   'admin_epoch="0"><configuration><crm_config><cluster_property_set id="o">'
                   '<nvpair id="o1" name="stonith-enabled" value="false"/>'
                   "</cluster_property_set></crm_config><nodes/><resources>"
                   '<primitive id="p" class="ocf" provider="heartbeat" type="Dummy" bogus="1"/>'
                   "</resources><constraints/></configuration><status/></cib>")
    ours = defib("configure", "verify", cib=cib)
    theirs = pcmk("crm_verify", "-V", "-x", str(cib))
    assert ours.returncode == 1 and theirs.returncode != 0
    assert "Invalid attribute bogus for element primitive" in ours.stderr
    assert "Invalid attribute bogus for element primitive" in theirs.stderr
