"""Transition -> TransitionGraph for the live controller, and the graph as Pacemaker's XML.

The graph is ``defib.graph.build``'s (shared with the simulator), plus the orderings that
run through actions it leaves out (kept transitively, so nothing loses an ordering).
``own_graph`` is the controller's independent builder, kept to cross-check the shared one.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

from defib.executor.metadata import parse_duration_ms
from defib.graph.build import build_graph as shared_build
from defib.graph.model import GraphAction, Synapse, TransitionGraph
from defib.graph.xml import graph_to_xml
from defib.scheduler import Transition
from defib.scheduler.actions import Action
from defib.scheduler.working import CloneRt, Prim

DEFAULT_TIMEOUT_MS = 20000


def build_graph(transition: Transition, transition_id: int) -> TransitionGraph:
    """The shared builder's graph (Pacemaker's inclusion rules), with orderings that run
    through left-out actions restored: when the scheduler leaves a collective's pseudo
    action optional, its children must still keep the order it carried."""
    return with_transitive_inputs(shared_build(transition, transition_id), transition)


def with_transitive_inputs(graph: TransitionGraph, transition: Transition) -> TransitionGraph:
    actions = transition.actions.actions
    in_graph = {s.action.id for s in graph}
    if any(i >= len(actions) or actions[i].uuid != (graph.action(i).internal_operation_key
                                                    or graph.action(i).operation_key)
           for i in in_graph):
        return graph  # not numbered as we expect: leave it as built
    index = {id(a): n for n, a in enumerate(actions)}
    memo: dict[int, frozenset[int]] = {}

    def reach(action: Action, seen: frozenset[int]) -> frozenset[int]:
        key = id(action)
        if key in memo:
            return memo[key]
        found: set[int] = set()
        for first, _flags in action.before:
            n = index.get(id(first))
            if n is None or id(first) in seen:
                continue
            if n in in_graph:
                found.add(n)
            else:
                found |= reach(first, seen | {id(first)})
        memo[key] = frozenset(found)
        return memo[key]

    # A recurring monitor runs after its resource's start/promote/demote on that node (the
    # role it checks exists only then), whether or not the scheduler said so.
    changes: dict[tuple[str | None, str | None], set[int]] = {}
    for synapse in graph:
        a = synapse.action
        if a.kind == "rsc_op" and a.operation in ("start", "promote", "demote"):
            changes.setdefault((a.rsc_long_id or a.rsc_id, a.node_uname), set()).add(a.id)

    synapses = []
    for synapse in graph:
        action = actions[synapse.action.id]
        extra = reach(action, frozenset({id(action)})) - {synapse.action.id}
        a = synapse.action
        if a.kind == "rsc_op" and a.operation == "monitor" and a.interval_ms > 0:
            extra |= changes.get((a.rsc_long_id or a.rsc_id, a.node_uname), set())
        inputs = tuple(sorted(set(synapse.inputs) | extra))
        synapses.append(dataclasses.replace(synapse, inputs=inputs))
    return dataclasses.replace(graph, synapses=tuple(synapses))


def _included(action: Action) -> bool:
    return action.runnable and (not action.optional)


def lrm_id(prim: Prim) -> str:
    parent = prim.parent
    while parent is not None:
        if isinstance(parent, CloneRt):
            return prim.id if parent.globally_unique else prim.base_id()
        parent = parent.parent
    return prim.id


def _timeout_ms(prim: Prim, task: str, interval_ms: int) -> int:
    for op in prim.operations:
        if op.name == task and op.interval_ms == interval_ms and op.timeout:
            return parse_duration_ms(op.timeout) or DEFAULT_TIMEOUT_MS
    for op in prim.operations:
        if op.name == task and op.timeout:
            return parse_duration_ms(op.timeout) or DEFAULT_TIMEOUT_MS
    return DEFAULT_TIMEOUT_MS


def graph_action(action: Action, action_id: int) -> GraphAction:
    node = action.node
    node_uname = node.uname if node else None
    node_id = node.id if node else None
    if action.task == "stonith":
        attrs = {"CRM_meta_stonith_action": action.extra.get("action", "reboot"),
                 "CRM_meta_on_node": node_uname or "", "CRM_meta_on_node_uuid": node_id or ""}
        return GraphAction(action_id, "crm_event", "stonith", action.uuid,
                           node_uname=node_uname, node_id=node_id,
                           attributes=tuple(sorted(attrs.items())))
    prim = action.rsc if isinstance(action.rsc, Prim) else None
    if action.pseudo or prim is None or node is None:
        return GraphAction(action_id, "pseudo_event", action.task, action.uuid,
                           rsc_id=action.rsc.id if action.rsc else None,
                           node_uname=node_uname, node_id=node_id)
    timeout = _timeout_ms(prim, action.task, action.interval_ms)
    attrs = dict(prim.params)
    attrs.update({
        "CRM_meta_on_node": node_uname or "", "CRM_meta_on_node_uuid": node_id or "",
        "CRM_meta_timeout": str(timeout), "CRM_meta_interval": str(action.interval_ms),
        "CRM_meta_name": action.task,
        "CRM_meta_op_target_rc": str(action.target_rc if action.target_rc is not None else 0),
    })
    return GraphAction(
        action_id, "rsc_op", action.task, action.uuid, rsc_id=lrm_id(prim),
        rsc_long_id=prim.id, rsc_class=prim.rsc_class, rsc_provider=prim.provider,
        rsc_type=prim.type, node_uname=node_uname, node_id=node_id,
        interval_ms=action.interval_ms, attributes=tuple(sorted(attrs.items())),
    )


def own_graph(transition: Transition, transition_id: int) -> TransitionGraph:
    actions = transition.actions.actions
    ids = {id(a): i for i, a in enumerate(a for a in actions if _included(a))}
    memo: dict[int, frozenset[int]] = {}

    def inputs_of(action: Action, seen: frozenset[int]) -> frozenset[int]:
        key = id(action)
        if key in memo:
            return memo[key]
        found: set[int] = set()
        for first, _flags in action.before:
            if id(first) in seen:
                continue  # an ordering loop: Pacemaker would refuse it; we do not hang
            if id(first) in ids:
                found.add(ids[id(first)])
            else:
                found |= inputs_of(first, seen | {id(first)})
        memo[key] = frozenset(found)
        return memo[key]

    synapses = []
    for action in actions:
        if id(action) not in ids:
            continue
        aid = ids[id(action)]
        inputs = inputs_of(action, frozenset({id(action)})) - {aid}
        synapses.append(Synapse(aid, graph_action(action, aid), tuple(sorted(inputs))))
    cfg = transition.working_set.config
    stonith_timeout = cfg.properties.get("stonith-timeout", "60s")
    return TransitionGraph(tuple(synapses), transition_id, stonith_timeout=stonith_timeout)


def _action_el(action: GraphAction) -> ET.Element:
    el: ET.Element = ET.Element(str(action.kind), {
        "id": str(action.id), "operation": action.operation,
        "operation_key": action.operation_key})
    if action.node_uname:
        el.set("on_node", action.node_uname)
        el.set("on_node_uuid", action.node_id or "")
    if action.kind == "rsc_op" and action.rsc_id:
        prim = {"id": action.rsc_id, "class": action.rsc_class or ""}
        if action.rsc_long_id and action.rsc_long_id != action.rsc_id:
            prim["long-id"] = action.rsc_long_id
        if action.rsc_provider:
            prim["provider"] = action.rsc_provider
        prim["type"] = action.rsc_type or ""
        ET.SubElement(el, "primitive", prim)
    ET.SubElement(el, "attributes", dict(action.attributes))
    return el


def graph_xml(graph: TransitionGraph) -> str:
    """The graph in Pacemaker's ``transition_graph`` format (pe-graph-N files)."""
    return graph_to_xml(graph)


def own_graph_xml(graph: TransitionGraph) -> str:
    root = ET.Element("transition_graph", {
        "cluster-delay": graph.cluster_delay, "stonith-timeout": graph.stonith_timeout,
        "failed-stop-offset": graph.failed_stop_offset,
        "failed-start-offset": graph.failed_start_offset,
        "transition_id": str(graph.transition_id),
    })
    for synapse in graph:
        syn = ET.SubElement(root, "synapse", {"id": str(synapse.id)})
        ET.SubElement(syn, "action_set").append(_action_el(synapse.action))
        inputs = ET.SubElement(syn, "inputs")
        for needed in synapse.inputs:
            trigger = ET.SubElement(inputs, "trigger")
            trigger.append(_action_el(graph.action(needed)))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"
