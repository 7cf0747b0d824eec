"""What `defib status` says of unhealthy nodes, clocks and a failing scheduler (rendering)."""

from __future__ import annotations

from typing import Any

from defib.commands.cluster_status import clock_lines, render, scheduler_lines


def _status(**node3: Any) -> dict[str, Any]:
    nodes = [{"id": i, "name": f"node{i}", "member": i < 3, "links": [True],
              "clock_offset_ms": 0.0 if i == 1 else -0.3, "health": None} for i in (1, 2, 3)]
    nodes[2].update(node3)
    return {"cluster": "c", "node": {"id": 1, "name": "node1"}, "view": "1.2", "agreed": True,
            "dc": {"id": 1, "name": "node1"}, "nodes": nodes, "cib": {"version": [0, 1, 2]},
            "quorum": {"quorate": True, "flags": [], "total_votes": 2, "expected_votes": 3,
                       "quorum": 2, "wait_for_all_pending": False},
            "max_clock_offset_ms": 30000.0}


def test_an_unhealthy_node_is_named_with_the_reason() -> None:
    text = render(_status(health="cannot write the CIB in /s/node3: No space left on device"))
    assert "  * OFFLINE: [ node3 ]" in text
    assert "  * UNHEALTHY: node3 (cannot write the CIB in /s/node3: No space left on device)" \
        in text


def test_clock_offsets_and_a_refused_clock() -> None:
    lines = clock_lines(_status(clock_offset_ms=-61234.0))
    assert lines == [
        "  * Clock offsets from node1 (heartbeats): node2 +0 ms, node3 -61234 ms",
        "  * REFUSED: node3: its clock is 61.2 s behind node1's, more than max_clock_offset"
        " = 30 s (synchronise the clocks)"]
    assert clock_lines(_status(clock_offset_ms=None)) == [
        "  * Clock offsets from node1 (heartbeats): node2 +0 ms"]


def test_a_failing_scheduler() -> None:
    assert scheduler_lines(None) == []
    lines = scheduler_lines({"error": "IndexError: x", "since": 0.0, "failures": 3,
                             "skipped": ["bad"]})
    assert lines[1] == "Scheduler:" and "(3 runs): IndexError: x" in lines[2]
    assert lines[3] == "  * left as they are, not managed: bad (everything else is scheduled)"
    nothing = scheduler_lines({"error": "E", "since": None, "failures": 1, "skipped": None})
    assert nothing[-1] == "  * nothing is scheduled: fix or remove what the error names"
