"""The scheduler's working objects, built fresh from an immutable Cib on every run.

They are mutable while one run computes, never shared between runs, and never written
back into the Cib, so `schedule()` stays a pure function of its input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from defib.model.nvsets import NvSet
from defib.model.resources import Operation
from defib.model.status import OpRecord

Role = Literal["Unknown", "Stopped", "Started", "Unpromoted", "Promoted"]
ROLE_ORDER: dict[str, int] = {
    "Unknown": 0,
    "Stopped": 1,
    "Started": 2,
    "Unpromoted": 3,
    "Promoted": 4,
}


def role_of(text: str | None) -> Role | None:
    mapping: dict[str, Role] = {
        "stopped": "Stopped",
        "started": "Started",
        "slave": "Unpromoted",
        "unpromoted": "Unpromoted",
        "master": "Promoted",
        "promoted": "Promoted",
    }
    return mapping.get((text or "").lower())  # Pacemaker reads roles case-insensitively


@dataclass(eq=False)
class NodeInfo:
    id: str
    uname: str
    type: str = "member"
    online: bool = False
    unclean: bool = False
    unseen: bool = False
    shutdown: bool = False
    standby: bool = False
    standby_onfail: bool = False
    maintenance: bool = False
    pending: bool = False
    expected_up: bool = False
    remote_rsc: str | None = None
    container_rsc: str | None = None  # guest nodes: the resource they live in
    fence_reason: str | None = None
    attrs: dict[str, str] = field(default_factory=dict)
    utilization: dict[str, int] = field(default_factory=dict)
    running: list[Prim] = field(default_factory=list)
    num_assigned: int = 0
    lost: bool = False  # unclean from membership alone (not from a failure found later)
    # A guest "fenced" by recovering its container: Pacemaker does not count it unclean
    # for placement, it may run resources again once its container is back.
    reset_only: bool = False
    failures: dict[str, tuple[int, int]] | None = None  # fail counts by resource, read lazily

    def can_run(self) -> bool:
        return (
            self.online
            and (not self.unclean or self.reset_only)
            and not self.standby
            and not self.shutdown
            and not self.maintenance
            and not self.pending
        )

    def __repr__(self) -> str:
        return f"NodeInfo({self.uname})"


@dataclass(eq=False)
class Rsc:
    """Common part of every resource variant."""

    id: str
    parent: Rsc | None = None
    meta: dict[str, str] = field(default_factory=dict)
    allowed: dict[str, int] = field(default_factory=dict)  # node id -> score
    priority: int = 0
    stickiness: int = 0
    managed: bool = True
    # In maintenance (its own meta, cluster maintenance-mode, or active on a node in
    # maintenance): left exactly as it is, unmanaged, its recurring monitors cancelled.
    maintenance: bool = False
    orphan: bool = False
    config_order: int = 0
    assigned_done: bool = False
    assigning: bool = False

    @property
    def kind(self) -> str:
        return "resource"

    def primitives(self) -> list[Prim]:
        return []

    def top(self) -> Rsc:
        rsc: Rsc = self
        while rsc.parent is not None:
            rsc = rsc.parent
        return rsc

    def base_id(self) -> str:
        return self.id.split(":", 1)[0]


@dataclass(eq=False)
class Prim(Rsc):
    rsc_class: str | None = None
    provider: str | None = None
    type: str | None = None
    template: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    # The parameter sets as configured, when rules make them differ from node to node.
    node_dependent_params: tuple[NvSet, ...] = ()
    operations: tuple[Operation, ...] = ()
    utilization: dict[str, int] = field(default_factory=dict)
    role: Role = "Stopped"
    next_role: Role | None = None
    target_role: Role = "Started"
    running_on: list[NodeInfo] = field(default_factory=list)
    assigned: NodeInfo | None = None
    failed: bool = False
    blocked: bool = False
    pending_task: str | None = None
    pending_node_id: str | None = None
    known_on: set[str] = field(default_factory=set)  # node ids with any history
    fail_node_ids: set[str] = field(default_factory=set)
    recurring_seen: set[tuple[str, str, int]] = field(default_factory=set)  # (node, task, interval)
    stopped_monitors_seen: set[tuple[str, int]] = field(default_factory=set)  # (node, interval)
    dangling_migration_on: list[NodeInfo] = field(default_factory=list)
    partial_migration_target: NodeInfo | None = None
    partial_migration_source: NodeInfo | None = None
    migration_threshold: int = 1_000_000
    failure_timeout_s: int = 0
    restart_needed_on: set[str] = field(default_factory=set)  # definition changed
    agent_changed_on: list[str] = field(default_factory=list)  # history under another agent
    lock_node: NodeInfo | None = None  # shutdown lock (locks.py)
    failure_ignored: bool = False  # a failure was ignored (on-fail=ignore): no threshold
    spare_instance: bool = False  # an orphan that is a surplus instance of an anonymous clone
    reload_needed_on: set[str] = field(default_factory=set)
    # (node id, interval) of recurring monitors whose definition changed: run them anew
    reschedule: set[tuple[str, int]] = field(default_factory=set)
    stop_failed_on: set[str] = field(default_factory=set)
    banned_on: set[str] = field(default_factory=set)  # hard errors
    banned_everywhere: bool = False  # fatal errors
    promotion_score: dict[str, int] = field(default_factory=dict)
    instance_number: int | None = None
    unrunnable_reason: str | None = None
    is_fence_device: bool = False
    container: Prim | None = None  # for a guest node's implicit connection: its VM/container
    implicit: bool = False  # made by defib from a bundle, not configured as such
    forced_restart_on: set[str] = field(default_factory=set)  # e.g. a filler failed inside
    pending_restart_on: set[str] = field(default_factory=set)  # changed while starting
    history_names: dict[str, str] = field(default_factory=dict)  # node id -> name in history
    clone_name: str | None = None  # the name the history last knew it by, if another
    # Recurring operations running where it is active that are no longer configured.
    orphan_recurring: list[tuple[NodeInfo, OpRecord]] = field(default_factory=list)
    failed_recurring: bool = False  # a recurring monitor failed (not a start or stop)
    # (node id, task, interval) of the recurring operations Pacemaker creates while reading
    # the history, with their creation order (history.py).
    unpacked_recurring: dict[tuple[str, str, int], int] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return "primitive"

    def primitives(self) -> list[Prim]:
        return [self]

    @property
    def agent(self) -> str:
        parts = [self.rsc_class or ""]
        if self.provider:
            parts.append(self.provider)
        parts.append(self.type or "")
        return ":".join(parts)

    def current_node(self) -> NodeInfo | None:
        return self.running_on[0] if self.running_on else None

    def __repr__(self) -> str:
        return f"Prim({self.id})"


@dataclass(eq=False)
class GroupRt(Rsc):
    children: list[Prim] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return "group"

    def primitives(self) -> list[Prim]:
        return list(self.children)


@dataclass(eq=False)
class CloneRt(Rsc):
    child_id: str = ""
    child_kind: str = "primitive"
    instances: list[Prim | GroupRt] = field(default_factory=list)
    clone_max: int = 0
    clone_node_max: int = 1
    globally_unique: bool = False
    promotable: bool = False
    promoted_max: int = 1
    promoted_node_max: int = 1
    interleave: bool = False
    ordered: bool = False
    notify: bool = False

    @property
    def kind(self) -> str:
        return "clone"

    def primitives(self) -> list[Prim]:
        out: list[Prim] = []
        for instance in self.instances:
            out.extend(instance.primitives())
        return out


@dataclass(eq=False)
class Replica:
    """One copy of a bundle: its container, optional address, connection and child."""

    index: int
    container: Prim
    ip: Prim | None = None
    connection: Prim | None = None
    child: Prim | None = None


@dataclass(eq=False)
class BundleRt(CloneRt):
    """A bundle: containers placed like clone instances, each with what lives inside.

    ``instances`` are the containers (so clone placement applies to them); ``child_clone``
    holds the child's instances, one per replica, each bound to its replica's guest node.
    """

    replicas: list[Replica] = field(default_factory=list)
    child_clone: CloneRt | None = None
    container_type: str = "docker"

    @property
    def kind(self) -> str:
        return "bundle"

    def primitives(self) -> list[Prim]:
        out: list[Prim] = []
        for replica in self.replicas:
            for prim in (replica.ip, replica.container, replica.connection, replica.child):
                if prim is not None:
                    out.append(prim)
        return out


@dataclass
class ClusterConfig:
    stonith_enabled: bool = True
    symmetric: bool = True
    no_quorum_policy: str = "stop"
    have_quorum: bool = True
    stop_orphan_resources: bool = True
    stop_orphan_actions: bool = True
    start_failure_is_fatal: bool = True
    maintenance_mode: bool = False
    stonith_action: str = "reboot"
    startup_fencing: bool = True
    placement_strategy: str = "default"
    node_health_strategy: str = "none"
    shutdown_lock: bool = False
    concurrent_fencing: bool = False
    stop_all_resources: bool = False
    default_stickiness: int = 0
    priority_fencing_delay: int = 0
    properties: dict[str, str] = field(default_factory=dict)


def has_fence_device(prims: list[Prim]) -> bool:
    """Whether the cluster has a fence device: a configured one, or a deleted one whose
    history is still there (Pacemaker counts that one as well, and stops it)."""
    return any(p.is_fence_device for p in prims)


def start_requirement(prim: Prim, stonith_enabled: bool) -> str:
    """What a start needs first: "fencing" of nodes it may run on, "quorum" or "nothing"."""
    value = prim.meta.get("requires", "").lower()
    if value == "nothing":
        return "nothing"
    if value in ("fencing", "unfencing") or (not value and prim.rsc_class != "stonith"):
        return "fencing" if stonith_enabled else "quorum"
    return "quorum"
