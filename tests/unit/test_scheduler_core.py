"""Pure-logic tests of the CIB model and scheduler core (no I/O beyond reading strings)."""

from __future__ import annotations

import datetime as dt

import pytest

from defib.cib.parse import parse_cib
from defib.cib.timespec import parse_ms
from defib.errors import CibParseError
from defib.model.scores import INFINITY, add_scores, parse_score
from defib.scheduler import schedule
from defib.scheduler.dates import parse_datetime

NODE_STATE = (
    '<node_state id="{n}" uname="{n}" in_ccm="true" crmd="online" join="member" '
    'expected="member">{lrm}</node_state>'
)
RUNNING = (
    '<lrm id="{n}"><lrm_resources><lrm_resource id="{r}" class="ocf" provider="heartbeat" '
    'type="Dummy"><lrm_rsc_op id="{r}_last_0" operation="start" operation_key="{r}_start_0" '
    'interval="0" call-id="3" rc-code="0" op-status="0" '
    'transition-key="1:1:0:x"/></lrm_resource></lrm_resources></lrm>'
)


def cib(resources: str, constraints: str = "", states: str = "", props: str = "") -> str:
    nodes = "".join(f'<node id="{n}" uname="{n}"/>' for n in ("n1", "n2", "n3"))
    return (
        '<cib have-quorum="true" epoch="1"><configuration><crm_config>'
        '<cluster_property_set id="o"><nvpair id="o1" name="stonith-enabled" value="false"/>'
        f"{props}</cluster_property_set></crm_config><nodes>{nodes}</nodes>"
        f"<resources>{resources}</resources><constraints>{constraints}</constraints>"
        f"</configuration><status>{states}</status></cib>"
    )


def online(*names: str, running: dict[str, str] | None = None) -> str:
    running = running or {}
    out = ""
    for n in names:
        lrm = RUNNING.format(n=n, r=running[n]) if n in running else ""
        out += NODE_STATE.format(n=n, lrm=lrm)
    return out


DUMMY = '<primitive id="{r}" class="ocf" provider="heartbeat" type="Dummy"/>'


def test_scores_saturate_and_minus_infinity_wins() -> None:
    assert parse_score("INFINITY") == INFINITY
    assert parse_score("-inf".replace("inf", "INFINITY")) == -INFINITY
    assert add_scores(INFINITY, -INFINITY) == -INFINITY
    assert add_scores(999_999, 5) == INFINITY


def test_intervals() -> None:
    assert parse_ms("10s") == 10_000
    assert parse_ms("1min") == 60_000
    assert parse_ms("PT1M30S") == 90_000
    assert parse_ms("500ms") == 500


def test_malformed_xml_names_position() -> None:
    with pytest.raises(CibParseError, match="line 1"):
        parse_cib("<cib><configuration>")


def test_unknown_id_ref_names_the_id() -> None:
    text = cib(
        '<primitive id="a" class="ocf" provider="heartbeat" type="Dummy">'
        '<meta_attributes id-ref="nowhere"/></primitive>'
    )
    # Reported and skipped, as Pacemaker's unpacking does: the rest is still read.
    parsed = parse_cib(text)
    assert any("id-ref='nowhere'" in problem for problem in parsed.problems)
    assert [r.id for r in parsed.resources] == ["a"]


def test_start_on_lowest_named_node_then_balance() -> None:
    model = parse_cib(
        cib(DUMMY.format(r="a") + DUMMY.format(r="b"), states=online("n1", "n2", "n3"))
    )
    t = schedule(model)
    assert [" ".join(line.split()) for line in t.summary] == [
        "* Start a ( n1 )",
        "* Start b ( n2 )",
    ]


def test_resources_of_a_cleanly_stopped_node_are_not_running() -> None:
    # Expected lines as crm_simulate 2.1.5 prints them for the same CIB.
    down = (
        '<node_state id="n1" uname="n1" in_ccm="false" crmd="offline" join="down" '
        'expected="down">' + RUNNING.format(n="n1", r="b") + "</node_state>"
    )
    text = cib(
        DUMMY.format(r="a") + DUMMY.format(r="b"),
        '<rsc_colocation id="c" rsc="b" with-rsc="a" score="INFINITY"/>'
        '<rsc_location id="l" rsc="a" node="n2" score="100"/>',
        down + online("n2", "n3"),
    )
    lines = sorted(" ".join(line.split()) for line in schedule(parse_cib(text)).summary)
    assert lines == ["* Start a ( n2 )", "* Start b ( n2 )"]


def test_missing_digest_restarts_and_order_gives_reason() -> None:
    # crm_simulate 2.1.5: an operation without a digest counts as a changed definition.
    text = cib(
        DUMMY.format(r="a") + DUMMY.format(r="b"),
        '<rsc_order id="o" first="a" then="b"/>'
        '<rsc_colocation id="c" rsc="b" with-rsc="a" score="INFINITY"/>',
        online("n1", running={"n1": "b"}),
    )
    lines = sorted(" ".join(line.split()) for line in schedule(parse_cib(text)).summary)
    assert lines == ["* Restart b ( n1 ) due to resource definition change", "* Start a ( n1 )"]


def test_location_rule_with_date_expression() -> None:
    rule = (
        '<rsc_location id="l" rsc="a"><rule id="r" score="-INFINITY">'
        '<date_expression id="d" operation="lt" end="2020-01-01"/></rule></rsc_location>'
    )
    text = cib(DUMMY.format(r="a"), rule, online("n1"))
    before = schedule(parse_cib(text), parse_datetime("2019-06-01 00:00:00"))
    after = schedule(parse_cib(text), dt.datetime(2021, 1, 1))
    assert before.summary == []
    assert [" ".join(x.split()) for x in after.summary] == ["* Start a ( n1 )"]


def test_schedule_is_deterministic_and_leaves_input_alone() -> None:
    model = parse_cib(cib(DUMMY.format(r="a") + DUMMY.format(r="b"), states=online("n1", "n2")))
    snapshot = repr(model)
    first = schedule(model).summary
    assert schedule(model).summary == first
    assert repr(model) == snapshot
