"""Assignment phase: choose a node (and a role) for every resource instance."""

from __future__ import annotations

from defib.model.scores import INFINITY, add_scores
from defib.scheduler.constraints import ColocationRt, Constraints
from defib.scheduler.history import fail_count
from defib.scheduler.remote import connection_assigned, connections, keep_off_remote_nodes
from defib.scheduler.unpack import WorkingSet
from defib.scheduler.working import CloneRt, GroupRt, NodeInfo, Prim, Rsc


class Assigner:
    def __init__(self, ws: WorkingSet, cons: Constraints) -> None:
        self.ws = ws
        self.cons = cons
        self.used: dict[tuple[str, str], int] = {}  # (node id, utilization name) -> assigned
        self.this_with: dict[int, list[ColocationRt]] = {}
        self.with_this: dict[int, list[ColocationRt]] = {}
        for colo in cons.colocations:
            dep = self._lead(colo.dependent)
            pri = colo.primary
            self.this_with.setdefault(id(dep), []).append(colo)
            self.with_this.setdefault(id(self._lead(pri)), []).append(colo)
            if isinstance(colo.dependent, GroupRt) and colo.dependent.children:
                # Every member follows the group's leader anyway; keep the role for promotion.
                pass

    @staticmethod
    def _lead(rsc: Rsc) -> Rsc:
        if isinstance(rsc, GroupRt) and rsc.children:
            return rsc.children[0]
        return rsc

    # -- node criteria --------------------------------------------------------------------

    def apply_node_criteria(self) -> None:
        for prim in self.ws.all_primitives():
            if prim.managed and prim.stickiness >= 1 and len(prim.running_on) == 1:
                node = prim.running_on[0]
                if self.ws.config.symmetric or node.id in prim.allowed:
                    prim.allowed[node.id] = add_scores(
                        prim.allowed.get(node.id, 0), prim.stickiness
                    )
            for node in self.ws.nodes:
                if prim.banned_everywhere or node.id in prim.banned_on:
                    prim.allowed[node.id] = -INFINITY
                count, _ = fail_count(self.ws, prim, node)
                if count <= 0 or prim.migration_threshold <= 0:
                    continue
                if count >= prim.migration_threshold:
                    target: Rsc = prim
                    clone = _clone_of(prim)
                    if clone is not None and not clone.globally_unique:
                        target = clone
                    _ban(target, node)

    # -- entry ----------------------------------------------------------------------------

    def assign_all(self) -> None:
        self.apply_node_criteria()
        keep_off_remote_nodes(self.ws)
        # Connections first: they decide which remote nodes can take resources.
        for conn in connections(self.ws):
            self.assign(conn.top())
        connection_assigned(self.ws)
        order = sorted(self.ws.resources, key=self._sort_key)
        self.ws.processing_order = order  # Pacemaker reports resources in this order too
        for rsc in order:
            self.assign(rsc)

    def _sort_key(self, rsc: Rsc) -> tuple[int, int, tuple[int, ...], int]:
        """Pacemaker 2.1.5's processing order.

        With the default placement strategy, resources go by priority only (configuration
        order otherwise). With utilization-based strategies, also by the score where the
        resource runs now, then by its scores node by node; scores are the resource's own
        (for a clone or group, without its members' stickiness).
        """
        if self.ws.config.placement_strategy == "default":
            return (-rsc.priority, 0, (), rsc.config_order)
        current = -INFINITY
        running = next((p.running_on[0] for p in rsc.primitives() if p.running_on), None)
        if running is not None:
            current = rsc.allowed.get(running.id, -INFINITY)
        nodes = sorted(self.ws.nodes, key=lambda n: n.uname)
        by_node = tuple(-rsc.allowed.get(n.id, -INFINITY) for n in nodes)
        return (-rsc.priority, -current, by_node, rsc.config_order)

    def assign(self, rsc: Rsc) -> NodeInfo | None:
        if isinstance(rsc, CloneRt):
            return self.assign_clone(rsc)
        if isinstance(rsc, GroupRt):
            node = None
            for child in rsc.children:
                got = self.assign_primitive(child)
                if child is rsc.children[0]:
                    node = got
            rsc.assigned_done = True
            return node
        assert isinstance(rsc, Prim)
        return self.assign_primitive(rsc)

    # -- primitives -----------------------------------------------------------------------

    def assign_primitive(self, prim: Prim) -> NodeInfo | None:
        if prim.assigned_done:
            return prim.assigned
        if prim.assigning:
            return None
        parent = prim.parent
        if isinstance(parent, GroupRt) and parent.parent is None and parent.children[0] is not prim:
            # Members follow the leader: make sure the leader goes first.
            self.assign_primitive(parent.children[0])
            if prim.assigned_done:
                return prim.assigned
        prim.assigning = True
        this_with = self.this_with.get(id(prim), [])
        group = prim.parent if isinstance(prim.parent, GroupRt) else None
        if group is not None and group.children and group.children[0] is prim:
            this_with = this_with + self.this_with.get(id(group), [])
        with_this = self.with_this.get(id(prim), [])
        for mandatory in (True, False):
            for colo in this_with:
                if _is_mandatory(colo.score) == mandatory:
                    self._apply_this_with(prim, colo)
            for colo in with_this:
                if _is_mandatory(colo.score) == mandatory:
                    self._add_dependent_scores(prim, colo)
        chosen: NodeInfo | None
        if prim.target_role == "Stopped" or self.ws.config.stop_all_resources:
            chosen = None
        elif not prim.managed:
            chosen = prim.running_on[0] if prim.running_on else None
        elif (prim.partial_migration_target is not None
              and self._available(prim, prim.partial_migration_target)):
            chosen = prim.partial_migration_target  # finish the migration that began
        else:
            chosen = self._best_node(prim)
        self._commit(prim, chosen)
        prim.assigning = False
        return chosen

    def _commit(self, prim: Prim, node: NodeInfo | None) -> None:
        prim.assigned = node
        prim.assigned_done = True
        if node is not None:
            node.num_assigned += 1
            for name, amount in prim.utilization.items():
                key = (node.id, name)
                self.used[key] = self.used.get(key, 0) + amount
            prim.next_role = prim.target_role if prim.target_role != "Promoted" else "Started"
            if _clone_of(prim) is not None and _clone_of(prim).promotable:  # type: ignore[union-attr]
                prim.next_role = "Unpromoted"
            if prim.next_role == "Stopped":
                prim.next_role = "Started"
        else:
            prim.next_role = "Stopped"

    def _has_capacity(self, prim: Prim, node: NodeInfo) -> bool:
        if self.ws.config.placement_strategy == "default" or not prim.utilization:
            return True
        for name, amount in prim.utilization.items():
            if amount <= 0:
                continue
            capacity = node.utilization.get(name, 0)
            used = self.used.get((node.id, name), 0)
            if used + amount > capacity:
                return False
        return True

    def _available(self, prim: Prim, node: NodeInfo, consider_score: bool = True) -> bool:
        if not node.can_run():
            return False
        if not self._has_capacity(prim, node):
            return False
        score = prim.allowed.get(node.id)
        if score is None:
            return False
        return not consider_score or score >= 0

    def _best_node(self, prim: Prim) -> NodeInfo | None:
        nodes = [n for n in self.ws.nodes if n.id in prim.allowed]
        if not nodes:
            return None
        current = prim.running_on[0] if prim.running_on else None
        nodes.sort(key=lambda n: self._node_key(prim, n, current))
        best = nodes[0]
        if not self._available(prim, best):
            return None
        chosen = best
        clone = _clone_of(prim)
        unique_clone = clone is not None and clone.globally_unique
        best_score = prim.allowed[best.id]
        if (
            not unique_clone
            and best_score > 0
            and current is not None
            and self._available(prim, current)
            and prim.allowed.get(current.id) == best_score
        ):
            chosen = current
        return chosen

    def _node_key(
        self, prim: Prim, node: NodeInfo, preferred: NodeInfo | None
    ) -> tuple[int, int, int, str]:
        score = prim.allowed.get(node.id, -INFINITY) if node.can_run() else -INFINITY
        if not self._has_capacity(prim, node):
            score = -INFINITY
        if score < 0 and not node.can_run():
            score = -INFINITY
        return (-score, node.num_assigned, 0 if node is preferred else 1, node.uname)

    # -- colocations ----------------------------------------------------------------------

    def _apply_this_with(self, prim: Prim, colo: ColocationRt) -> None:
        primary = colo.primary
        self.assign(primary)
        if _still_assigning(primary):
            return  # an assignment loop: Pacemaker ignores the colocation that closes it
        archive = dict(prim.allowed) if (colo.score < 0 and colo.score > -INFINITY) else None
        nodes = self._primary_nodes(primary, colo.primary_role)
        attr = colo.node_attribute
        values = {n.attrs.get(attr) for n in nodes if n.attrs.get(attr) is not None}
        if colo.score >= INFINITY:
            for node_id in list(prim.allowed):
                node = self.ws.node(node_id)
                if node is None or node.attrs.get(attr) not in values:
                    prim.allowed[node_id] = -INFINITY
        else:
            for node_id in list(prim.allowed):
                node = self.ws.node(node_id)
                if node is not None and node.attrs.get(attr) in values:
                    prim.allowed[node_id] = add_scores(prim.allowed[node_id], colo.score)
        if archive is not None and not any(self._available(prim, n) for n in self.ws.nodes):
            prim.allowed = archive

    def _primary_nodes(self, primary: Rsc, role: str | None) -> list[NodeInfo]:
        out: list[NodeInfo] = []
        if isinstance(primary, CloneRt):
            for inst in primary.instances:
                lead = inst.primitives()[0] if inst.primitives() else None
                if lead is None or lead.assigned is None:
                    continue
                if isinstance(inst, GroupRt) and any(p.assigned is None for p in inst.children):
                    continue
                if role == "Promoted" and lead.next_role != "Promoted":
                    continue
                if role == "Unpromoted" and lead.next_role == "Promoted":
                    continue
                out.append(lead.assigned)
            return out
        if isinstance(primary, GroupRt):
            lead = primary.children[0] if primary.children else None
            if lead is not None and lead.assigned is not None:
                out.append(lead.assigned)
            return out
        assert isinstance(primary, Prim)
        if primary.assigned is not None:
            if role == "Promoted" and primary.next_role != "Promoted":
                return out
            out.append(primary.assigned)
        return out

    def _add_dependent_scores(self, prim: Prim, colo: ColocationRt) -> None:
        if not colo.influence:
            return
        dependent = colo.dependent
        if isinstance(dependent, CloneRt) or dependent.assigned_done:
            return
        dep_lead = self._lead(dependent)
        if not isinstance(dep_lead, Prim) or dep_lead.assigned_done:
            return
        factor = colo.score / INFINITY
        scores = self._collect_scores(dep_lead, factor, set())
        work = dict(prim.allowed)
        for node_id, score in scores.items():
            if node_id not in work:
                continue
            work[node_id] = add_scores(work[node_id], score)
        if any(work.get(n.id, -1) >= 0 and n.can_run() for n in self.ws.nodes) or not any(
            self._available(prim, n) for n in self.ws.nodes
        ):
            prim.allowed = work

    def _collect_scores(self, dep: Prim, factor: float, seen: set[int]) -> dict[str, int]:
        """A dependent's node scores with its own dependents' merged in, scaled by factor.

        A nested merge that would leave the dependent no usable node is dropped, as
        Pacemaker does, so one impossible member does not poison the whole chain.
        """
        seen.add(id(dep))
        work = dict(dep.allowed)
        for colo in self.with_this.get(id(dep), []):
            inner = self._lead(colo.dependent)
            if not isinstance(inner, Prim) or id(inner) in seen or inner.assigned_done:
                continue
            if not colo.influence or colo.score <= -INFINITY:
                continue
            nested = self._collect_scores(inner, colo.score / INFINITY, seen)
            trial = dict(work)
            for node_id, score in nested.items():
                if node_id in trial:
                    trial[node_id] = add_scores(trial[node_id], score)
            if any(
                score >= 0 and (n := self.ws.node(nid)) is not None and n.can_run()
                for nid, score in trial.items()
            ):
                work = trial
        return {node_id: _scale(score, factor) for node_id, score in work.items()}

    # -- clones ---------------------------------------------------------------------------

    def assign_clone(self, clone: CloneRt) -> NodeInfo | None:
        if clone.assigned_done or clone.assigning:
            return None
        clone.assigning = True
        for colo in self.this_with.get(id(clone), []):
            if colo.dependent_role == "Promoted" and clone.promotable:
                self.assign(colo.primary)
                continue  # decides which instance is promoted, not where instances run
            self.assign(colo.primary)
            nodes = self._primary_nodes(colo.primary, colo.primary_role)
            ids = {n.id for n in nodes}
            for inst in clone.instances:
                for prim in inst.primitives():
                    for node_id in list(prim.allowed):
                        if colo.score >= INFINITY and node_id not in ids:
                            prim.allowed[node_id] = -INFINITY
                        elif colo.score <= -INFINITY and node_id in ids:
                            prim.allowed[node_id] = -INFINITY
                        elif -INFINITY < colo.score < INFINITY and node_id in ids:
                            prim.allowed[node_id] = add_scores(prim.allowed[node_id], colo.score)
        per_node: dict[str, int] = {}
        max_total = clone.clone_max
        assigned = 0
        # Instances that run keep their node when it is still good for them.
        instances = sorted(
            clone.instances, key=lambda i: (0 if _active_node(i) else 1, _instance_number(i))
        )
        done: set[int] = set()
        for inst in instances:
            node = _active_node(inst)
            if node is None or assigned >= max_total:
                continue
            lead = inst.primitives()[0]
            if not self._available(lead, node) or per_node.get(node.id, 0) >= clone.clone_node_max:
                continue
            if not _prefers(lead, node, self):
                continue
            if self._assign_instance(inst, node):
                per_node[node.id] = per_node.get(node.id, 0) + 1
                assigned += 1
                done.add(id(inst))
        for inst in instances:
            if id(inst) in done:
                continue
            if assigned >= max_total:
                self._assign_instance(inst, None)
                continue
            lead = inst.primitives()[0]
            for prim in inst.primitives():
                for node_id, count in per_node.items():
                    if count >= clone.clone_node_max and node_id in prim.allowed:
                        prim.allowed[node_id] = -INFINITY
            node = self._best_node(lead) if lead.managed else _active_node(inst)
            if lead.target_role == "Stopped":
                node = None
            if node is not None and self._assign_instance(inst, node):
                per_node[node.id] = per_node.get(node.id, 0) + 1
                assigned += 1
            else:
                self._assign_instance(inst, None)
        if clone.promotable:
            self.set_instance_roles(clone)
        clone.assigning = False
        clone.assigned_done = True
        return None

    def _assign_instance(self, inst: Prim | GroupRt, node: NodeInfo | None) -> bool:
        prims = inst.primitives()
        if node is None:
            for prim in prims:
                if not prim.assigned_done:
                    self._commit(prim, None)
            return False
        ok = True
        for prim in prims:
            if not ok or prim.target_role == "Stopped" or not self._available(prim, node, True):
                if prim is prims[0]:
                    for p in prims:
                        self._commit(p, None)
                    return False
                ok = False
                self._commit(prim, None)
                continue
            self._commit(prim, node)
        return True

    def set_instance_roles(self, clone: CloneRt) -> None:
        base = clone.child_id
        candidates: list[tuple[int, int, Prim | GroupRt, NodeInfo, int]] = []
        for inst in clone.instances:
            lead = inst.primitives()[0] if inst.primitives() else None
            if lead is None or lead.assigned is None:
                continue
            node = lead.assigned
            score = self._promotion_score(clone, inst, lead, node, base)
            pull = self._dependent_pull(clone, node)
            candidates.append((score, _instance_number(inst), inst, node, pull))
        # Dependents' preferences order the candidates; only an instance's own score decides
        # whether it may be promoted at all.
        candidates.sort(key=lambda c: (-add_scores(c[0], c[4]), 0 if _is_promoted(c[2]) else 1,
                                       c[1]))
        promoted = 0
        per_node: dict[str, int] = {}
        # Instances nobody may touch keep their role and use up their share.
        for inst in clone.instances:
            prims = inst.primitives()
            if prims and any(not p.managed or p.blocked for p in prims) and _is_promoted(inst):
                for p in prims:
                    p.next_role = "Promoted"
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
            )
            for prim in inst.primitives():
                if prim.assigned is None:
                    continue
                prim.next_role = "Promoted" if want else "Unpromoted"
                prim.promotion_score[node.id] = score
            if want:
                promoted += 1
                per_node[node.id] = per_node.get(node.id, 0) + 1

    def _dependent_pull(self, clone: CloneRt, node: NodeInfo) -> int:
        """What must run with the promoted instance pulls the promotion to where it can run."""
        total = 0
        for colo in self.with_this.get(id(clone), []):
            if colo.primary_role != "Promoted" or not colo.influence or colo.score <= 0:
                continue
            dependent = self._lead(colo.dependent)
            if not isinstance(dependent, Prim) or dependent.assigned_done:
                continue
            pulled = self._collect_scores(dependent, colo.score / INFINITY, set())
            total = add_scores(total, pulled.get(node.id, 0))
        return total

    def _promotion_score(
        self, clone: CloneRt, inst: Prim | GroupRt, lead: Prim, node: NodeInfo, base: str
    ) -> int:
        score = 0
        found = False
        for prim in inst.primitives():
            name = prim.id if clone.globally_unique else prim.base_id()
            value = node.attrs.get(f"master-{name}")
            if value is None:
                value = node.attrs.get(f"master-{prim.id}")
            if value is None:
                # Old clusters named the attribute after the instance that set it.
                prefix = f"master-{prim.base_id()}:"
                value = next(
                    (v for k, v in sorted(node.attrs.items()) if k.startswith(prefix)), None
                )
            if value is not None:
                from defib.model.scores import parse_score

                score = add_scores(score, parse_score(value))
                found = True
        if not found:
            score = -1 if not _is_promoted(inst) else 0
        for pref in self.cons.promotion_prefs:
            if (pref.rsc is clone or pref.rsc is inst) and pref.node is node:
                score = add_scores(score, pref.score)
        for colo in self.this_with.get(id(clone), []):
            if colo.dependent_role != "Promoted":
                continue
            nodes = self._primary_nodes(colo.primary, colo.primary_role)
            if node in nodes:
                score = add_scores(score, colo.score)
            elif colo.score >= INFINITY:
                score = -INFINITY
        if lead.allowed.get(node.id, 0) <= -INFINITY:
            score = -INFINITY
        return score


