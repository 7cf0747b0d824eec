"""DecisionTrace: what the scheduler recorded while it decided (its DecisionRecorder).

Everything here is copied out of the scheduler's working objects at the moment it is shown
(plain strings and numbers, node names rather than ids), so the trace outlives the run and
explaining it needs no scheduler internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from defib.model.scores import INFINITY

if TYPE_CHECKING:
    from defib.scheduler.actions import Action, ActionTable
    from defib.scheduler.unpack import WorkingSet
    from defib.scheduler.working import NodeInfo, Rsc


@dataclass
class NodeFacts:
    name: str
    online: bool
    unclean: bool
    standby: bool
    maintenance: bool
    shutdown: bool
    pending: bool
    fence_reason: str | None
    health: dict[str, str]


@dataclass
class RscFacts:
    id: str
    kind: str
    parent: str | None
    agent: str
    running_on: list[str]
    role: str
    target_role: str
    managed: bool
    maintenance: bool
    failed: bool
    migration_threshold: int
    meta: dict[str, str]
    fail_counts: dict[str, int] = field(default_factory=dict)  # node -> count


@dataclass
class Contribution:
    node: str
    score: int  # what was added (or the -INFINITY that was imposed)
    cause: str  # location, stickiness, fail-count, colocation, ticket, health, ...
    source: str


@dataclass
class Placement:
    node: str | None
    why: str  # best, stopped, unmanaged, no-fence-device
    scores: dict[str, int]  # node -> final score when it was placed
    no_room: list[str]


@dataclass
class ActionFacts:
    rsc: str | None
    task: str
    node: str | None
    runnable: bool
    optional: bool
    pseudo: bool
    reason: str | None

    def label(self) -> str:
        where = f" on {self.node}" if self.node else ""
        return f"{self.task} of {self.rsc}{where}" if self.rsc else f"{self.task}{where}"


@dataclass
class Block:
    then: ActionFacts
    first: ActionFacts
    rule: str  # ordering or colocated


def _action(action: Action) -> ActionFacts:
    return ActionFacts(
        rsc=action.rsc.id if action.rsc is not None else None, task=action.task,
        node=action.node.uname if action.node is not None else None,
        runnable=action.runnable, optional=action.optional, pseudo=action.pseudo,
        reason=action.reason)


class DecisionTrace:
    """Implements ``defib.scheduler.trace.DecisionRecorder``."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}  # node id -> name
        self.nodes: dict[str, NodeFacts] = {}
        self.resources: dict[str, RscFacts] = {}
        self.quorum = True
        self.options: dict[str, str] = {}
        self.stage_scores: dict[str, dict[str, dict[str, int]]] = {}
        self.contributions: dict[str, list[Contribution]] = {}
        self.placements: dict[str, Placement] = {}
        self.blocks: list[Block] = []
        self.actions: list[ActionFacts] = []
        # Not the scheduler's: what the DC reports of fencing that failed (live only).
        self.fence_failures: dict[str, str] = {}

    # -- the recorder's side ------------------------------------------------------------

    def phase(self, name: str, ws: WorkingSet) -> None:
        if name == "unpacked":
            self._unpacked(ws)
        self.stage_scores[name] = {
            rsc.id: self._named(rsc.allowed) for rsc in _all_resources(ws.resources)}

    def _unpacked(self, ws: WorkingSet) -> None:
        from defib.scheduler.failcounts import fail_count

        self.names = {n.id: n.uname for n in ws.nodes}
        cfg = ws.config
        self.quorum = cfg.have_quorum
        self.options = {
            "no-quorum-policy": cfg.no_quorum_policy,
            "stonith-enabled": str(cfg.stonith_enabled).lower(),
            "maintenance-mode": str(cfg.maintenance_mode).lower(),
            "stop-all-resources": str(cfg.stop_all_resources).lower(),
            "symmetric-cluster": str(cfg.symmetric).lower(),
            "placement-strategy": cfg.placement_strategy,
            "node-health-strategy": cfg.node_health_strategy,
        }
        for node in ws.nodes:
            self.nodes[node.uname] = NodeFacts(
                name=node.uname, online=node.online, unclean=node.unclean,
                standby=node.standby, maintenance=node.maintenance, shutdown=node.shutdown,
                pending=node.pending, fence_reason=node.fence_reason,
                health={k: v for k, v in node.attrs.items() if k.startswith("#health")})
        for rsc in _all_resources(ws.resources):
            prim = rsc if rsc.kind == "primitive" else None
            facts = RscFacts(
                id=rsc.id, kind=rsc.kind, parent=rsc.parent.id if rsc.parent else None,
                agent=getattr(rsc, "agent", ""),
                running_on=[n.uname for n in getattr(rsc, "running_on", [])],
                role=str(getattr(rsc, "role", "")),
                target_role=str(getattr(rsc, "target_role", "Started")),
                managed=rsc.managed, maintenance=rsc.maintenance,
                failed=bool(getattr(rsc, "failed", False)),
                migration_threshold=int(getattr(rsc, "migration_threshold", 0)),
                meta=dict(rsc.meta))
            if prim is not None:
                for node in ws.nodes:
                    count, _ = fail_count(ws, prim, node)  # type: ignore[arg-type]
                    if count:
                        facts.fail_counts[node.uname] = count
            self.resources[rsc.id] = facts

    def _named(self, scores: dict[str, int]) -> dict[str, int]:
        return {self.names.get(k, k): v for k, v in scores.items()}

    def score(self, rsc: Rsc, node: NodeInfo, score: int, cause: str, source: str) -> None:
        self.contributions.setdefault(rsc.id, []).append(
            Contribution(node.uname, score, cause, source))

    def scores(self, rsc: Rsc, before: dict[str, int], cause: str, source: str) -> None:
        for node_id in sorted({*before, *rsc.allowed}):
            old, new = before.get(node_id, 0), rsc.allowed.get(node_id, 0)
            if old == new:
                continue
            if new <= -INFINITY or new >= INFINITY or old <= -INFINITY or old >= INFINITY:
                delta = new
            else:
                delta = new - old
            self.contributions.setdefault(rsc.id, []).append(
                Contribution(self.names.get(node_id, node_id), delta, cause, source))

    def placed(self, rsc: Rsc, node: NodeInfo | None, why: str,
               no_room: list[NodeInfo]) -> None:
        earlier = self.placements.get(rsc.id)
        if earlier is not None and earlier.why == "no-fence-device":
            why = earlier.why  # the root cause of its being unmanaged
        self.placements[rsc.id] = Placement(
            node.uname if node is not None else None, why, self._named(rsc.allowed),
            [n.uname for n in no_room])

    def blocked(self, then: Action, first: Action, rule: str) -> None:
        self.blocks.append(Block(_action(then), _action(first), rule))

    def finished(self, ws: WorkingSet, table: ActionTable) -> None:
        self.actions = [_action(a) for a in table.actions if a.interval_ms == 0]

    # -- the reader's side ----------------------------------------------------------------

    def actions_of(self, rsc_id: str) -> list[ActionFacts]:
        return [a for a in self.actions if a.rsc == rsc_id]

    def block_of(self, action: ActionFacts) -> Block | None:
        for block in self.blocks:
            then = block.then
            if (then.rsc, then.task, then.node) == (action.rsc, action.task, action.node):
                return block
        return None

    def instances(self, rsc_id: str) -> list[str]:
        """The primitives a name stands for: itself, a group's members, clone instances."""
        out = []
        for rid, facts in self.resources.items():
            if facts.kind != "primitive":
                continue
            current: str | None = rid
            while current is not None:
                if current == rsc_id or current.split(":", 1)[0] == rsc_id:
                    out.append(rid)
                    break
                parent = self.resources.get(current)
                current = parent.parent if parent is not None else None
        return out


def _all_resources(top: list[Rsc]) -> list[Rsc]:
    out: list[Rsc] = []
    stack = list(reversed(top))
    while stack:
        rsc = stack.pop()
        out.append(rsc)
        children: list[Rsc] = list(getattr(rsc, "children", []) or [])
        children += list(getattr(rsc, "instances", []) or [])
        stack.extend(reversed(children))
    return out
