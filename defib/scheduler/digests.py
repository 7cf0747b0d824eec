"""Has a resource's definition changed since it was started? (operation digests)"""

from __future__ import annotations

from defib.cib.digest import op_digest, restart_digest_for_list, secure_digest_for_list
from defib.cib.timespec import parse_ms
from defib.model.status import OpRecord
from defib.scheduler.rules import RuleContext, evaluate_nvsets
from defib.scheduler.working import Prim


def op_params(prim: Prim, task: str, interval_ms: int) -> dict[str, str]:
    params = dict(prim.params)
    for op in prim.operations:
        if op.name == task and op.interval_ms == interval_ms:
            params.update(evaluate_nvsets(op.instance_attributes, RuleContext()))
    return params


def recurring_changed(prim: Prim, record: OpRecord, default_timeout_ms: int) -> bool:
    """Whether a running recurring operation's definition (parameters, timeout) changed:
    Pacemaker then schedules it anew (the old one is cancelled with it)."""
    if prim.orphan or prim.implicit or record.op_digest is None:
        return False
    conf = next((op for op in prim.operations
                 if op.name == record.operation and op.interval_ms == record.interval_ms), None)
    if conf is None:
        return False  # no longer configured: cancelled, not rescheduled
    params = op_params(prim, record.operation, record.interval_ms)
    timeout = parse_ms(conf.timeout, None) if conf.timeout else None
    if op_digest(params, record.interval_ms, timeout or default_timeout_ms) == record.op_digest:
        return False
    return not _secure_match(prim, record, params)


def _secure_match(prim: Prim, record: OpRecord, params: dict[str, str]) -> bool:
    secure = dict(record.attributes).get("op-secure-params")
    if not record.op_secure_digest or secure is None:
        return False
    visible = params
    if prim.rsc_class == "stonith":
        # The fencer adds pcmk_* parameters that agents' meta-data never list.
        visible = {k: v for k, v in params.items() if not k.startswith("pcmk_")}
    return secure_digest_for_list(visible, secure) == record.op_secure_digest


def definition_change(prim: Prim, record: OpRecord) -> str | None:
    """'restart', 'reload' or None for a non-recurring operation record."""
    if prim.orphan or prim.implicit:
        return None  # a bundle's generated resources: Pacemaker computes their parameters
    if record.op_digest is None:
        return "restart"  # an unknown digest counts as a changed definition
    params = op_params(prim, record.operation, record.interval_ms)
    restart_list = record.op_force_restart or ""
    if record.op_restart_digest:
        if restart_digest_for_list(params, restart_list) != record.op_restart_digest:
            return "restart"
    calculated = op_digest(params)
    if calculated == record.op_digest:
        return None
    if _secure_match(prim, record, params):
        return None
    if record.op_restart_digest and not _has_op_params(prim, record.operation):
        return "reload"
    return "restart"


def _has_op_params(prim: Prim, task: str) -> bool:
    # Extra parameters on a non-recurring operation can't be reloaded: restart instead.
    return any(
        op.name == task and op.interval_ms == 0 and op.instance_attributes for op in prim.operations
    )
