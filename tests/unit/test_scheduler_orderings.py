"""Orderings Pacemaker derives beyond the configured ones, checked on the transition graph.

Each scenario's expectations are what crm_simulate 2.1.5 writes with ``-G`` for the same CIB
(the graph's actions and edges were compared in full when the test was written).
"""

from __future__ import annotations

from defib.cib.parse import parse_cib
from defib.graph.build import build_graph
from defib.scheduler import schedule
from tests.unit.test_scheduler_core import NODE_STATE, cib

_OP = ('<lrm_rsc_op id="{r}_last_0" operation="start" operation_key="{r}_start_0" interval="0" '
       'call-id="{c}" rc-code="0" op-status="0" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8" '
       'transition-key="1:1:0:x"/>')
_DUMMY = '<primitive id="{r}" class="ocf" provider="heartbeat" type="Dummy"/>'

Edge = tuple[str, str]


def _states(running: dict[str, list[str]]) -> str:
    out = ""
    for node in ("n1", "n2", "n3"):
        body = "".join(f'<lrm_resource id="{r}" class="ocf" provider="heartbeat" type="Dummy">'
                       + _OP.format(r=r, c=i + 2) + "</lrm_resource>"
                       for i, r in enumerate(running.get(node, [])))
        lrm = f'<lrm id="{node}"><lrm_resources>{body}</lrm_resources></lrm>'
        out += NODE_STATE.format(n=node, lrm=lrm)
    return out


def _edges(xml: str) -> set[Edge]:
    graph = build_graph(schedule(parse_cib(xml)))

    def name(index: int) -> str:
        action = graph.action(index)
        node = f"@{action.node_uname}" if action.node_uname else ""
        return action.operation_key + node

    return {(name(i), name(s.action.id)) for s in graph for i in s.inputs}


def test_partly_active_group_stops_in_sequence() -> None:
    group = '<group id="g">' + "".join(_DUMMY.format(r=r) for r in "abc") + "</group>"
    ban = '<rsc_location id="l" rsc="g" node="n1" score="-INFINITY"/>'
    edges = _edges(cib(group, ban, _states({"n1": ["a", "c"]})))
    # b does not run: c stops before a all the same.
    assert ("c_stop_0@n1", "a_stop_0@n1") in edges
    # A member's probes come before its group has stopped, even with nothing to stop.
    assert {("b_monitor_0@n2", "g_stopped_0"), ("b_monitor_0@n3", "g_stopped_0")} <= edges


def test_restart_type_restart_makes_an_optional_order_restart() -> None:
    y = ('<primitive id="y" class="ocf" provider="heartbeat" type="Dummy"><meta_attributes '
         'id="ym"><nvpair id="ym1" name="restart-type" value="restart"/></meta_attributes>'
         '</primitive>')
    constraints = ('<rsc_location id="l" rsc="x" node="n1" score="-INFINITY"/>'
                   '<rsc_location id="ly" rsc="y" node="n2" score="INFINITY"/>'
                   '<rsc_order id="o" first="x" then="y" kind="Optional"/>')
    xml = cib(_DUMMY.format(r="x") + y, constraints, _states({"n1": ["x"], "n2": ["y"]}))
    summary = [" ".join(line.split()) for line in schedule(parse_cib(xml)).summary]
    assert "* Restart y ( n2 ) due to required x start" in summary
    edges = _edges(xml)
    # x's probes come before the restart that x's start implies.
    assert ("x_monitor_0@n3", "y_stop_0@n2") in edges


def test_anti_colocation_orders_leaving_before_arriving_on_a_node() -> None:
    constraints = ('<rsc_location id="l1" rsc="p" node="n2" score="100"/>'
                   '<rsc_location id="l2" rsc="q" node="n1" score="100"/>'
                   '<rsc_location id="l3" rsc="p" node="n3" score="-INFINITY"/>'
                   '<rsc_location id="l4" rsc="q" node="n3" score="-INFINITY"/>'
                   '<rsc_colocation id="c" rsc="p" with-rsc="q" score="-INFINITY"/>')
    edges = _edges(cib(_DUMMY.format(r="p") + _DUMMY.format(r="q"), constraints,
                       _states({"n1": ["p"], "n2": ["q"]})))
    assert {("p_stop_0@n1", "q_start_0@n1"), ("q_stop_0@n2", "p_start_0@n2")} <= edges
    # ... and nothing across nodes.
    assert ("p_monitor_0@n2", "q_start_0@n1") not in edges
    assert ("p_stop_0@n1", "p_start_0@n2") in edges