def _is_promoted(inst: Prim | GroupRt) -> bool:
    return any(p.role == "Promoted" for p in inst.primitives())


def _prefers(lead: Prim, node: NodeInfo, assigner: Assigner) -> bool:
    best = max(
        (
            s
            for nid, s in lead.allowed.items()
            if (n := assigner.ws.node(nid)) is not None and n.can_run()
        ),
        default=None,
    )
    return (
        best is not None
        and lead.allowed.get(node.id, -INFINITY) >= 0
        and (lead.allowed.get(node.id, -INFINITY) >= best or True)
    )


def _active_node(inst: Prim | GroupRt) -> NodeInfo | None:
    for prim in inst.primitives():
        if prim.running_on:
            return prim.running_on[0]
    return None


def _instance_number(inst: Prim | GroupRt) -> int:
    try:
        return int(inst.id.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return 0


def _clone_of(rsc: Rsc) -> CloneRt | None:
    parent = rsc.parent
    while parent is not None:
        if isinstance(parent, CloneRt):
            return parent
        parent = parent.parent
    return None


def _ban(rsc: Rsc, node: NodeInfo) -> None:
    rsc.allowed[node.id] = -INFINITY
    if isinstance(rsc, GroupRt):
        for child in rsc.children:
            _ban(child, node)
    elif isinstance(rsc, CloneRt):
        for inst in rsc.instances:
            _ban(inst, node)


def _is_mandatory(score: int) -> bool:
    return score >= INFINITY or score <= -INFINITY


def _scale(score: int, factor: float) -> int:
    if factor == 1.0:
        return score
    if score >= INFINITY:
        return INFINITY if factor > 0 else -INFINITY
    if score <= -INFINITY:
        return -INFINITY if factor > 0 else INFINITY
    return int(score * factor)


def _still_assigning(rsc: Rsc) -> bool:
    if isinstance(rsc, GroupRt):
        return any(c.assigning and not c.assigned_done for c in rsc.children)
    return rsc.assigning and not rsc.assigned_done
