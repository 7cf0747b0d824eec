"""The status section: node membership, transient attributes, operation history."""

from __future__ import annotations

from dataclasses import dataclass

from defib.model.nvsets import NvSet


@dataclass(frozen=True, slots=True)
class OpRecord:
    id: str
    operation: str
    interval_ms: int = 0
    call_id: int = 0
    rc_code: int = 0
    op_status: int = 0
    operation_key: str | None = None
    transition_key: str | None = None
    transition_magic: str | None = None
    op_digest: str | None = None
    op_restart_digest: str | None = None
    op_secure_digest: str | None = None
    op_force_restart: str | None = None
    last_rc_change: int | None = None
    last_run: int | None = None
    exec_time: int | None = None
    queue_time: int | None = None
    on_node: str | None = None
    exit_reason: str | None = None
    migrate_source: str | None = None
    migrate_target: str | None = None
    crm_feature_set: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class LrmResource:
    id: str
    rsc_class: str | None = None
    provider: str | None = None
    type: str | None = None
    container: str | None = None
    ops: tuple[OpRecord, ...] = ()
    shutdown_lock: int | None = None  # epoch: locked to this node since its shutdown


@dataclass(frozen=True, slots=True)
class NodeState:
    id: str
    uname: str | None = None
    in_ccm: str | None = None
    crmd: str | None = None
    join: str | None = None
    expected: str | None = None
    ha: str | None = None
    crm_debug_origin: str | None = None
    shutdown: str | None = None
    transient_attributes: tuple[NvSet, ...] = ()
    lrm_resources: tuple[LrmResource, ...] = ()
    has_lrm: bool = False
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class TicketState:
    id: str
    granted: bool = False
    standby: bool = False
    last_granted: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()
