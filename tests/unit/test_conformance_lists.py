"""The per-case lists of the scheduler conformance test: lost and gained cases, floors."""

from __future__ import annotations

from defib.simulate.conformance import (
    METRICS,
    CaseResult,
    Report,
    compare_with_lists,
    passing_lists,
    raised_floors,
)


def _result(name: str, **passed: bool) -> CaseResult:
    return CaseResult(name, {m: passed.get(m, False) for m in METRICS})


def _report() -> Report:
    return Report([_result("a", decisions=True, graph=True),
                   _result("b", decisions=True),
                   _result("c", graph=True)])


def test_a_listed_case_that_fails_now_is_lost_and_a_new_one_is_gained() -> None:
    lists = {"decisions": ["a", "c"], "graph": ["a", "c"]}
    diff = compare_with_lists(_report(), lists)
    assert diff.lost["decisions"] == ["c"]
    assert diff.gained["decisions"] == ["b"]
    assert diff.lost["graph"] == [] and diff.gained["graph"] == []
    assert "no longer passing (decisions, 1): c" in diff.text()
    assert "newly passing (decisions, 1): b" in diff.text()


def test_a_listed_case_missing_from_the_run_is_not_lost() -> None:
    diff = compare_with_lists(_report(), {"decisions": ["a", "b", "gone"]})
    assert diff.lost["decisions"] == []


def test_lists_hold_the_passing_cases_sorted_per_metric() -> None:
    lists = passing_lists(_report())
    assert lists["decisions"] == ["a", "b"]
    assert lists["graph"] == ["a", "c"]
    assert lists["full_output"] == []


def test_floors_rise_to_the_whole_percent_and_never_fall() -> None:
    floors = raised_floors(_report(), {"_comment": "x", "decisions": 50, "graph": 90})
    assert floors["decisions"] == 66  # 2 of 3
    assert floors["graph"] == 90      # 66 % now: kept, never lowered
    assert floors["_comment"] == "x"
