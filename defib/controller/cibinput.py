"""Parsing the scheduler input, with a correction the shared CIB parser still needs.

``lrm_rsc_op`` intervals are milliseconds (Pacemaker writes ``interval="10000"``), but
``defib.cib.parse`` reads them as a time spec (bare number = seconds), which makes every
recorded recurring monitor look unknown and the scheduler re-schedule it forever. The
correction below re-reads the recorded attribute; it is a no-op once the parser is fixed.
"""

from __future__ import annotations

import dataclasses

from defib.cib.parse import parse_cib
from defib.model.cib import Cib
from defib.model.status import LrmResource, NodeState, OpRecord


def _fix_op(op: OpRecord) -> OpRecord:
    raw = dict(op.attributes).get("interval")
    if raw is None or not raw.strip().isdigit() or int(raw) == op.interval_ms:
        return op
    return dataclasses.replace(op, interval_ms=int(raw))


def _fix_rsc(rsc: LrmResource) -> LrmResource:
    return dataclasses.replace(rsc, ops=tuple(_fix_op(op) for op in rsc.ops))


def _fix_state(state: NodeState) -> NodeState:
    return dataclasses.replace(state, lrm_resources=tuple(_fix_rsc(r)
                                                          for r in state.lrm_resources))


def parse_input(xml_text: str) -> Cib:
    cib = parse_cib(xml_text)
    return dataclasses.replace(cib, node_states=tuple(_fix_state(s) for s in cib.node_states))
