"""What-if injections (crm_simulate's synthetic events) on small constructed CIBs."""

from __future__ import annotations

import datetime as dt
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from defib.cli.main import main
from defib.simulate.whatif import Injections, OpSpec, inject, run_what_if
from defib.simulate.whatif_compare import normalised, ours, reference

NOW = dt.datetime(2026, 1, 1, 12, 0, 0)
TS = 1_767_268_800

# A settled two-node cluster (fence on node1, web on node2 with a 10 s monitor, ticket tk
# granted), as crm_simulate -S -O left it: digests included, so nothing is to be done.
CIB = Path(__file__).with_name("whatif_cib.xml").read_text()


def _summary(lines: list[str]) -> list[str]:
    start = lines.index("Transition Summary:") + 1
    out = []
    for line in lines[start:]:
        if not line.strip():
            break
        out.append(" ".join(line.split()))
    return out


def test_opspec_reads_crm_simulate_syntax() -> None:
    spec = OpSpec.parse("memcached:0_monitor_20000@bart.example.com=7")
    assert (spec.resource, spec.task, spec.interval_ms, spec.node, spec.rc) == (
        "memcached:0", "monitor", 20000, "bart.example.com", 7)
    assert OpSpec.parse("vm_migrate_to_0@n1=1").task == "migrate_to"
    with pytest.raises(ValueError, match="Invalid operation spec"):
        OpSpec.parse("web_start_0")


def test_node_events_edit_status_as_crm_simulate() -> None:
    root = ET.fromstring(CIB)
    done = inject(root, Injections(node_up=["node3"], node_down=["node1"],
                                   node_fail=["node2"]), TS)
    assert done.lines == ["Performing Requested Modifications:",
                          "  * Bringing node node3 online", "  * Taking node node1 offline",
                          "  * Failing node node2"]
    # An unknown node joins the nodes section under its name, as crm_simulate adds it.
    assert root.find("configuration/nodes/node[@uname='node3']") is not None
    down = root.find("status/node_state[@uname='node1']")
    assert down is not None and down.get("in_ccm") == "false" and down.find("lrm") is None
    failed = root.find("status/node_state[@uname='node2']")
    assert failed is not None
    assert (failed.get("in_ccm"), failed.get("crmd"), failed.get("expected")) == (
        "false", "online", "member")


def test_node_fail_fences_it() -> None:
    result = run_what_if(CIB, Injections(node_fail=["node2"]), NOW, NOW, TS)
    assert _summary(result.lines) == [
        "* Fence (reboot) node2 'peer is no longer part of the cluster'",
        "* Move web ( node2 -> node1 )"]
    assert "  * Failing node node2" in result.lines


def test_nothing_injected_nothing_done() -> None:
    result = run_what_if(CIB, Injections(), NOW, NOW, TS)
    assert _summary(result.lines) == []
    assert "Performing Requested Modifications:" not in result.lines


def test_ticket_revoke_stops_what_depends_on_it() -> None:
    result = run_what_if(CIB, Injections(ticket_revoke=["tk"]), NOW, NOW, TS)
    assert _summary(result.lines) == ["* Stop web ( node2 ) due to node availability"]
    ticket = ET.fromstring(result.input_xml).find("status/tickets/ticket_state[@id='tk']")
    assert ticket is not None and ticket.get("granted") == "false"


def test_injected_monitor_failure_counts_and_recovers() -> None:
    result = run_what_if(CIB, Injections(op_inject=["web_monitor_10000@node2=7"]), NOW, NOW,
                         TS)
    assert "  * Injecting web_monitor_10000@node2=7 into the configuration" in result.lines
    assert ("  * Injecting attribute fail-count-web#monitor_10000=value++ into "
            "/node_state '2'") in result.lines
    assert _summary(result.lines) == ["* Recover web ( node2 )"]
    root = ET.fromstring(result.input_xml)
    failure = root.find(".//lrm_resource[@id='web']/lrm_rsc_op[@id='web_last_failure_0']")
    assert failure is not None and failure.get("rc-code") == "7"
    assert failure.get("call-id") == "4"  # above every call recorded for web there
    counts = root.find("status/node_state[@id='2']/transient_attributes/instance_attributes")
    assert counts is not None
    assert {nv.get("name"): nv.get("value") for nv in counts}[
        "fail-count-web#monitor_10000"] == "1"


def test_unknown_resource_is_reported_and_skipped() -> None:
    result = run_what_if(CIB, Injections(op_inject=["nosuch_start_0@node1=1"]), NOW, NOW, TS)
    assert result.errors == ["Invalid resource name: nosuch"]
    assert _summary(result.lines) == []


