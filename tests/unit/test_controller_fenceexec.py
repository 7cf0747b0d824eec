"""Where a fencing runs: which node has which device (location constraints), which plan
may fence a target (host lists, levels), and the plan as it travels to a peer."""

from __future__ import annotations

import datetime as dt

from defib.controller.cibinput import parse_input
from defib.controller.fenceexec import FencePlan, device_hosts, executors, may_fence
from defib.controller.harness import cib_xml, fence_device
from defib.fencing.fencer import FenceDevice, FencingLevel
from defib.scheduler import schedule
from defib.scheduler.unpack import WorkingSet

NODES = "".join(f'<node id="{i}" uname="node{i}"/>' for i in (1, 2, 3))
STATES = "".join(f'<node_state id="{i}" uname="node{i}" in_ccm="true" crmd="online"'
                 f' join="member" expected="member"/>' for i in (1, 2, 3))


def working_set(resources: str, constraints: str = "") -> WorkingSet:
    xml = cib_xml(resources, constraints, nodes=NODES).replace(
        "<status/>", f"<status>{STATES}</status>")
    return schedule(parse_input(xml), dt.datetime(2026, 1, 1)).working_set


def ban(rsc: str, node: str) -> str:
    return f'<rsc_location id="ban-{rsc}-{node}" rsc="{rsc}" node="{node}" score="-INFINITY"/>'


def test_devices_live_where_their_resource_is_allowed() -> None:
    ws = working_set(fence_device("f1") + fence_device("f2"), ban("f1", "node1"))
    assert device_hosts(ws) == {"f1": {"node2", "node3"}, "f2": {"node1", "node2", "node3"}}


def chain(ws: WorkingSet, target: str) -> list[tuple[str, list[str]]]:
    return [(node, [d.device_id for d in plan.devices])
            for node, plan in executors(ws, target, "node1", ["node1", "node2", "node3"])]


def test_the_dc_fences_itself_when_it_can_then_peers_with_untried_devices() -> None:
    ws = working_set(fence_device("f1", params={"pcmk_host_list": "node3"})
                     + fence_device("f2", params={"pcmk_host_list": "node2"}),
                     ban("f1", "node1"))
    assert chain(ws, "node2") == [("node1", ["f2"])]
    assert chain(ws, "node3") == [("node2", ["f1"])]
    # A device everywhere is tried once, on the DC; one only on a peer, after it.
    ws = working_set(fence_device("f1") + fence_device("f2"),
                     ban("f2", "node1") + ban("f2", "node3"))
    assert chain(ws, "node3") == [("node1", ["f1"]), ("node2", ["f2"])]
    # Only the target itself has a device for it: the DC tries (and fails, saying why).
    ws = working_set(fence_device("f1"), ban("f1", "node1") + ban("f1", "node2"))
    assert chain(ws, "node3") == [("node1", [])]


def test_levels_need_all_their_devices_and_the_plan_travels_whole() -> None:
    devices = (FenceDevice("a", "fence_x", {"ip": "198.18.0.9"}), FenceDevice("b", "fence_y"))
    levels = (FencingLevel("node3", 1, ("a", "c")), FencingLevel("node3", 2, ("a", "b")))
    plan = FencePlan(devices, levels, 30.0)
    assert may_fence(plan, "node3")
    assert not may_fence(FencePlan(devices, levels[:1], 30.0), "node3")
    assert may_fence(FencePlan(devices, (), 30.0), "node2")  # no host list: any node
    assert FencePlan.from_wire(plan.to_wire()) == plan
    assert plan.answer_within_s() == 70.0
