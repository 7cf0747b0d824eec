"""Utilization: what nodes offer (capacity) and what placed resources use, for the
utilization-based placement strategies (utilization, minimal, balanced).

A node can take a resource only while the resource's needs fit in what the node has left.
Before a resource is placed, Pacemaker also looks at everything that must run with it
(mandatory colocations, in both directions, not yet placed): if some node can take them all,
the nodes that can't are ruled out, so the first of them does not go where the rest can't
follow.
"""

from __future__ import annotations

from collections.abc import Iterable

from defib.model.scores import INFINITY
from defib.scheduler.constraints import ColocationRt
from defib.scheduler.working import CloneRt, GroupRt, NodeInfo, Prim, Rsc


class Capacity:
    """What the placed resources use on each node."""

    def __init__(self, strategy: str) -> None:
        self.strategy = strategy
        self.used: dict[tuple[str, str], int] = {}  # (node id, utilization name) -> used

    @property
    def enabled(self) -> bool:
        return self.strategy != "default"

    def consume(self, node: NodeInfo, needs: dict[str, int], sign: int = 1) -> None:
        for name, amount in needs.items():
            key = (node.id, name)
            self.used[key] = self.used.get(key, 0) + sign * amount

    def fits(self, node: NodeInfo, needs: dict[str, int]) -> bool:
        if not self.enabled:
            return True
        for name, amount in needs.items():
            if amount <= 0:
                continue
            if self.used.get((node.id, name), 0) + amount > node.utilization.get(name, 0):
                return False
        return True

    def compare(self, a: NodeInfo, b: NodeInfo) -> int:
        """Negative when a has more free capacity in more utilization attributes."""
        result = 0
        for name in {*a.utilization, *b.utilization}:
            free_a = a.utilization.get(name, 0) - self.used.get((a.id, name), 0)
            free_b = b.utilization.get(name, 0) - self.used.get((b.id, name), 0)
            if name not in a.utilization:
                free_a = 0
            if free_a > free_b:
                result -= 1
            elif free_a < free_b:
                result += 1
        return result

    def ban_insufficient(self, prim: Prim, colocations: Iterable[ColocationRt],
                         usable: Iterable[NodeInfo]) -> None:
        """Rule out the usable nodes that can't take ``prim`` with everything bound to it,
        when some node can (``usable``: nodes prim may run on, score >= 0)."""
        if not self.enabled:
            return
        group = colocated_primitives(prim, list(colocations))
        if len(group) < 2:
            return  # prim alone: the per-node capacity check already covers it
        needs: dict[str, int] = {}
        for member in group:
            if not member.assigned_done:
                for name, amount in member.utilization.items():
                    needs[name] = needs.get(name, 0) + amount
        nodes = list(usable)
        if any(self.fits(node, needs) for node in nodes):
            for node in nodes:
                if not self.fits(node, needs):
                    prim.allowed[node.id] = -INFINITY


def colocated_primitives(prim: Prim, colocations: list[ColocationRt]) -> list[Prim]:
    """``prim`` and the primitives mandatorily colocated with it, either way round."""
    seen: list[Rsc] = []

    def members(rsc: Rsc) -> list[Rsc]:
        # A group stands for its members (and they for each other: each follows the last).
        if isinstance(rsc, GroupRt):
            return [rsc, *rsc.children]
        if isinstance(rsc.parent, GroupRt) and not isinstance(rsc.parent.parent, CloneRt):
            return [rsc.parent, *rsc.parent.children]
        return [rsc]

    def visit(rsc: Rsc) -> None:
        for each in members(rsc):
            if any(each is s for s in seen):
                continue
            seen.append(each)
            for colo in colocations:
                if colo.score < INFINITY:
                    continue
                if colo.dependent is each:
                    visit(colo.primary)
                elif colo.primary is each and not (isinstance(each, CloneRt)
                                                   and not isinstance(colo.dependent, CloneRt)):
                    visit(colo.dependent)

    visit(prim)
    return [r for r in seen if isinstance(r, Prim)]
