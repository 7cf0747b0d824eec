"""Promotion: which instances of a promotable clone are promoted, and where.

Each placed instance gets a promotion score on its node (the promotion attribute its agent
set, role-based location and colocation constraints, the clone's own preference for the
node); instances are then promoted best first, up to promoted-max (and promoted-node-max
per node). A mixin of the Assigner, whose colocation machinery it reuses.
"""

from __future__ import annotations

from defib.model.scores import INFINITY, add_scores, parse_score
from defib.scheduler.constraints import ColocationRt, Constraints
from defib.scheduler.unpack import WorkingSet
from defib.scheduler.variants.bundle import attribute_node, guest_can_start
from defib.scheduler.working import CloneRt, GroupRt, NodeInfo, Prim, Rsc


class Promotion:
    ws: WorkingSet
    cons: Constraints
    this_with: dict[int, list[ColocationRt]]
    with_this: dict[int, list[ColocationRt]]

    def _primary_nodes(self, primary: Rsc, role: str | None) -> list[NodeInfo]:
        raise NotImplementedError

    def _merge_weights(self, dep: Rsc, nodes: dict[str, int], attr: str, factor: float,
                       rollback: bool, positive: bool = False) -> dict[str, int]:
        raise NotImplementedError

    def set_instance_roles(self, clone: CloneRt) -> None:
        base = clone.child_id
        candidates: list[tuple[int, int, Prim | GroupRt, NodeInfo, int]] = []
        owns: list[tuple[Prim | GroupRt, NodeInfo, int, int]] = []
        for inst in clone.instances:
            lead = inst.primitives()[0] if inst.primitives() else None
            if lead is None or lead.assigned is None:
                continue
            node = lead.assigned
            own = self._promotion_score(clone, inst, lead, node, base)
            shared = self._clone_level_score(clone, node)
            score = self._with_clone_preference(clone, lead, node, add_scores(own, shared))
            pull = add_scores(self._dependent_pull(clone, node), shared)
            candidates.append((score, instance_number(inst), inst, node, pull))
            owns.append((inst, node, own, pull))
        shown = self._shown_scores(clone, owns)
        # Dependents' preferences order the candidates; only an instance's own score decides
        # whether it may be promoted at all.
        candidates.sort(key=lambda c: (-add_scores(c[0], c[4]), 0 if is_promoted(c[2]) else 1,
                                       c[1]))
        promoted = 0
        per_node: dict[str, int] = {}
        # Instances nobody may touch keep their role and use up their share.
        for inst in clone.instances:
            prims = inst.primitives()
            if prims and any(not p.managed or p.blocked for p in prims) and is_promoted(inst):
                for p in prims:
                    p.next_role = "Promoted"
                    if p.assigned is not None:  # it stays promoted: it sorts first
                        p.promotion_score[p.assigned.id] = INFINITY
                held = prims[0].running_on[0] if prims[0].running_on else None
                promoted += 1
                if held is not None:
                    per_node[held.id] = per_node.get(held.id, 0) + 1
        candidates = [c for c in candidates
                      if not any(not p.managed or p.blocked for p in c[2].primitives())]
        for score, _, inst, node, _pull in candidates:
            want = (
                score >= 0
                and promoted < clone.promoted_max
                and per_node.get(node.id, 0) < clone.promoted_node_max
                and all(p.target_role == "Promoted" for p in inst.primitives())
                and guest_can_start(self.ws, node)
            )
            for prim in inst.primitives():
                if prim.assigned is None:
                    continue
                prim.next_role = "Promoted" if want else "Unpromoted"
                prim.promotion_score[node.id] = shown[id(inst)]
            if want:
                promoted += 1
                per_node[node.id] = per_node.get(node.id, 0) + 1

    @staticmethod
    def _shown_scores(clone: CloneRt,
                      owns: list[tuple[Prim | GroupRt, NodeInfo, int, int]]) -> dict[int, int]:
        """The promotion score crm_simulate prints for each placed instance (its sort index).

        Pacemaker adds every promotable instance's own score to its node's score in the clone,
        with what must run with the promoted instance, and then gives each such instance its
        node's total: instances sharing a node share the sum. An instance that may not be
        promoted keeps its own (negative) score."""
        totals: dict[str, int] = {}
        pulls: dict[str, int] = {}
        for _inst, node, own, pull in owns:
            if own >= 0:
                totals[node.id] = add_scores(totals.get(node.id, clone.allowed.get(node.id, 0)),
                                             own)
                pulls[node.id] = pull
        shown: dict[int, int] = {}
        for inst, node, own, _pull in owns:
            lead = inst.primitives()[0]
            if own < 0:
                shown[id(inst)] = own
            elif lead.allowed.get(node.id, 0) <= -INFINITY:
                shown[id(inst)] = -INFINITY
            else:
                shown[id(inst)] = add_scores(totals[node.id], pulls[node.id])
        return shown

    @staticmethod
    def _with_clone_preference(clone: CloneRt, lead: Prim, node: NodeInfo, score: int) -> int:
        if score >= 0:
            # The clone's own preference for the node adds to a promotable instance's
            # (Pacemaker adds each instance's priority to its node's weight in the clone and
            # reads it back, unless the instance may not be promoted at all).
            score = add_scores(score, clone.allowed.get(node.id, 0))
        if lead.allowed.get(node.id, 0) <= -INFINITY:
            score = -INFINITY
        return score

    def _dependent_pull(self, clone: CloneRt, node: NodeInfo) -> int:
        """What must run with the promoted instance pulls the promotion to where it can run."""
        total = 0
        for colo in self.with_this.get(id(clone), []):
            if colo.primary_role != "Promoted" or not colo.influence or colo.score <= 0:
                continue
            if colo.dependent.assigned_done:
                continue
            base = {n.id: 0 for n in self.ws.nodes}
            pulled = self._merge_weights(colo.dependent, base, colo.node_attribute,
                                         colo.score / INFINITY, True)
            total = add_scores(total, pulled.get(node.id, 0))
        return total

    def _promotion_score(
        self, clone: CloneRt, inst: Prim | GroupRt, lead: Prim, node: NodeInfo, base: str
    ) -> int:
        """An instance's own promotion score on its node: what its agent set (-1 without any),
        and location constraints for the promoted role."""
        score = 0
        found = False
        for prim in inst.primitives():
            name = prim.id if clone.globally_unique else prim.base_id()
            attrs = attribute_node(self.ws, prim, node)
            if attrs is None:
                continue
            value = attrs.attrs.get(f"master-{name}")
            if value is None and node.id in prim.history_names:
                # Old clusters named the attribute after the instance in that node's history.
                value = attrs.attrs.get(f"master-{prim.history_names[node.id]}")
            if value is None:
                value = attrs.attrs.get(f"master-{prim.id}")
            if value is None:
                # Old clusters named the attribute after the instance that set it.
                prefix = f"master-{prim.base_id()}:"
                value = next(
                    (v for k, v in sorted(attrs.attrs.items()) if k.startswith(prefix)), None
                )
            if value is not None:
                score = add_scores(score, parse_score(value))
                found = True
        if not found:
            # No preference recorded: only an instance already promoted right there may stay.
            promoted_here = any(p.role == "Promoted" and node in p.running_on
                                for p in inst.primitives())
            score = 0 if promoted_here else -1
        for pref in self.cons.promotion_prefs:
            if pref.node is node and (pref.rsc is inst or pref.rsc is clone
                                      and not pref.clone_level):
                score = add_scores(score, pref.score)
        return score

    def _clone_level_score(self, clone: CloneRt, node: NodeInfo) -> int:
        """What the clone's node score for promotion gets beyond its instances' own scores:
        tickets for the promoted role, colocations of the promoted role with others."""
        score = 0
        for pref in self.cons.promotion_prefs:
            if pref.rsc is clone and pref.node is node and pref.clone_level:
                score = add_scores(score, pref.score)
        for colo in self.this_with.get(id(clone), []):
            if colo.dependent_role != "Promoted":
                continue
            nodes = self._primary_nodes(colo.primary, colo.primary_role)
            if node in nodes:
                score = add_scores(score, colo.score)
            elif colo.score >= INFINITY:
                score = -INFINITY
        return score


def is_promoted(inst: Prim | GroupRt) -> bool:
    return any(p.role == "Promoted" for p in inst.primitives())


def instance_number(inst: Prim | GroupRt) -> int:
    try:
        return int(inst.id.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return 0
