"""Allocation and promotion scores in crm_simulate's ``-s`` format.

The scheduler keeps each resource's node scores (``allowed``) as they stand when it is
assigned; this module prints them the way Pacemaker's score dump names them. Pacemaker prints
a group's members as they are when the group starts being assigned, a clone's instances
before they are distributed, and a primitive's scores once its colocations are applied: the
scheduler keeps a copy at each of those points (``WorkingSet.score_log``). Bundles are still
printed from their final scores.
"""

from __future__ import annotations

from defib.graph.build import by_priority, natural_key
from defib.model.scores import INFINITY, add_scores
from defib.scheduler.unpack import WorkingSet
from defib.scheduler.working import BundleRt, CloneRt, GroupRt, Prim, Rsc


def _score(value: int) -> str:
    if value >= INFINITY:
        return "INFINITY"
    if value <= -INFINITY:
        return "-INFINITY"
    return str(value)


class ScoreDump:
    def __init__(self, ws: WorkingSet) -> None:
        self.ws = ws
        self.names = {n.id: n.uname for n in ws.nodes}
        self.lines: list[str] = []

    def allocation(self, where: str, rsc: Rsc, allowed: dict[str, int] | None = None) -> None:
        scores = rsc.allowed if allowed is None else allowed
        nodes = sorted(scores, key=lambda nid: natural_key(self.names.get(nid) or nid))
        if allowed is None:
            disabled = (rsc.meta.get("target-role") or "").strip().lower() == "stopped"
        else:
            # A primitive to be stopped (disabled, or stopped by on-fail) is banned from
            # every node just before its scores are printed.
            disabled = (where == "pcmk__primitive_assign" and isinstance(rsc, Prim)
                        and rsc.target_role == "Stopped")
        current = {n.id for n in rsc.running_on} if isinstance(rsc, Prim) else set()
        for node_id in nodes:
            score = scores[node_id]
            if isinstance(rsc, Prim) and not rsc.managed and node_id in current:
                # An unmanaged resource is pinned where it runs, from the start: a ban
                # there still wins.
                score = add_scores(score, INFINITY)
            if disabled:
                score = -INFINITY
            self.lines.append(f"{where}: {rsc.id} allocation score on "
                              f"{self.names.get(node_id, node_id)}: {_score(score)}")

    def resource(self, rsc: Rsc) -> None:
        if isinstance(rsc, Prim):
            self.allocation("pcmk__primitive_assign", rsc)
        elif isinstance(rsc, GroupRt):
            self.allocation("pcmk__group_assign", rsc)
            for child in rsc.children:
                self.allocation("pcmk__group_assign", child)
            for child in rsc.children:
                self.allocation("pcmk__primitive_assign", child)
        elif isinstance(rsc, CloneRt):
            self.allocation("pcmk__clone_allocate", rsc)
            for inst in rsc.instances:
                self.allocation("pcmk__clone_allocate", inst)
                if isinstance(inst, GroupRt):
                    for child in inst.children:
                        self.allocation("pcmk__clone_allocate", child)
            for inst in rsc.instances:
                self.resource(inst)
            if rsc.promotable:
                self.promotion(rsc)

    def promotion(self, clone: CloneRt) -> None:
        for inst in clone.instances:
            prims = inst.primitives()
            if not prims:
                continue
            node = prims[0].assigned  # a group instance is where its first member is
            if node is None:
                self.lines.append(f"{inst.id} promotion score on none: 0")
            else:
                score = prims[0].promotion_score.get(node.id, 0)
                self.lines.append(f"{inst.id} promotion score on {node.uname}: {_score(score)}")


def score_lines(ws: WorkingSet) -> list[str]:
    dump = ScoreDump(ws)
    logged: dict[int, list[tuple[str, Rsc, dict[str, int]]]] = {}
    for where, rsc, allowed in ws.score_log:
        logged.setdefault(id(rsc.top()), []).append((where, rsc, allowed))
    for rsc in by_priority(ws.resources):
        if rsc.orphan:  # orphans are only stopped, never assigned
            continue
        entries = logged.get(id(rsc))
        if isinstance(rsc, BundleRt) or not entries:
            dump.resource(rsc)
            continue
        for where, item, allowed in entries:
            dump.allocation(where, item, allowed)
        if isinstance(rsc, CloneRt) and rsc.promotable:
            dump.promotion(rsc)
    return dump.lines
