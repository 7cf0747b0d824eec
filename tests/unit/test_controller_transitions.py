"""The DC's transition bookkeeping: the retry gate, the pe series recorder, and a plan
that replays to the same graph (no daemons, no clock)."""

from __future__ import annotations

from pathlib import Path

from defib.controller.cibinput import stamp_input
from defib.controller.harness import cib_xml, fence_device, primitive
from defib.controller.transitions import NEVER, PeRecorder, RetryGate, make_plan, undated
from defib.history.series import PeSeries


def test_a_failed_input_waits_with_back_off_and_a_change_runs_at_once() -> None:
    gate = RetryGate()
    assert gate.remaining("a", 0.0) == 0.0
    gate.ended("a", failed=True, retryable=True, now=0.0)
    assert gate.remaining("a", 0.5) == 0.5 and gate.remaining("b", 0.5) == 0.0
    gate.ended("a", failed=True, retryable=True, now=1.0)
    assert gate.remaining("a", 1.0) == 2.0
    gate.ended("a", failed=True, retryable=False, now=3.0)
    assert gate.remaining("a", 1e9) == NEVER
    gate.ended("a", failed=False, retryable=True, now=4.0)
    assert gate.remaining("a", 4.0) == 0.0
    gate.ended("a", failed=True, retryable=True, now=5.0)
    assert gate.remaining("a", 5.0) == 1.0  # back to the first delay after a success


def test_a_completed_input_waits_for_a_change_or_the_recheck_timer() -> None:
    gate = RetryGate()
    gate.ended("a", failed=False, retryable=True, now=0.0, complete=True)
    # Running the same input again could only repeat the transition: wait for a change.
    assert gate.remaining("a", 100.0) == NEVER and gate.remaining("b", 0.0) == 0.0
    gate.force()  # time changed the answer (a failure expired): run once
    assert gate.remaining("a", 0.0) == 0.0
    assert gate.remaining("a", 0.0) == NEVER
    gate.ended("a", failed=False, retryable=True, now=1.0, complete=False)
    assert gate.remaining("a", 1.0) == 0.0  # an aborted transition has work left


def _input(when: int) -> str:
    xml = cib_xml(fence_device() + primitive("d", "ocf", "Dummy", "heartbeat"))
    return stamp_input(xml, True, "1", when)


def test_identical_inputs_are_saved_once(tmp_path: Path) -> None:
    recorder = PeRecorder(PeSeries(tmp_path))
    first = recorder.number(make_plan(_input(1_700_000_000)))
    again = recorder.number(make_plan(_input(1_700_000_060)))
    assert first.transition_id == again.transition_id == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pe-graph-0.xml", "pe-input-0.xml"]
    saved = (tmp_path / "pe-input-0.xml").read_text()
    assert 'execution-date="1700000000"' in saved and 'have-quorum="1"' in saved
    assert undated(saved) == undated(_input(1_700_000_060))
    assert 'transition_id="0"' in (tmp_path / "pe-graph-0.xml").read_text()


def test_no_series_when_pe_input_series_max_is_zero(tmp_path: Path) -> None:
    recorder = PeRecorder(PeSeries(tmp_path, keep=0))
    assert recorder.number(make_plan(_input(1_700_000_000))).transition_id == 0
    assert list(tmp_path.iterdir()) == []
