"""The CIB after a simulated transition, as crm_simulate ``-O`` / ``-X`` writes it.

Each executed resource operation is recorded in the status section as the controller would
(its result, digest and call id under the history entry it belongs to; a failure also as
``last_failure`` with its fail count); fencing takes the node down and wipes its history and
transient attributes. The result can be read again (``-x``) to simulate what happens next.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping

from defib.cib.digest import op_digest
from defib.cib.parse import xml_root
from defib.graph.model import GraphAction
from defib.simulate.engine import Simulation
from defib.simulate.inject import history_entry, target_rc
from defib.simulate.whatif import (
    add_op_result,
    counts_as_failure,
    inject_failcount,
    node_state,
    to_int,
)

_NOT_RECORDED = frozenset({"delete", "meta-data", "cancel", "notify"})


def revised_xml(input_xml: str | bytes, sim: Simulation, rcs: Mapping[int, int],
                failed_names: Mapping[int, str], now_ts: int) -> str:
    root = xml_root(input_xml)
    states = {s.uname: s for s in sim.cib.node_states}
    for action in sim.executed:
        uname = action.node_uname
        if not uname:
            continue
        if action.is_fencing:
            _fenced(node_state(root, uname), action.attrs.get("CRM_meta_stonith_action"))
        elif (action.kind == "rsc_op" and action.rsc_id
              and action.operation not in _NOT_RECORDED):
            entry = history_entry(states.get(uname), action)
            _record(root, action, entry.id if entry else action.rsc_id, rcs.get(action.id),
                    failed_names.get(action.id), now_ts)
    root.set("num_updates", str(to_int(root.get("num_updates")) + 1))
    return ET.tostring(root, encoding="unicode")


def _fenced(state: ET.Element, how: str | None) -> None:
    up = how == "on"
    for name, value in zip(("in_ccm", "crmd", "join", "expected"),
                           ("true", "online", "member", "member") if up
                           else ("false", "offline", "down", "down"), strict=True):
        state.set(name, value)
    if not up:
        for child in state.findall("lrm") + state.findall("transient_attributes"):
            state.remove(child)


def _record(root: ET.Element, action: GraphAction, name: str, rc: int | None,
            failed_name: str | None, now_ts: int) -> None:
    uname = action.node_uname or ""
    state = node_state(root, uname)
    lrm = state.find("lrm")
    if lrm is None:
        lrm = ET.SubElement(state, "lrm", {"id": state.get("id", uname)})
    resources = lrm.find("lrm_resources")
    if resources is None:
        resources = ET.SubElement(lrm, "lrm_resources")
    entry = next((e for e in resources.findall("lrm_resource") if e.get("id") == name), None)
    if entry is None:
        agent = {k: v for k, v in (("class", action.rsc_class), ("provider", action.rsc_provider),
                                   ("type", action.rsc_type)) if v is not None}
        entry = ET.SubElement(resources, "lrm_resource", {"id": name, **agent})
    call_id = 1 + max((to_int(op.get("call-id")) for op in entry.findall("lrm_rsc_op")),
                      default=0)
    expected = target_rc(action)
    result = expected if rc is None else rc
    add_op_result(entry, name, action.operation, action.interval_ms, result, expected, call_id,
                  now_ts, "User-injected result" if result != expected else "", uname)
    digest = op_digest(action.attrs)
    for op in entry.findall("lrm_rsc_op"):
        if op.get("call-id") == str(call_id):
            op.set("op-digest", digest)
            for attr in ("migrate_source", "migrate_target"):
                if (value := action.attrs.get(f"CRM_meta_{attr}")) is not None:
                    op.set(attr, value)
    if failed_name is not None and result != expected and counts_as_failure(
            result, action.interval_ms):
        inject_failcount(state, failed_name, action.operation, action.interval_ms, now_ts)
