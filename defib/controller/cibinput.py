"""Parsing the scheduler input, with a correction the shared CIB parser still needs.

``lrm_rsc_op`` intervals are milliseconds (Pacemaker writes ``interval="10000"``), but
``defib.cib.parse`` reads them as a time spec (bare number = seconds), which makes every
recorded recurring monitor look unknown and the scheduler re-schedule it forever. The
correction below re-reads the recorded attribute; it is a no-op once the parser is fixed.
"""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET

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


_ROOT_TAG = re.compile(r"<cib\b[^>]*>")


def stamp_input(cib_xml: str, quorate: bool, dc_id: str | None, when: int) -> str:
    """The CIB as the scheduler must see it (quorum, DC and execution date on its root, as
    Pacemaker's controller stamps them), without parsing the whole document again."""
    values = {"have-quorum": "1" if quorate else "0", "execution-date": str(when)}
    if dc_id is not None:
        values["dc-uuid"] = dc_id
    match = _ROOT_TAG.search(cib_xml)
    if match is None or match.group(0).endswith("/>"):
        root = ET.fromstring(cib_xml)
        root.attrib.update(values)
        return ET.tostring(root, encoding="unicode")
    tag = match.group(0)
    for name, value in values.items():
        present = re.compile(rf'\s{name}="[^"]*"')
        if present.search(tag):
            tag = present.sub(f' {name}="{value}"', tag, count=1)
        else:
            tag = f'{tag[:-1]} {name}="{value}">'
    return cib_xml[:match.start()] + tag + cib_xml[match.end():]


def parse_input(xml_text: str) -> Cib:
    cib = parse_cib(xml_text)
    return dataclasses.replace(cib, node_states=tuple(_fix_state(s) for s in cib.node_states))
