"""Conformance: defib against the 603 Pacemaker 2.1.5 scheduler cases in ../shared.

Every case runs in-process (schedule, graph, simulated execution, revised status). The test
prints the decision, full-output, graph and scores match rates with the failing cases grouped
by family, and fails when

* a rate drops below its floor in ``scheduler_floor.json`` (the floors only move up), or
* a case listed in ``scheduler_passing.json`` as passing a metric no longer passes it,
  whatever the rate: the case is named.

Newly passing cases are printed. ``make conformance-update`` (``DEFIB_CONFORMANCE_UPDATE=1``)
rewrites the lists from this run and raises the floors to its rates; commit both files with the
change that moved them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from defib.simulate.conformance import (
    METRICS,
    compare_with_lists,
    load_cases,
    passing_lists,
    raised_floors,
    run_all,
)

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / ".." / "shared" / "scheduler-cases"
FLOOR_FILE = Path(__file__).with_name("scheduler_floor.json")
LIST_FILE = Path(__file__).with_name("scheduler_passing.json")
UPDATE = os.environ.get("DEFIB_CONFORMANCE_UPDATE", "") not in ("", "0")


def _write_json(path: Path, data: object, indent: int) -> None:
    path.write_text(json.dumps(data, indent=indent) + "\n", encoding="utf-8")


def test_scheduler_cases_above_floor_and_lists() -> None:
    if not (CASES / "cases.tsv").is_file():
        pytest.skip(f"scheduler reference cases not found at {CASES.resolve()} "
                    "(they live in ../shared/scheduler-cases next to the repository)")
    cases = load_cases(CASES)
    assert len(cases) > 500, f"only {len(cases)} cases in {CASES}"
    report = run_all(cases)
    print()
    print(report.text())
    floors = json.loads(FLOOR_FILE.read_text(encoding="utf-8"))
    lists = json.loads(LIST_FILE.read_text(encoding="utf-8")) if LIST_FILE.is_file() else {}
    diff = compare_with_lists(report, lists)
    print(diff.text() or "per-case lists: no case gained or lost")
    if UPDATE:
        _write_json(LIST_FILE, passing_lists(report), 1)
        _write_json(FLOOR_FILE, raised_floors(report, floors), 2)
        print(f"rewrote {LIST_FILE.name} and raised {FLOOR_FILE.name}")
        return
    below = [f"{m}: {report.rate(m):.1f}% < floor {floors[m]}%"
             for m in METRICS if m in floors and report.rate(m) < float(floors[m])]
    assert not below, "conformance dropped below its floor: " + "; ".join(below)
    lost = [f"{m}: {' '.join(names)}" for m, names in diff.lost.items() if names]
    assert not lost, ("cases that passed no longer do (fix them, or accept with "
                      "`make conformance-update`): " + "; ".join(lost))
