"""A scheduler that fails on one resource: the rest is scheduled, the failure reported."""

from __future__ import annotations

import datetime as dt

import pytest

from defib.controller.isolate import (
    SchedulerFailure,
    SchedulerHealth,
    describe,
    schedule_isolating,
)
from defib.controller.parts import debug_scheduler
from defib.controller.transitions import make_plan
from defib.model.cib import Cib
from defib.model.resources import walk
from defib.scheduler import Transition, schedule

NOW = dt.datetime(2026, 1, 1)
PRIMS = "".join(f'<primitive id="r{i}" class="ocf" provider="heartbeat" type="Dummy"/>'
                for i in range(7))
CIB = f"""<cib admin_epoch="0" epoch="1" num_updates="0" have-quorum="1">
<configuration><crm_config><cluster_property_set id="o"><nvpair id="o1" name="stonith-enabled"
 value="false"/></cluster_property_set></crm_config>
<nodes><node id="1" uname="n1"/></nodes>
<resources>{PRIMS}<group id="g"><primitive id="g1" class="ocf" provider="heartbeat"
 type="Dummy"/></group></resources><constraints/></configuration>
<status><node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member"
 expected="member"/></status></cib>"""


def failing_on(*culprits: str):  # type: ignore[no-untyped-def]
    def scheduler(cib: Cib, now: dt.datetime) -> Transition:
        for rsc in walk(cib.resources):
            if rsc.id in culprits:
                raise IndexError(f"boom on {rsc.id}")
        return schedule(cib, now)
    return scheduler


def started(transition: Transition) -> set[str]:
    """The resources the summary starts ("  * Start      r3      ( n1 )")."""
    return {line.split()[2] for line in transition.summary if line.split()[1:2] == ["Start"]}


def test_one_failing_resource_is_left_out_and_the_rest_scheduled() -> None:
    plan = make_plan(CIB, failing_on("r5"))
    assert plan.skipped == ("r5",)
    assert plan.error.startswith("IndexError: boom on r5")
    whole = make_plan(CIB)
    assert whole.error == "" and whole.skipped == ()
    assert started(plan.transition) == started(whole.transition) - {"r5"}
    assert "r0" in started(plan.transition)


def test_a_failing_member_skips_its_top_level_resource() -> None:
    plan = make_plan(CIB, failing_on("g1"))
    assert plan.skipped == ("g",)


def test_two_culprits_are_both_left_out() -> None:
    plan = make_plan(CIB, failing_on("r1", "r6"))
    assert {"r1", "r6"} <= set(plan.skipped)
    assert "r0" in started(plan.transition)


def test_a_failure_without_any_resource_is_not_hidden() -> None:
    def always(cib: Cib, now: dt.datetime) -> Transition:
        raise ValueError("broken everywhere")
    from defib.controller.cibinput import parse_input
    with pytest.raises(SchedulerFailure, match="ValueError: broken everywhere"):
        schedule_isolating(parse_input(CIB), NOW, always)


def test_describe_names_the_scheduler_phase(monkeypatch: pytest.MonkeyPatch) -> None:
    from defib.scheduler import pipeline

    def broken(*args: object) -> None:
        raise OverflowError("out of range")

    monkeypatch.setattr(pipeline, "unpack_nodes", broken)
    with pytest.raises(OverflowError) as caught:
        schedule(Cib(), NOW)
    assert describe(caught.value).startswith(
        "OverflowError: out of range in scheduler phase pipeline (line ")


def test_health_reports_news_once() -> None:
    health = SchedulerHealth()
    assert health.record("E", ("r5",), 10.0) and not health.record("E", ("r5",), 11.0)
    assert health.to_dict() == {"error": "E", "since": 10.0, "failures": 2, "skipped": ["r5"]}
    assert health.record("", (), 12.0) and health.to_dict() is None


def test_debug_scheduler_only_with_debug_ops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFIB_DEBUG_SCHEDULER_FAIL", "r3")
    assert debug_scheduler() is schedule
    monkeypatch.setenv("DEFIB_DEBUG_OPS", "1")
    assert make_plan(CIB, debug_scheduler()).skipped == ("r3",)
