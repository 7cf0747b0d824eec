"""A stand-in for the cluster acting on a ``MemoryEnv`` in unit tests: each step runs the
graph the scheduler computes on the current CIB and records every resource operation as
succeeded, with the recorder the real nodes use (crm_simulate -S, one transition a step)."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

from defib.commands.env import MemoryEnv
from defib.executor.record import record_op
from defib.executor.types import ExecStatus, Operation, OpResult, ResourceInfo


def _node_state(root: ET.Element, uname: str, node_id: str | None) -> ET.Element:
    status = root.find("status")
    if status is None:
        status = ET.SubElement(root, "status")
    for state in status.findall("node_state"):
        if state.get("uname") == uname:
            return state
    return ET.SubElement(status, "node_state", {
        "id": node_id or uname, "uname": uname, "in_ccm": "true", "crmd": "online",
        "join": "member", "expected": "member"})


def step(env: MemoryEnv) -> int:
    """Run one transition; the number of resource operations recorded."""
    from defib.controller.cibinput import parse_input
    from defib.graph.build import build_graph
    from defib.scheduler import schedule

    graph = build_graph(schedule(parse_input(env.xml), env.now()), 1)
    root = ET.fromstring(env.xml)
    done = 0
    for call_id, synapse in enumerate(graph, start=1):
        action = synapse.action
        if action.kind != "rsc_op" or not action.node_uname or not action.rsc_id:
            continue
        rsc = ResourceInfo(action.rsc_id, action.rsc_class or "ocf", action.rsc_type or "",
                           action.rsc_provider)
        key = f"{action.id}:1:{action.attrs.get('CRM_meta_op_target_rc', '0')}:fake"
        op = Operation.from_attributes(rsc, action.operation, action.attrs, key)
        status = ExecStatus.DONE
        if action.operation == "cancel":
            # As a node's executor reports a cancel: the recurring operation, cancelled
            # (its history entry goes).
            op = dataclasses.replace(op, action=action.attrs.get("CRM_meta_operation",
                                                                 "monitor"))
            status = ExecStatus.CANCELLED
        result = OpResult(op, op.target_rc, status, call_id=call_id, started=env.clock)
        record_op(_node_state(root, action.node_uname, action.node_id), rsc, result)
        done += 1
    root.set("num_updates", str(int(root.get("num_updates", "0")) + 1))
    env.xml = ET.tostring(root, encoding="unicode")
    return done


def settle(env: MemoryEnv, limit: int = 20) -> None:
    for _ in range(limit):
        if not step(env):
            return
