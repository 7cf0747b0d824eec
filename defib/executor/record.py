"""Operation results as CIB status entries, exactly as Pacemaker's controller records them.

Pure functions over ElementTree elements: the caller owns the CIB and its replication.

    <node_state id=... uname=...>
      <lrm id=NODE-ID>
        <lrm_resources>
          <lrm_resource id="rsc" type="Dummy" class="ocf" provider="heartbeat">
            <lrm_rsc_op id="rsc_last_0" .../>            latest non-recurring result
            <lrm_rsc_op id="rsc_last_failure_0" .../>    latest failure (any interval)
            <lrm_rsc_op id="rsc_monitor_10000" .../>     one per recurring operation
            <lrm_rsc_op id="rsc_migrate_to_0" .../>      migrations are kept apart

A failed non-recurring operation updates both ``rsc_last_failure_0`` and ``rsc_last_0``;
a failed recurring one updates only ``rsc_last_failure_0`` (its own entry keeps the
result it had). A stop cancels the resource's recurring operations, whose entries go.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from defib.cib.digest import DigestPolicy, op_digest, restart_digest, secure_digest
from defib.executor.types import ExecStatus, OcfRc, Operation, OpResult, ResourceInfo

FEATURE_SET = "3.16.2"  # Pacemaker 2.1.5
FAKE_TE_ID = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
PCMK_OCF_UNKNOWN = 193  # rc recorded for pending operations
# Actions whose entries carry restart/secure digests (Pacemaker's crm_op_needs_metadata).
_DIGEST_ACTIONS = frozenset({"start", "monitor", "promote", "demote", "reload", "reload-agent",
                             "migrate_to", "migrate_from", "notify"})


def _child(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    for el in parent.findall(tag):
        if "id" not in attrs or el.get("id") in (attrs["id"], None):
            return el
    return ET.SubElement(parent, tag, attrs)


def lrm_resource_el(node_state: ET.Element, rsc: ResourceInfo) -> ET.Element:
    """The ``lrm_resource`` element of ``rsc`` under ``node_state`` (created as needed)."""
    node_id = node_state.get("id") or node_state.get("uname") or ""
    lrm = _child(node_state, "lrm", id=node_id)
    resources = _child(lrm, "lrm_resources")
    for el in resources.findall("lrm_resource"):
        if el.get("id") == rsc.rsc_id:
            return el
    attrs = {"id": rsc.rsc_id, "type": rsc.agent, "class": rsc.standard}
    if rsc.provider:
        attrs["provider"] = rsc.provider
    return ET.SubElement(resources, "lrm_resource", attrs)


def transition_key(op: Operation, call_id: int) -> str:
    """The op's key, or the fake one Pacemaker makes for unscheduled operations."""
    if op.transition_key:
        return op.transition_key
    return f"{call_id}:-1:{op.target_rc}:{FAKE_TE_ID}"


def history_ids(result: OpResult) -> list[str]:
    """The ``lrm_rsc_op`` ids that ``result`` writes, in Pacemaker's order."""
    op, rid = result.op, result.op.rsc.rsc_id
    if op.action == "notify":
        return [f"{rid}_{op.meta.get('notify_type', '')}_notify_"
                f"{op.meta.get('notify_operation', '')}_0"]
    if op.action in ("migrate_to", "migrate_from"):
        return [op.key]
    if result.failed:
        return [f"{rid}_last_failure_0"] + ([f"{rid}_last_0"] if op.interval_ms == 0 else [])
    if op.interval_ms > 0:
        return [op.key]
    return [f"{rid}_last_0"]


def _recorded_task(result: OpResult) -> str:
    # A reload is recorded as a start when it worked, as a monitor when not, so that the
    # scheduler sees the resource's state without knowing about reloads.
    if result.op.action in ("reload", "reload-agent"):
        return "start" if result.status == ExecStatus.DONE else "monitor"
    return result.op.action


