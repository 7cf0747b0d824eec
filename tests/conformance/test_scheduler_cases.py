"""Conformance: defib against the 603 Pacemaker 2.1.5 scheduler cases in ../shared.

Every case runs in-process (schedule, graph, simulated execution, revised status). The test
prints the decision, full-output and graph match rates with the failing cases grouped by
family, and fails when a rate drops below its floor in ``scheduler_floor.json``.
The floors only move up: raise them when defib improves, never lower them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from defib.simulate.conformance import METRICS, load_cases, run_all

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / ".." / "shared" / "scheduler-cases"
FLOOR_FILE = Path(__file__).with_name("scheduler_floor.json")


def test_scheduler_cases_above_floor() -> None:
    if not (CASES / "cases.tsv").is_file():
        pytest.skip(f"scheduler reference cases not found at {CASES.resolve()} "
                    "(they live in ../shared/scheduler-cases next to the repository)")
    cases = load_cases(CASES)
    assert len(cases) > 500, f"only {len(cases)} cases in {CASES}"
    report = run_all(cases)
    print()
    print(report.text())
    floors = json.loads(FLOOR_FILE.read_text(encoding="utf-8"))
    below = [f"{m}: {report.rate(m):.1f}% < floor {floors[m]}%"
             for m in METRICS if m in floors and report.rate(m) < float(floors[m])]
    assert not below, "conformance dropped below its floor: " + "; ".join(below)
