"""Synapse order and placement rules learnt from crm_simulate 2.1.5 on small CIBs.

Each expectation below was read from ``crm_simulate -S -G`` on the same CIB: the order in
which Pacemaker lists a resource's actions in its graph (newest first by creation), and
where an optional anti-colocation with a clone leaves a resource.
"""

from __future__ import annotations

from defib.cib.parse import parse_cib
from defib.graph.build import build_graph
from defib.scheduler import schedule
from defib.simulate.conformance import summary_set
from defib.simulate.engine import simulate


def _op(rsc: str, task: str, interval: int, call: int, node: int, rc: int = 0) -> str:
    status = 4 if rc not in (0, 7) else 0
    return (f'<lrm_rsc_op id="{rsc}_{task}_{interval}" operation="{task}" '
            f'operation_key="{rsc}_{task}_{interval}" call-id="{call}" rc-code="{rc}" '
            f'op-status="{status}" interval="{interval}" transition-key="{call}:0:0:x" '
            f'transition-magic="0:{rc};{call}:0:0:x" on_node="node{node}"/>')


def _history(rsc: str, *ops: str) -> str:
    return (f'<lrm_resource id="{rsc}" class="ocf" provider="pacemaker" type="Dummy">'
            + "".join(ops) + "</lrm_resource>")


def _state(node: int, *histories: str) -> str:
    return (f'<node_state id="{node}" uname="node{node}" in_ccm="true" crmd="online" '
            f'join="member" expected="member"><lrm id="{node}"><lrm_resources>'
            + "".join(histories) + "</lrm_resources></lrm></node_state>")


def _prim(rid: str, *intervals: str) -> str:
    ops = "".join(f'<op id="{rid}-m-{i}" name="monitor" interval="{i}"/>'
                  for i in intervals or ("10s",))
    return (f'<primitive id="{rid}" class="ocf" provider="pacemaker" type="Dummy">'
            f"<operations>{ops}</operations></primitive>")


def _cib(resources: str, states: list[str], constraints: str = "", nodes: int = 2) -> str:
    node_list = "".join(f'<node id="{i}" uname="node{i}"/>' for i in range(1, nodes + 1))
    return f"""<cib have-quorum="1" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config><cluster_property_set id="o">
      <nvpair id="o1" name="stonith-enabled" value="false"/>
    </cluster_property_set></crm_config>
    <nodes>{node_list}</nodes>
    <resources>{resources}</resources>
    <constraints>{constraints}</constraints>
  </configuration>
  <status>{''.join(states)}</status>
</cib>"""


def _synapses(text: str) -> list[str]:
    graph = build_graph(schedule(parse_cib(text)))
    return [s.action.operation_key for s in graph]


def test_a_restarted_members_monitor_read_from_history_comes_last() -> None:
    # a's monitor failed: a recovers, b restarts. b's monitor is created while the history
    # is read, before b's stop and start, so it is listed after them.
    cib = _cib(
        '<group id="g">' + _prim("a") + _prim("b") + "</group>",
        [_state(1, _history("a", _op("a", "start", 0, 2, 1),
                            _op("a", "monitor", 10000, 3, 1, rc=1)),
                _history("b", _op("b", "start", 0, 4, 1), _op("b", "monitor", 10000, 5, 1))),
         _state(2, _history("a", _op("a", "monitor", 0, 1, 2, rc=7)),
                _history("b", _op("b", "monitor", 0, 1, 2, rc=7)))])
    assert _synapses(cib) == [
        "g_stopped_0", "g_stop_0", "g_running_0", "g_start_0",
        "a_start_0", "a_stop_0", "a_monitor_10000",
        "b_stop_0", "b_start_0", "b_monitor_10000"]


def test_recurring_monitors_follow_their_configuration_order() -> None:
    # Configured 10s then 5s: the 5s one is created last, so it is listed first.
    cib = _cib(_prim("rsc1", "10s", "5s"), [_state(1), _state(2)])
    assert _synapses(cib) == ["rsc1_monitor_5000", "rsc1_monitor_10000", "rsc1_start_0",
                              "rsc1_monitor_0", "rsc1_monitor_0"]


def test_optional_anti_colocation_with_a_clone_is_rolled_back_per_instance() -> None:
    # rsc1 prefers node3 (50) and avoids every instance of c (-100), which runs on all four
    # nodes. Applied instance by instance, the last one (node4) would leave no node with a
    # non-negative score and is rolled back: node4 (0) beats node3 (-50).
    states = []
    for n in (1, 2, 3, 4):
        mine = ((_op("rsc1", "start", 0, 3, n), _op("rsc1", "monitor", 10000, 4, n)) if n == 3
                else (_op("rsc1", "monitor", 0, 3, n, rc=7),))
        states.append(_state(n, _history("base", _op("base", "start", 0, 2, n)),
                             _history("rsc1", *mine)))
    cib = _cib('<clone id="c"><primitive id="base" class="ocf" provider="pacemaker" '
               'type="Dummy"/></clone>' + _prim("rsc1"), states,
               '<rsc_location id="l1" rsc="rsc1" node="node3" score="50"/>'
               '<rsc_colocation id="a" rsc="rsc1" with-rsc="c" score="-100"/>', nodes=4)
    assert "* Move rsc1 ( node3 -> node4 )" in summary_set(simulate(parse_cib(cib)).text())
