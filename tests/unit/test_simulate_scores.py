"""Allocation scores (``defib simulate -s``) are printed as they stood where Pacemaker prints
them, not as they ended up after the assignment changed them. The expected lines are what
crm_simulate 2.1.5 prints for the same CIBs."""

from __future__ import annotations

import datetime as dt

from defib.cib.parse import parse_cib
from defib.simulate.engine import simulate
from tests.unit.test_scheduler_core import DUMMY, cib, online

NOW = dt.datetime(2026, 1, 1)


def scores(xml: str) -> set[str]:
    return set(simulate(parse_cib(xml), NOW, execute=False).score_lines())


def test_group_members_are_shown_before_the_group_is_placed() -> None:
    group = '<group id="g">' + "".join(DUMMY.format(r=r) for r in ("a", "b")) + "</group>"
    where = ('<rsc_location id="l" rsc="g" node="n2" score="50"/>')
    lines = scores(cib(group, where, online("n1", "n2", "n3")))
    # When the group starts, b may still go anywhere (a group's location counts once, on
    # its first member) ...
    assert "pcmk__group_assign: b allocation score on n1: 0" in lines
    assert "pcmk__group_assign: a allocation score on n2: 50" in lines
    # ... once a is placed, b follows it.
    assert "pcmk__primitive_assign: b allocation score on n1: -INFINITY" in lines
    assert "pcmk__primitive_assign: b allocation score on n2: 0" in lines


def test_clone_instances_are_shown_before_they_are_distributed() -> None:
    clone = '<clone id="c">' + DUMMY.format(r="d") + "</clone>"
    lines = scores(cib(clone, "", online("n1", "n2", "n3")))
    for n in ("n1", "n2", "n3"):
        assert f"pcmk__clone_allocate: d:2 allocation score on {n}: 0" in lines
    # The last instance takes the only node left: the others are full.
    assert "pcmk__primitive_assign: d:2 allocation score on n1: -INFINITY" in lines
    assert "pcmk__primitive_assign: d:2 allocation score on n3: 0" in lines


def _promotable(unique: bool) -> str:
    meta = ('<nvpair id="cm1" name="promotable" value="true"/>'
            '<nvpair id="cm2" name="clone-max" value="4"/>'
            '<nvpair id="cm3" name="clone-node-max" value="2"/>'
            f'<nvpair id="cm4" name="globally-unique" value="{str(unique).lower()}"/>')
    clone = (f'<clone id="c"><meta_attributes id="cm">{meta}</meta_attributes>'
             '<primitive id="d" class="ocf" provider="pacemaker" type="Stateful"/></clone>')
    where = '<rsc_location id="l" rsc="c" role="Promoted" node="n2" score="10"/>'
    return cib(clone, where, online("n1", "n2"))


def test_promotion_score_of_instances_sharing_a_node_is_their_sum() -> None:
    lines = scores(_promotable(unique=True))
    # Each instance's own score on n2 is -1 (no preference) + 10 (the location): the two
    # instances there share the node's total; those that may not be promoted keep -1.
    assert {"d:1 promotion score on n2: 18", "d:3 promotion score on n2: 18",
            "d:0 promotion score on n1: -1", "d:2 promotion score on n1: -1"} <= lines


def test_anonymous_clone_runs_one_instance_per_node_whatever_clone_node_max() -> None:
    transition = simulate(parse_cib(_promotable(unique=False)), NOW, execute=False).transition
    placed = [p.assigned.uname for p in transition.working_set.all_primitives() if p.assigned]
    assert sorted(placed) == ["n1", "n2"]
    lines = scores(_promotable(unique=False))
    assert {"d:2 promotion score on none: 0", "d:3 promotion score on none: 0"} <= lines
