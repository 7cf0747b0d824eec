"""The controller's pure parts: attributes, status rules, graph building, pe series, overlaps.

(Fast; no daemons. The claims about the live cluster are in test_failover*.py.)
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from defib.attrd import store as attrd
from defib.controller import status as st
from defib.controller.cibinput import parse_input
from defib.controller.harness import cib_xml, fence_device, overlaps, primitive
from defib.executor.record import record_op
from defib.executor.types import ExecStatus, Operation, OpResult, ResourceInfo
from defib.graph.build import build_graph
from defib.graph.xml import graph_to_xml
from defib.history.series import PeSeries
from defib.scheduler import schedule


def node_state(node_id: str = "2") -> ET.Element:
    return ET.Element("node_state", {"id": node_id, "uname": f"node{node_id}"})


def test_fail_counts_as_attrd_writes_them() -> None:
    ns = node_state()
    assert attrd.record_failure(ns, "web", "monitor", 10000, 1700000000.0) == 1
    assert attrd.record_failure(ns, "web", "monitor", 10000, 1700000005.0) == 2
    attrs = attrd.get_attrs(ns)
    assert attrs["fail-count-web#monitor_10000"] == "2"
    assert attrs["last-failure-web#monitor_10000"] == "1700000005"
    nv = ns.find("transient_attributes/instance_attributes/nvpair")
    assert nv is not None and nv.get("id") == "status-2-fail-count-web.monitor_10000"
    assert attrd.record_failure(ns, "db", "start", 0, 1.0, fatal=True) == attrd.INFINITY
    assert attrd.get_attrs(ns)["fail-count-db#start_0"] == "INFINITY"
    assert sorted(attrd.cleanup(ns, "web")) == ["fail-count-web#monitor_10000",
                                                "last-failure-web#monitor_10000"]
    assert set(attrd.get_attrs(ns)) == {"fail-count-db#start_0", "last-failure-db#start_0"}


def test_membership_states() -> None:
    lrm = ET.fromstring('<lrm id="x"><lrm_resources><lrm_resource id="a" class="ocf"'
                        ' provider="heartbeat" type="Dummy"/></lrm_resources></lrm>')
    member = st.member_state(None, "2", "node2", True, lrm)
    assert member.get("join") == "member" and member.get("expected") == "member"
    assert member.find("lrm").get("id") == "2"  # type: ignore[union-attr]
    assert st.member_state(None, "2", "node2", False, None).get("join") == "pending"
    lost = st.lost_state(member, "2", "node2")
    assert (lost.get("in_ccm"), lost.get("crmd"), lost.get("expected")) == (
        "false", "offline", "member")
    assert st.known_resources(lost.find("lrm")) == {"a"}
    attrd.set_attr(lost, "fail-count-a#start_0", "1")
    fenced = st.fenced_state(lost, "2", "node2")
    assert fenced.get("expected") == "down"
    assert st.known_resources(fenced.find("lrm")) == set()
    assert fenced.find("transient_attributes") is None


def _history_of_d() -> str:
    """node2's history of "d" (started, monitored every 1s) as the executor records it."""
    ns = node_state("2")
    rsc = ResourceInfo("d", "ocf", "Dummy", "heartbeat")
    for call, (action, interval) in enumerate((("start", 0), ("monitor", 1000)), 2):
        op = Operation(rsc, action, interval, 20000, {}, {}, f"{call}:1:0:x")
        record_op(ns, rsc, OpResult(op, 0, ExecStatus.DONE, call_id=call, started=1.0),
                  node_name="node2")
    lrm = ns.find("lrm")
    assert lrm is not None
    return ET.tostring(lrm, encoding="unicode")


def _lost_node_cib() -> str:
    lrm = _history_of_d()
    root = ET.fromstring(cib_xml(fence_device() + primitive("d", "ocf", "Dummy", "heartbeat")))
    status = root.find("status")
    assert status is not None
    for i in (1, 2, 3):
        state = st.member_state(None, str(i), f"node{i}", True,
                                ET.fromstring(lrm) if i == 2 else None)
        status.append(st.lost_state(state, "2", "node2") if i == 2 else state)
    nodes = st.ensure_nodes(root, [(str(i), f"node{i}") for i in (1, 2, 3)])
    assert nodes is not None
    config = root.find("configuration")
    assert config is not None
    config.remove(config.find("nodes"))  # type: ignore[arg-type]
    config.insert(1, nodes)
    return st.scheduler_input(ET.tostring(root, encoding="unicode"), True, "1")


