"""Writing simulated results into a CIB's status section, as the controller records them.

Each resource operation becomes an ``lrm_rsc_op`` in the history entry the resource already
has on that node (clone instances may be recorded under several names); fencing marks the node
down and wipes its history and attributes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from defib.graph.model import GraphAction
from defib.model.cib import Cib
from defib.model.status import LrmResource, NodeState, OpRecord

# Operations whose results do not change what the status section says runs where.
_NOT_RECORDED = frozenset({"delete", "meta-data", "cancel", "notify"})


def target_rc(action: GraphAction) -> int:
    text = action.attrs.get("CRM_meta_op_target_rc")
    return int(text) if text is not None and text.lstrip("-").isdigit() else 0


def history_entry(state: NodeState | None, action: GraphAction) -> LrmResource | None:
    """The history entry on the action's node that the action's result belongs to.

    Anonymous clone instances may be recorded under the clone's configuration name or under
    instance names (``rsc:2``) that need not match the instance the scheduler picked. A node
    runs at most one instance of an anonymous clone: the entry that says it is active there
    is the one Pacemaker matched to the running instance.
    """
    if state is None or not action.rsc_id:
        return None
    by_id = {lrm.id: lrm for lrm in state.lrm_resources}
    if not action.rsc_long_id or action.rsc_long_id == action.rsc_id:
        return by_id.get(action.rsc_id)
    prefix = action.rsc_id + ":"
    names = [action.rsc_long_id, action.rsc_id] + [
        lrm.id for lrm in state.lrm_resources
        if lrm.id.startswith(prefix) and lrm.id[len(prefix):].isdigit()]
    entries = [by_id[n] for n in dict.fromkeys(names) if n in by_id]
    active = [lrm for lrm in entries if active_history(lrm)]
    chosen = active or entries
    return chosen[0] if chosen else None


def active_history(lrm: LrmResource) -> bool:
    last = None
    for op in sorted(lrm.ops, key=lambda o: o.call_id):
        if op.interval_ms == 0 and op.operation not in _NOT_RECORDED:
            last = op
    if last is None:
        return False
    if last.operation == "monitor":
        return last.rc_code in (0, 8)
    return last.operation in ("start", "promote", "demote", "migrate_from") and last.rc_code == 0


def apply_results(cib: Cib, executed: Iterable[GraphAction],
                  rcs: Mapping[int, int] | None = None) -> Cib:
    """The CIB after ``executed`` actions all succeeded (or ended with ``rcs[action id]``)."""
    states = {s.id: s for s in cib.node_states}
    order = [s.id for s in cib.node_states]
    call_id = max((op.call_id for s in cib.node_states for r in s.lrm_resources
                   for op in r.ops), default=0)
    ids_by_uname = {n.uname: n.id for n in cib.nodes}
    for action in executed:
        node_id = action.node_id or ids_by_uname.get(action.node_uname or "", None)
        if node_id is None:
            continue
        if node_id not in states:
            states[node_id] = NodeState(id=node_id, uname=action.node_uname)
            order.append(node_id)
        state = states[node_id]
        if action.is_fencing:
            states[node_id] = _fenced(state, action.attrs.get("CRM_meta_stonith_action"))
        elif action.kind == "rsc_op" and action.rsc_id and action.operation not in _NOT_RECORDED:
            call_id += 1
            states[node_id] = _record(state, action, call_id, (rcs or {}).get(action.id))
    return dataclasses.replace(cib, node_states=tuple(states[i] for i in order))


def _fenced(state: NodeState, how: str | None) -> NodeState:
    if how == "on":
        return dataclasses.replace(state, in_ccm="true", crmd="online", join="member",
                                   expected="member")
    # The fenced node is down and the controller wipes its history and attributes.
    return dataclasses.replace(state, in_ccm="false", crmd="offline", join="down",
                               expected="down", lrm_resources=(), transient_attributes=())


def _record(state: NodeState, action: GraphAction, call_id: int,
            rc: int | None = None) -> NodeState:
    rsc_id = action.rsc_id or ""
    expected = target_rc(action)
    rc = expected if rc is None else rc
    if rc != expected:
        # A failure is kept as last_failure (and a one-shot operation's also as last).
        op_ids = [f"{rsc_id}_last_failure_0"] + (
            [f"{rsc_id}_last_0"] if action.interval_ms == 0 else [])
    else:
        op_ids = [f"{rsc_id}_last_0" if action.interval_ms == 0
                  else f"{rsc_id}_{action.operation}_{action.interval_ms}"]
    key = f"{action.id}:0:{expected}:00000000-0000-0000-0000-defib0000000"
    record = OpRecord(
        id=op_ids[0], operation=action.operation, interval_ms=action.interval_ms,
        call_id=call_id, rc_code=rc, op_status=0, operation_key=action.operation_key,
        transition_key=key, transition_magic=f"0:{rc};{key}", on_node=action.node_uname,
        migrate_source=action.attrs.get("CRM_meta_migrate_source"),
        migrate_target=action.attrs.get("CRM_meta_migrate_target"),
    )
    resources = list(state.lrm_resources)
    entry = history_entry(state, action)
    if entry is not None and entry.id != rsc_id:
        # Pacemaker names the record after the entry it joins.
        op_ids = [op_id.replace(rsc_id, entry.id, 1) for op_id in op_ids]
    records = tuple(dataclasses.replace(record, id=op_id) for op_id in op_ids)
    if entry is not None:
        n = resources.index(entry)
        ops = tuple(op for op in entry.ops if op.id not in op_ids) + records
        resources[n] = dataclasses.replace(entry, ops=ops)
    else:
        resources.append(LrmResource(id=rsc_id, rsc_class=action.rsc_class,
                                     provider=action.rsc_provider, type=action.rsc_type,
                                     ops=records))
    return dataclasses.replace(state, lrm_resources=tuple(resources), has_lrm=True)


# -- the whole simulation -----------------------------------------------------------------------

