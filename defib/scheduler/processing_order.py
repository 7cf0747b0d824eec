"""The order resources are placed in under utilization-based placement strategies.

Pacemaker 2.1.5 sorts its resources before placing them (cmp_resources): by priority, then
by the score where each runs now, then by its scores node by node. The scores it compares
are not the resource's own but those with what it is colocated with folded in (its
merge_weights, following "this with" colocations): a primary's score counts only on nodes
that can run resources, so a resource colocated with a clone no longer counts the node
it runs on once that node is lost.
"""

from __future__ import annotations

from collections.abc import Callable

from defib.model.scores import INFINITY, add_scores
from defib.scheduler.constraints import ColocationRt
from defib.scheduler.unpack import WorkingSet
from defib.scheduler.working import GroupRt, Rsc

Scale = Callable[[int, float], int]


class ColocatedScores:
    """A resource's node scores with its primaries' folded in, as the sort compares them."""

    def __init__(self, ws: WorkingSet, colocations: list[ColocationRt], scale: Scale,
                 order: Callable[[Rsc], tuple[int, int, str]]) -> None:
        self.ws = ws
        self.scale = scale
        self.this_with: dict[int, list[ColocationRt]] = {}
        for colo in colocations:
            self.this_with.setdefault(id(colo.dependent), []).append(colo)
        for colos in self.this_with.values():
            colos.sort(key=lambda c: order(c.primary))
        self.merging: set[int] = set()

    def of(self, rsc: Rsc) -> dict[str, int]:
        return self._merge(rsc, {}, "#uname", 1.0, init=True, rollback=False)

    def _merge(self, rsc: Rsc, nodes: dict[str, int], attr: str, factor: float,
               init: bool, rollback: bool) -> dict[str, int]:
        if id(rsc) in self.merging:
            return nodes  # a colocation loop
        self.merging.add(id(rsc))
        try:
            if init and isinstance(rsc, GroupRt) and rsc.children:
                work = self._merge(rsc.children[-1], nodes, attr, factor, True, rollback)
            elif init:
                work = dict(rsc.allowed)
            elif isinstance(rsc, GroupRt) and rsc.children:
                work = self._merge(rsc.children[0], dict(nodes), attr, factor, False,
                                   rollback)
            else:
                work = self._add_matching(dict(nodes), rsc, attr, factor)
            if self._any_available(work):
                sign = -1 if factor < 0 else 1
                for colo in self.this_with.get(id(rsc), []):
                    work = self._merge(colo.primary, work, colo.node_attribute,
                                       sign * colo.score / INFINITY, False, True)
            elif rollback:
                return nodes
            return work
        finally:
            self.merging.discard(id(rsc))

    def _add_matching(self, work: dict[str, int], primary: Rsc, attr: str,
                      factor: float) -> dict[str, int]:
        for node_id, score in list(work.items()):
            node = self.ws.node(node_id)
            value = node.attrs.get(attr) if node is not None else None
            theirs = self._best_matching(primary, attr, value)
            if factor < 0 and theirs < 0:
                continue
            work[node_id] = add_scores(self.scale(theirs, factor), score)
        return work

    def _best_matching(self, primary: Rsc, attr: str, value: str | None) -> int:
        return best_matching(self.ws, primary, attr, value)

    def _any_available(self, scores: dict[str, int]) -> bool:
        return any_available(self.ws, scores)


def any_available(ws: WorkingSet, scores: dict[str, int]) -> bool:
    """Some node with a non-negative score can run resources."""
    for node_id, score in scores.items():
        node = ws.node(node_id)
        if score >= 0 and node is not None and node.can_run():
            return True
    return False


def best_matching(ws: WorkingSet, rsc: Rsc, attr: str, value: str | None) -> int:
    """``rsc``'s best usable score among the nodes whose ``attr`` is ``value``."""
    best = -INFINITY
    for node_id, score in rsc.allowed.items():
        node = ws.node(node_id)
        # Pacemaker 2.1 asks only whether the node can run resources, not its score.
        if node is None or not node.can_run() or score <= best:
            continue
        if node.attrs.get(attr) == value:
            best = score
    return best