def test_lost_node_graph_fences_before_recovery() -> None:
    transition = schedule(parse_input(_lost_node_cib()))
    graph = build_graph(transition, 7)
    by_key = {s.action.operation_key: s for s in graph}
    fence = by_key["stonith-node2-reboot"]
    start = next(s for s in graph if s.action.operation == "start" and s.action.rsc_id == "d")
    # The start waits (through the pseudo stop) for the fencing.
    stop = by_key["d_stop_0"]
    assert stop.action.kind == "pseudo_event"
    assert fence.action.id in stop.inputs and stop.action.id in start.inputs
    assert start.action.node_uname in ("node1", "node3")
    assert start.action.attrs["CRM_meta_timeout"] == "20000"
    xml = ET.fromstring(graph_to_xml(graph))
    assert xml.get("transition_id") == "7"
    assert xml.find("synapse/action_set/crm_event[@operation='stonith']") is not None


def test_recorded_recurring_monitor_is_not_rescheduled() -> None:
    """lrm_rsc_op intervals are milliseconds; a known monitor needs no new action."""
    root = ET.fromstring(_lost_node_cib())
    for ns in root.iter("node_state"):
        if ns.get("id") == "2":
            ns.attrib.update({"in_ccm": "true", "crmd": "online"})
    transition = schedule(parse_input(ET.tostring(root, encoding="unicode")))
    required = [a.uuid for a in transition.actions.actions if not a.optional and a.rsc
                and a.rsc.id == "d" and a.node is not None and a.node.uname == "node2"]
    assert required == []


def test_pe_series_is_bounded_and_continues(tmp_path: Path) -> None:
    series = PeSeries(tmp_path, keep=3)
    for _ in range(5):
        n = series.next_number()
        series.save("input", n, f"<cib n='{n}'/>")
        series.save("graph", n, "<transition_graph/>")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"pe-{k}-{n}.xml" for k in ("graph", "input") for n in (2, 3, 4)]
    assert PeSeries(tmp_path).next_number() == 5
    assert series.latest() == tmp_path / "pe-input-4.xml"


def test_overlaps_use_stops_and_fencing() -> None:
    log = ("start 10.0 node1 r\n"
           "start 12.0 node2 r\n")
    assert overlaps(log, {}) != []
    assert overlaps(log, {"node1": [11.0]}) == []
    assert overlaps(log, {"node1": [13.0]}) != []
    assert overlaps("start 1 node1 r\nstop 2 node1 r\nstart 3 node2 r\n", {}) == []


def test_node_executor_runs_ops_and_cancels_recurring(tmp_path: Path) -> None:
    """The node side over the in-memory layer, with the real Dummy agent."""
    import asyncio

    from defib.cluster.layer import Delivery, InMemoryHub
    from defib.controller import wire
    from defib.controller.lrm import LrmService, NodeExecutor

    async def scenario() -> list[dict[str, object]]:
        hub = InMemoryHub({1: 1})
        layer = hub.layer(1)
        results: list[dict[str, object]] = []

        def collect(d: Delivery) -> None:
            if d.payload.get("t") == wire.RESULT:
                results.append(d.payload)

        layer.on_deliver(collect)
        lrm = LrmService(layer, 1, "node1", NodeExecutor.for_node("node1", tmp_path / "run"))
        await lrm.start()
        await layer.join()

        async def send(action: str, interval: int, key: str, **meta: str) -> None:
            spec = wire.OpSpec("node1", "d", "ocf", "Dummy", "heartbeat", action, interval,
                               10000, {}, dict(meta), key)
            layer.send_ordered(spec.to_wire())
            for _ in range(200):
                await asyncio.sleep(0.02)
                if any(r["key"] == key for r in results):
                    return

        await send("start", 0, "1:1:0:x")
        await send("monitor", 500, "2:1:0:x")
        await send("cancel", 500, "3:1:0:x", operation="monitor")
        assert lrm.recurring.active() == []
        await lrm.stop()
        return results

    results = asyncio.run(scenario())
    by_key = {r["key"]: r for r in results}
    assert by_key["1:1:0:x"]["rc"] == 0 and not by_key["1:1:0:x"]["failed"]
    assert by_key["2:1:0:x"]["rc"] == 0
    cancel = by_key["3:1:0:x"]
    assert not cancel["failed"] and "d_monitor_500" not in str(cancel["entry"])
    assert "d_last_0" in str(cancel["entry"])