def _entry_attrs(
    result: OpResult,
    entry_id: str,
    node_name: str,
    policy: DigestPolicy | None,
    feature_set: str,
    origin: str,
) -> dict[str, str]:
    op = result.op
    task = _recorded_task(result)
    rc, status, reason = result.rc, result.status, result.exit_reason
    if op.action == "notify" and status != ExecStatus.PENDING:
        rc, status = int(OcfRc.OK), ExecStatus.DONE  # notify errors are ignored
    key = transition_key(op, result.call_id)
    if op.interval_ms and result.last_rc_change:
        changed = result.last_rc_change
    else:
        changed = result.started
    attrs = {
        "id": entry_id,
        "operation_key": f"{op.rsc.rsc_id}_{task}_{op.interval_ms}",
        "operation": task,
        "crm-debug-origin": origin,
        "crm_feature_set": feature_set,
        "transition-key": key,
        "transition-magic": f"{int(status)}:{rc};{key}",
        "exit-reason": reason if result.failed else "",
        "on_node": node_name,
        "call-id": str(result.call_id),
        "rc-code": str(rc),
        "op-status": str(int(status)),
        "interval": str(op.interval_ms),
        "last-rc-change": str(int(changed)),
        "exec-time": str(result.exec_ms),
        "queue-time": str(result.queue_ms),
    }
    if op.action in ("migrate_to", "migrate_from"):
        for name in ("migrate_source", "migrate_target"):
            if name in op.meta:
                attrs[name] = op.meta[name]
    params = op.all_params()
    attrs["op-digest"] = op_digest(params)
    if policy is not None and op.rsc.standard in ("ocf", "stonith") \
            and op.action in _DIGEST_ACTIONS:
        restart = restart_digest(params, policy)
        if restart is not None:
            attrs["op-force-restart"], attrs["op-restart-digest"] = restart
        secure = secure_digest(params, policy)
        if secure is not None:
            attrs["op-secure-params"], attrs["op-secure-digest"] = secure
    return attrs


def record_op(
    node_state: ET.Element,
    rsc: ResourceInfo,
    result: OpResult,
    *,
    node_name: str | None = None,
    policy: DigestPolicy | None = None,
    feature_set: str = FEATURE_SET,
    origin: str = "do_update_resource",
) -> list[ET.Element]:
    """Record ``result`` under ``node_state``; returns the entries written.

    ``policy`` comes from the agent's meta-data (``AgentMetadata.digest_policy``); without
    it only ``op-digest`` is written. Cancelled operations are not results: they remove
    their entry instead.
    """
    node = node_name or node_state.get("uname") or ""
    rsc_el = lrm_resource_el(node_state, rsc)
    op = result.op
    if result.status == ExecStatus.CANCELLED:
        forget_op(node_state, rsc.rsc_id, op.key)
        return []
    if op.action == "stop":
        # Stopping cancels every recurring operation of the resource first.
        keep = f"{rsc.rsc_id}_last_failure_0"
        for el in list(rsc_el.findall("lrm_rsc_op")):
            if el.get("interval", "0") not in ("0", "") and el.get("id") != keep:
                rsc_el.remove(el)
    written = []
    for entry_id in history_ids(result):
        attrs = _entry_attrs(result, entry_id, node, policy, feature_set, origin)
        found = [e for e in rsc_el.findall("lrm_rsc_op") if e.get("id") == entry_id]
        el = found[0] if found else ET.SubElement(rsc_el, "lrm_rsc_op")
        el.attrib.clear()
        el.attrib.update(attrs)
        written.append(el)
    return written


def record_pending(
    node_state: ET.Element,
    rsc: ResourceInfo,
    op: Operation,
    started: float,
    *,
    node_name: str | None = None,
    feature_set: str = FEATURE_SET,
) -> ET.Element:
    """Record ``op`` as in flight (op-status -1, rc 193, call-id -1), as Pacemaker's
    ``record-pending`` does, so that status shows what is being done."""
    pending = OpResult(op, PCMK_OCF_UNKNOWN, ExecStatus.PENDING, call_id=-1, started=started)
    return record_op(node_state, rsc, pending, node_name=node_name,
                     feature_set=feature_set, origin="do_update_resource")[0]


def forget_op(node_state: ET.Element, rsc_id: str, entry_id: str) -> bool:
    """Remove one entry (a cancelled recurring operation); True when it existed."""
    for rsc_el in node_state.iter("lrm_resource"):
        if rsc_el.get("id") != rsc_id:
            continue
        for el in rsc_el.findall("lrm_rsc_op"):
            if el.get("id") == entry_id:
                rsc_el.remove(el)
                return True
    return False


def forget_resource(node_state: ET.Element, rsc_id: str) -> bool:
    """Remove a resource's whole history on this node (a cleanup / refresh)."""
    for resources in node_state.iter("lrm_resources"):
        for el in resources.findall("lrm_resource"):
            if el.get("id") == rsc_id:
                resources.remove(el)
                return True
    return False
