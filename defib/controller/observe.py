"""Reading the cluster's resource state out of a CIB (for status, tests, demo and bench)."""

from __future__ import annotations

from defib.controller.cibinput import parse_input
from defib.scheduler.pipeline import unpack


def resource_locations(cib_xml: str) -> dict[str, list[str]]:
    """Primitive id -> names of the nodes the status says it runs on (by its history)."""
    ws = unpack(parse_input(cib_xml), None)
    return {p.id: [n.uname for n in p.running_on] for p in ws.all_primitives()}


def node_attributes(cib_xml: str) -> dict[str, dict[str, str]]:
    """Node name -> transient attributes (fail counts included)."""
    ws = unpack(parse_input(cib_xml), None)
    out: dict[str, dict[str, str]] = {}
    for state in ws.cib.node_states:
        attrs: dict[str, str] = {}
        for nvset in state.transient_attributes:
            for name, value in nvset.pairs:
                attrs[name] = value
        out[state.uname or state.id] = attrs
    return out
