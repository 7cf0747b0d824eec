"""The transition graph in graphviz's dot language, as crm_simulate -D writes it: one node per
action named "operation_key node", one edge per dependency; every action of a graph is
runnable (green), pseudo actions are labelled in orange."""

from __future__ import annotations

from defib.graph.model import GraphAction, TransitionGraph


def _name(action: GraphAction) -> str:
    if action.is_fencing:
        how = action.attrs.get("CRM_meta_stonith_action", "reboot")
        text = f"stonith '{how}' {action.node_uname or ''}"
    else:
        text = action.operation_key + (f" {action.node_uname}" if action.node_uname else "")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def graph_to_dot(graph: TransitionGraph) -> str:
    lines = [' digraph "g" {']
    for synapse in graph.synapses:
        for input_id in synapse.inputs:
            lines.append(f"{_name(graph.action(input_id))} -> {_name(synapse.action)} "
                         "[ style = bold]")
    for synapse in graph.synapses:
        action = synapse.action
        font = "orange" if action.kind == "pseudo_event" else "black"
        lines.append(f'{_name(action)} [ style=bold color="green" fontcolor="{font}"]')
    lines.append("}")
    return "\n".join(lines) + "\n"
