"""Shutdown locks: what runs on a node that shuts down cleanly stays bound to it."""

from __future__ import annotations

from defib.cib.parse import parse_cib
from defib.scheduler import schedule
from tests.unit.test_scheduler_core import DUMMY, RUNNING, cib

SHUTTING = (
    '<node_state id="n1" uname="n1" in_ccm="true" crmd="online" join="member" '
    'expected="member">{lrm}<transient_attributes id="t1"><instance_attributes id="ta1">'
    '<nvpair id="s1" name="shutdown" value="1600000000"/></instance_attributes>'
    '</transient_attributes></node_state>'
)
OTHERS = "".join(
    f'<node_state id="{n}" uname="{n}" in_ccm="true" crmd="online" join="member" '
    f'expected="member"/>' for n in ("n2", "n3"))


def _summary(lock: str) -> list[str]:
    props = f'<nvpair id="o2" name="shutdown-lock" value="{lock}"/>'
    states = SHUTTING.format(lrm=RUNNING.format(n="n1", r="r1")) + OTHERS
    return [" ".join(line.split()) for line in
            schedule(parse_cib(cib(DUMMY.format(r="r1"), states=states, props=props))).summary]


def test_a_resource_on_a_node_shutting_down_is_stopped_there_not_moved() -> None:
    assert _summary("true") == ["* Stop r1 ( n1 ) due to node availability"]


def test_without_the_lock_it_moves() -> None:
    assert _summary("false")[0].startswith("* Move r1 ( n1 ->")
