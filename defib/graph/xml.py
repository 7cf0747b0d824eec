"""Transition graph <-> Pacemaker's ``<transition_graph>`` XML (what ``crm_simulate -G`` writes)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from defib.errors import CibParseError
from defib.graph.model import ActionKind, GraphAction, Synapse, TransitionGraph

_KINDS: tuple[ActionKind, ...] = ("rsc_op", "pseudo_event", "crm_event")
_KIND_OF: dict[str, ActionKind] = {k: k for k in _KINDS}


_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                          "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def _attr(name: str, value: str) -> str:
    return f'{name}="{value.translate(_ESCAPES)}"'  # quoteattr is 5x slower on big graphs


def _head(action: GraphAction) -> str:
    parts = [_attr("id", str(action.id)), _attr("operation", action.operation),
             _attr("operation_key", action.operation_key)]
    if action.internal_operation_key is not None:
        parts.append(_attr("internal_operation_key", action.internal_operation_key))
    if action.node_uname is not None:
        parts.append(_attr("on_node", action.node_uname))
        parts.append(_attr("on_node_uuid", action.node_id or action.node_uname))
    return f"<{action.kind} " + " ".join(parts)


def _action_lines(action: GraphAction, indent: str) -> list[str]:
    lines = [f"{indent}{_head(action)}>"]
    if action.kind == "rsc_op" and action.rsc_id is not None:
        prim = [_attr("id", action.rsc_id)]
        if action.rsc_long_id is not None and action.rsc_long_id != action.rsc_id:
            prim.append(_attr("long-id", action.rsc_long_id))
        if action.rsc_class is not None:
            prim.append(_attr("class", action.rsc_class))
        if action.rsc_provider is not None:
            prim.append(_attr("provider", action.rsc_provider))
        if action.rsc_type is not None:
            prim.append(_attr("type", action.rsc_type))
        lines.append(f"{indent}  <primitive {' '.join(prim)}/>")
    attrs = " ".join(_attr(k, v) for k, v in action.attributes)
    lines.append(f"{indent}  <attributes {attrs} />")
    lines.append(f"{indent}</{action.kind}>")
    return lines


def graph_to_xml(graph: TransitionGraph) -> str:
    out = [
        "<transition_graph "
        + " ".join([
            _attr("cluster-delay", graph.cluster_delay),
            _attr("stonith-timeout", graph.stonith_timeout),
            _attr("failed-stop-offset", graph.failed_stop_offset),
            _attr("failed-start-offset", graph.failed_start_offset),
        ])
        + ("" if not graph.batch_limit else " " + _attr("batch-limit", str(graph.batch_limit)))
        + "  " + _attr("transition_id", str(graph.transition_id)) + ">"
    ]
    for synapse in graph:
        head = f'  <synapse id="{synapse.id}"'
        if synapse.priority:
            head += f' priority="{synapse.priority}"'
        out.append(head + ">")
        out.append("    <action_set>")
        out.extend(_action_lines(synapse.action, "      "))
        out.append("    </action_set>")
        if not synapse.inputs:
            out.append("    <inputs/>")
        else:
            out.append("    <inputs>")
            for input_id in synapse.inputs:
                out.append("      <trigger>")
                out.append(f"        {_head(graph.action(input_id))}/>")
                out.append("      </trigger>")
            out.append("    </inputs>")
        out.append("  </synapse>")
    out.append("</transition_graph>")
    return "\n".join(out) + "\n"


def _read_action(element: ET.Element) -> GraphAction:
    kind = element.tag
    if kind not in _KINDS:
        raise CibParseError(f"unknown graph action <{kind}>", element.get("id"))
    prim = element.find("primitive")
    attrs_el = element.find("attributes")
    attributes = tuple(sorted(attrs_el.attrib.items())) if attrs_el is not None else ()
    interval = dict(attributes).get("CRM_meta_interval", "0")
    return GraphAction(
        id=int(element.get("id", "-1")),
        kind=_KIND_OF[kind],
        operation=element.get("operation", ""),
        operation_key=element.get("operation_key", ""),
        internal_operation_key=element.get("internal_operation_key"),
        rsc_id=prim.get("id") if prim is not None else None,
        rsc_long_id=prim.get("long-id") if prim is not None else None,
        rsc_class=prim.get("class") if prim is not None else None,
        rsc_provider=prim.get("provider") if prim is not None else None,
        rsc_type=prim.get("type") if prim is not None else None,
        node_uname=element.get("on_node"),
        node_id=element.get("on_node_uuid"),
        interval_ms=int(interval) if interval.isdigit() else 0,
        attributes=attributes,
    )


def graph_from_xml(text: str | bytes) -> TransitionGraph:
    """Read a ``<transition_graph>`` (ours or Pacemaker's) back into a TransitionGraph."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise CibParseError(f"malformed transition graph XML: {exc}") from exc
    if root.tag != "transition_graph":
        raise CibParseError(f"root element is <{root.tag}>, expected <transition_graph>")
    synapses: list[Synapse] = []
    for syn in root.findall("synapse"):
        action_set = syn.find("action_set")
        if action_set is None or len(action_set) == 0:
            raise CibParseError("synapse without an action", syn.get("id"))
        action = _read_action(action_set[0])
        inputs: list[int] = []
        for trigger in syn.iterfind("inputs/trigger"):
            for element in trigger:
                inputs.append(int(element.get("id", "-1")))
        synapses.append(Synapse(int(syn.get("id", "0")), action, tuple(inputs),
                                int(syn.get("priority", "0"))))
    return TransitionGraph(
        tuple(synapses),
        transition_id=int(root.get("transition_id", "0")),
        cluster_delay=root.get("cluster-delay", "60s"),
        stonith_timeout=root.get("stonith-timeout", "60s"),
        failed_stop_offset=root.get("failed-stop-offset", "INFINITY"),
        failed_start_offset=root.get("failed-start-offset", "INFINITY"),
        batch_limit=int(root.get("batch-limit", "0")),
    )
