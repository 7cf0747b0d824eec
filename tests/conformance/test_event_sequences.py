"""Differential test of event sequences: defib's decisions against ``crm_simulate``'s at
every state a live cluster passes through.

Each seed is a small generated cluster and a random sequence of events (nodes leaving,
crashing and joining, standby and maintenance on and off, clone and group changes,
monitor failures, cleanups, moves, time passing; see ``defib.testing.event_seq``). After
each event the cluster is advanced to the state the reference's own simulated execution
writes (``crm_simulate -S -O``), and every state's ``Transition Summary`` is compared.

The suite runs a few sequences; ``DEFIB_EVENT_SEQUENCES=200`` (or ``python -m
bench.event_sequences``) runs more. The test fails when the agreement falls below the
floor, and prints the disagreeing families either way.
"""

from __future__ import annotations

import os
import shutil

import pytest

from defib.testing.event_run import run_sequences

FLOOR_PERCENT = 99.0


@pytest.mark.skipif(shutil.which("crm_simulate") is None,
                    reason="reference crm_simulate not installed (pacemaker-cli-utils)")
def test_event_sequences_agree_with_reference() -> None:
    count = int(os.environ.get("DEFIB_EVENT_SEQUENCES", "16"))
    report = run_sequences(range(count), length=6, workers=2)
    print()
    print(report.text(details=20))
    assert not report.errors, report.errors
    assert len(report.states) >= 8 * count, "sequences ended early"
    assert report.agreement >= FLOOR_PERCENT, (
        f"agreement {report.agreement:.1f}% fell below {FLOOR_PERCENT}%")