def test_op_fail_stops_the_transition_and_counts_the_failure() -> None:
    result = run_what_if(CIB, Injections(node_fail=["node2"], op_fail=["web_start_0@node1=1"]),
                         NOW, NOW, TS)
    text = "\n".join(result.lines)
    assert "Pretending action" in text and "failed with rc=1" in text
    assert "  * Injecting attribute fail-count-web#start_0=value++ into /node_state '1'" in text
    # The recurring monitor waits for the failed start: it never runs.
    assert "monitor=10000 on node1" not in text
    revised = result.simulation.revised
    assert revised is not None
    web = next(p for p in revised.all_primitives() if p.id == "web")
    assert web.failed


def test_quorum_alone_changes_nothing_like_crm_simulate() -> None:
    result = run_what_if(CIB, Injections(quorum="0"), NOW, NOW, TS)
    assert "Performing Requested Modifications:" not in result.lines
    assert result.errors and "--quorum alone" in result.errors[0]
    with_other = run_what_if(CIB, Injections(quorum="0", watchdog="1"), NOW, NOW, TS)
    assert "  * Setting quorum: 0" in with_other.lines
    assert ET.fromstring(with_other.input_xml).get("have-quorum") == "0"


# The same options given to the reference crm_simulate and to defib print the same (white space
# and blank lines aside; the clock time of injected failures and graph action numbers masked).
# Where defib's scheduler still decides otherwise than Pacemaker's (not the injection: the
# injected CIB is the same): reported to the scheduler work, kept here to show when it is fixed.
_SCHEDULER_GAP = pytest.mark.xfail(reason="scheduler: differs from Pacemaker on this state")

REFERENCE_OPTIONS = [
    # Fencing the node that runs the fence device (its stop, a pseudo action, comes first).
    ["-f", "node1"],
    # A failed start where the resource does not run: Pacemaker sees it active there too.
    pytest.param(["-i", "web_start_0@node1=1"], marks=_SCHEDULER_GAP),
    ["-f", "node2"], ["-d", "node2"], ["-u", "node3"], ["-w", "1"],
    ["-q", "0", "-w", "0"], ["-g", "tk"], ["-r", "tk"], ["-b", "tk"], ["-e", "tk"],
    ["-g", "other"], ["-i", "fence_monitor_0@node2=0"], ["-i", "web_monitor_10000@node2=0"],
    ["-F", "web_start_0@node1=1", "-f", "node2"], ["-F", "web_stop_0@node2=1", "-r", "tk"],
    ["-F", "web_monitor_10000@node1=1", "-d", "node2"],
    ["-t", "2026-01-01 12:00:00"], ["-t", "2026-01-01 12:00:00", "-f", "node2"],
]


@pytest.mark.skipif(shutil.which("crm_simulate") is None,
                    reason="reference crm_simulate not installed (pacemaker-cli-utils)")
@pytest.mark.parametrize("options", REFERENCE_OPTIONS, ids=lambda o: " ".join(o))
def test_same_output_as_crm_simulate(tmp_path: Path, options: list[str]) -> None:
    path = tmp_path / "cib.xml"
    path.write_text(CIB)
    for run in (["-S"], ["-R"]):
        want = normalised(reference(path, [*run, *options]))
        assert want, "the reference printed nothing"
        assert normalised(ours(path, [*run, *options])) == want


@pytest.mark.skipif(shutil.which("crm_simulate") is None,
                    reason="reference crm_simulate not installed (pacemaker-cli-utils)")
@pytest.mark.parametrize("options", [["-f", "node2"], ["-i", "web_monitor_10000@node2=7"],
                                     ["-F", "web_start_0@node1=1", "-f", "node2"],
                                     ["-u", "node3", "-d", "node1"]], ids=lambda o: " ".join(o))
def test_saved_output_reads_as_crm_simulates_own(tmp_path: Path, options: list[str]) -> None:
    """-O: the CIB after the transition is what crm_simulate itself would have saved, as
    crm_simulate reads it (what happens next is the same)."""
    path, ref, mine = tmp_path / "cib.xml", tmp_path / "ref.xml", tmp_path / "mine.xml"
    path.write_text(CIB)
    reference(path, ["-S", *options, "-O", str(ref)])

    assert main(["simulate", "-x", str(path), *options, "-O", str(mine)]) == 0
    assert normalised(reference(mine, ["-S"])) == normalised(reference(ref, ["-S"]))
    copy = tmp_path / "inplace.xml"
    copy.write_text(CIB)
    assert main(["simulate", "-x", str(copy), *options, "-X"]) == 0
    assert normalised(reference(copy, ["-S"])) == normalised(reference(ref, ["-S"]))
