"""Graph building from a real scheduler run, and the XML round trip."""

from __future__ import annotations

import pytest

from defib.cib.parse import parse_cib
from defib.errors import CibParseError
from defib.graph.build import build_graph, natural_key
from defib.graph.xml import graph_from_xml, graph_to_xml
from defib.scheduler import schedule

CIB = """<cib have-quorum="1" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config><cluster_property_set id="o">
      <nvpair id="o1" name="stonith-enabled" value="false"/>
    </cluster_property_set></crm_config>
    <nodes>
      <node id="1" uname="node1"/>
      <node id="2" uname="node2"><instance_attributes id="n2">
        <nvpair id="n2s" name="standby" value="on"/></instance_attributes></node>
    </nodes>
    <resources>
      <group id="grp">
        <primitive id="ip" class="ocf" provider="heartbeat" type="IPaddr2">
          <instance_attributes id="ip-i"><nvpair id="ip-a" name="ip" value="198.18.0.10"/>
          </instance_attributes>
          <operations><op id="ip-m" name="monitor" interval="10s" timeout="30s"/></operations>
        </primitive>
        <primitive id="web" class="ocf" provider="heartbeat" type="apache"/>
      </group>
    </resources>
    <constraints/>
  </configuration>
  <status>
    <node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member">
      <lrm id="1"><lrm_resources/></lrm>
    </node_state>
    <node_state id="2" uname="node2" in_ccm="true" crmd="online" join="member" expected="member">
      <lrm id="2"><lrm_resources>
        <lrm_resource id="ip" class="ocf" provider="heartbeat" type="IPaddr2">
          <lrm_rsc_op id="ip_last_0" operation="start" operation_key="ip_start_0" call-id="3"
            rc-code="0" op-status="0" interval="0" transition-key="1:0:0:x"
            transition-magic="0:0;1:0:0:x" on_node="node2"/>
        </lrm_resource>
        <lrm_resource id="web" class="ocf" provider="heartbeat" type="apache">
          <lrm_rsc_op id="web_last_0" operation="start" operation_key="web_start_0" call-id="4"
            rc-code="0" op-status="0" interval="0" transition-key="2:0:0:x"
            transition-magic="0:0;2:0:0:x" on_node="node2"/>
        </lrm_resource>
      </lrm_resources></lrm>
    </node_state>
  </status>
</cib>"""


def _keys(graph):  # type: ignore[no-untyped-def]
    return {(s.action.operation_key, s.action.node_uname) for s in graph}


def test_group_move_off_standby_node() -> None:
    graph = build_graph(schedule(parse_cib(CIB)))
    keys = _keys(graph)
    for wanted in [("ip_stop_0", "node2"), ("web_stop_0", "node2"), ("ip_start_0", "node1"),
                   ("web_start_0", "node1"), ("ip_monitor_10000", "node1")]:
        assert wanted in keys
    by_key = {(s.action.operation_key, s.action.node_uname): s for s in graph}
    start = by_key[("ip_start_0", "node1")]
    stop = by_key[("ip_stop_0", "node2")]
    assert stop.action.id in start.inputs
    monitor = by_key[("ip_monitor_10000", "node1")].action
    assert monitor.attrs["CRM_meta_interval"] == "10000"
    assert monitor.attrs["CRM_meta_timeout"] == "30000"
    assert monitor.attrs["ip"] == "198.18.0.10"
    assert stop.action.rsc_type == "IPaddr2" and stop.action.kind == "rsc_op"


def test_only_required_runnable_actions_and_edges_between_them() -> None:
    transition = schedule(parse_cib(CIB))
    graph = build_graph(transition)
    in_graph = {(s.action.operation_key, s.action.node_uname) for s in graph}
    for action in transition.actions.actions:
        key = (action.uuid, action.node.uname if action.node and not action.pseudo else None)
        if action.optional or not action.runnable:
            assert key not in in_graph
    ids = {s.action.id for s in graph}
    assert all(set(s.inputs) <= ids for s in graph)
    assert [s.id for s in graph] == list(range(len(graph)))


def test_xml_round_trip() -> None:
    graph = build_graph(schedule(parse_cib(CIB)))
    text = graph_to_xml(graph)
    assert text.startswith("<transition_graph ")
    again = graph_from_xml(text)
    assert [s.action for s in again] == [s.action for s in graph]
    assert [s.inputs for s in again] == [s.inputs for s in graph]


def test_bad_graph_xml() -> None:
    with pytest.raises(CibParseError):
        graph_from_xml("<transition_graph><synapse")
    with pytest.raises(CibParseError):
        graph_from_xml("<cib/>")


def test_natural_node_order() -> None:
    names = ["node10", "Node2", "node1", "alpha"]
    assert sorted(names, key=natural_key) == ["alpha", "node1", "Node2", "node10"]


def test_action_meta_like_pacemaker() -> None:
    from defib.simulate.demo import load_sample, lose_node

    graph = build_graph(schedule(lose_node(load_sample(), "alpha")))
    by_key = {s.action.operation_key: s.action for s in graph}
    promote = next(a for k, a in by_key.items() if k.endswith("_promote_0") and a.rsc_id == "db")
    attrs = promote.attrs
    assert attrs["CRM_meta_clone_max"] == "3" and attrs["CRM_meta_clone_node_max"] == "1"
    assert attrs["CRM_meta_promoted_max"] == attrs["CRM_meta_master_max"] == "1"
    assert attrs["CRM_meta_globally_unique"] == "false" and attrs["CRM_meta_notify"] == "false"
    assert attrs["CRM_meta_clone"] == promote.rsc_long_id.split(":")[1]  # type: ignore[union-attr]
    assert attrs["CRM_meta_timeout"] == "20000"
    clone_pseudo = by_key["db-clone_promote_0"].attrs
    assert "CRM_meta_clone" not in clone_pseudo and clone_pseudo["CRM_meta_clone_max"] == "3"
    monitor = next(a for k, a in by_key.items() if k == "web-server_monitor_30000")
    assert monitor.attrs["CRM_meta_timeout"] == "40000"
    assert monitor.attrs["CRM_meta_name"] == "monitor"
    assert monitor.attrs["configfile"] == "/etc/apache2/apache2.conf"


def test_probe_takes_the_shortest_monitors_timeout() -> None:
    transition = schedule(parse_cib(CIB))
    probes = [a for a in transition.actions.actions if a.task == "monitor" and a.interval_ms == 0]
    if not probes:
        pytest.skip("the scheduler schedules no probe for this CIB")
    from defib.graph.build import to_graph_action

    probe = next(a for a in probes if a.rsc is not None and a.rsc.id == "ip")
    assert to_graph_action(probe, 1).attrs["CRM_meta_timeout"] == "30000"
    assert to_graph_action(probe, 1).attrs["CRM_meta_op_target_rc"] == "7"
