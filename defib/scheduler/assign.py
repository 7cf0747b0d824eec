"""Assignment phase: choose a node (and a role) for every resource instance."""

from __future__ import annotations

import functools

from defib.model.scores import INFINITY, add_scores
from defib.scheduler.constraints import ColocationRt, Constraints
from defib.scheduler.locks import apply_shutdown_locks
from defib.scheduler.processing_order import ColocatedScores, any_available, best_matching
from defib.scheduler.promotion import Promotion
from defib.scheduler.remote import connection_assigned, connections, keep_off_remote_nodes
from defib.scheduler.unpack import WorkingSet
from defib.scheduler.utilization import Capacity
from defib.scheduler.variants.bundle import connection_scores
from defib.scheduler.variants.guest import count_with_fillers, fillers_by_container
from defib.scheduler.working import (
    BundleRt,
    CloneRt,
    GroupRt,
    NodeInfo,
    Prim,
    Rsc,
    has_fence_device,
)


class Assigner(Promotion):
    def __init__(self, ws: WorkingSet, cons: Constraints) -> None:
        self.ws = ws
        self.cons = cons
        self.capacity = Capacity(ws.config.placement_strategy)
        self.this_with: dict[int, list[ColocationRt]] = {}
        self.with_this: dict[int, list[ColocationRt]] = {}
        self.merging: set[int] = set()
        for colo in cons.colocations:
            # A group is placed through its members: what it follows binds its first
            # member; what follows it is merged in at its last member.
            dep = self._lead(colo.dependent)
            pri = self._last(colo.primary)
            self.this_with.setdefault(id(dep), []).append(colo)
            self.with_this.setdefault(id(pri), []).append(colo)
        # Pacemaker keeps both lists sorted: higher priority first, then collectives before
        # primitives, then by id.
        for colos in self.this_with.values():
            colos.sort(key=lambda c: _cons_order(c.primary))
        for colos in self.with_this.values():
            colos.sort(key=lambda c: _cons_order(c.dependent))

    @staticmethod
    def _last(rsc: Rsc) -> Rsc:
        if isinstance(rsc, GroupRt) and rsc.children:
            return rsc.children[-1]
        return rsc

    @staticmethod
    def _lead(rsc: Rsc) -> Rsc:
        if isinstance(rsc, GroupRt) and rsc.children:
            return rsc.children[0]
        return rsc

    # -- node criteria --------------------------------------------------------------------

    def apply_node_criteria(self) -> None:
        apply_shutdown_locks(self.ws)
        trace = self.ws.trace
        fillers = fillers_by_container(self.ws)
        for prim in self.ws.all_primitives():
            exclusive = self.cons.discovery_exclusive.get(prim.id)
            if exclusive is not None:
                # With exclusive discovery it may run only where it may be discovered.
                for rsc in _with_ancestors(prim):
                    before = dict(rsc.allowed) if trace is not None else {}
                    for node_id in rsc.allowed:
                        if node_id not in exclusive:
                            rsc.allowed[node_id] = -INFINITY
                    if trace is not None:
                        trace.scores(rsc, before, "discovery", "exclusive")
            if prim.managed and prim.stickiness >= 1 and len(prim.running_on) == 1:
                node = prim.running_on[0]
                if self.ws.config.symmetric or node.id in prim.allowed:
                    prim.allowed[node.id] = add_scores(
                        prim.allowed.get(node.id, 0), prim.stickiness
                    )
                    if trace is not None:
                        trace.score(prim, node, prim.stickiness, "stickiness", "")
            for node in self.ws.nodes:
                # A node where its stop failed is out until cleanup (or fencing) says more.
                if (prim.banned_everywhere or node.id in prim.banned_on
                        or node.id in prim.stop_failed_on):
                    prim.allowed[node.id] = -INFINITY
                    if trace is not None:
                        trace.score(prim, node, -INFINITY, "hard-error", "")
                count = count_with_fillers(self.ws, prim, node, fillers.get(id(prim), ()))
                if count <= 0 or prim.migration_threshold <= 0 or prim.failure_ignored:
                    continue  # a resource whose failures are ignored has no threshold
                if trace is not None:
                    trace.score(prim, node, -INFINITY if count >= prim.migration_threshold
                                else 0, "fail-count", f"{count}/{prim.migration_threshold}")
                if count >= prim.migration_threshold:
                    target: Rsc = prim
                    clone = _clone_of(prim)
                    if clone is not None and not clone.globally_unique:
                        target = clone
                    _ban(target, node)

    # -- entry ----------------------------------------------------------------------------

    def assign_all(self) -> None:
        self.apply_node_criteria()
        if self.ws.config.stonith_enabled and not has_fence_device(self.ws.all_primitives()):
            # Fencing is on but nothing can fence: Pacemaker refuses to manage resources.
            for prim in self.ws.all_primitives():
                prim.managed = False
                if self.ws.trace is not None:
                    self.ws.trace.placed(prim, None, "no-fence-device", [])
        keep_off_remote_nodes(self.ws)
        # Connections first: they decide which remote nodes can take resources.
        for conn in connections(self.ws):
            self.assign(conn.top())
        connection_assigned(self.ws)
        self.colocated = ColocatedScores(self.ws, self.cons.colocations, _scale, _cons_order)
        order = sorted(self.ws.resources, key=self._sort_key)
        self.ws.processing_order = order  # Pacemaker reports resources in this order too
        for rsc in order:
            self.assign(rsc)

    def _sort_key(self, rsc: Rsc) -> tuple[int, int, tuple[int, ...], int]:
        """Pacemaker 2.1.5's processing order.

        With the default placement strategy, resources go by priority only (configuration
        order otherwise). With utilization-based strategies, also by the score where the
        resource runs now, then by its scores node by node; scores are the resource's own
        (for a clone or group, without its members' stickiness) with those of what it is
        colocated with folded in (processing_order.py).
        """
        if self.ws.config.placement_strategy == "default":
            return (-rsc.priority, 0, (), rsc.config_order)
        scores = self.colocated.of(rsc)
        current = -INFINITY
        running = next((p.running_on[0] for p in rsc.primitives() if p.running_on), None)
        if running is not None:
            current = scores.get(running.id, -INFINITY)
        nodes = self._nodes_by_capacity()
        by_node = tuple(-scores.get(n.id, -INFINITY) for n in nodes)
        return (-rsc.priority, -current, by_node, rsc.config_order)

    def _nodes_by_capacity(self) -> list[NodeInfo]:
        """The nodes as Pacemaker sorts them before placing anything: by name, except that
        "balanced" puts the nodes with more capacity first."""
        nodes = sorted(self.ws.nodes, key=lambda n: n.uname)
        if self.ws.config.placement_strategy == "balanced":
            nodes.sort(key=functools.cmp_to_key(self.capacity.compare))
        return nodes

    def assign(self, rsc: Rsc) -> NodeInfo | None:
        if isinstance(rsc, BundleRt):
            return self.assign_bundle(rsc)
        if isinstance(rsc, CloneRt):
            return self.assign_clone(rsc)
        if isinstance(rsc, GroupRt):
            node = None
            self._show_scores("pcmk__group_assign", rsc)
            for child in rsc.children:
                got = self.assign_primitive(child)
                if child is rsc.children[0]:
                    node = got
            rsc.assigned_done = True
            return node
        assert isinstance(rsc, Prim)
        return self.assign_primitive(rsc)

    def _show_scores(self, where: str, rsc: Rsc) -> None:
        """Keep ``rsc``'s node scores (and its members', recursively) as they are now: where
        Pacemaker prints them for ``crm_simulate -s``. A group prints once, when its
        assignment starts (re-entries return early in Pacemaker too)."""
        if isinstance(rsc, GroupRt) and (rsc.assigned_done or any(
                c.assigned_done or c.assigning for c in rsc.children)):
            return
        log = self.ws.score_log
        stack = [rsc]
        while stack:
            item = stack.pop()
            log.append((where, item, dict(item.allowed)))
            if isinstance(item, CloneRt):
                stack.extend(reversed(item.instances))
            elif isinstance(item, GroupRt):
                stack.extend(reversed(item.children))

    # -- primitives -----------------------------------------------------------------------

    def assign_primitive(self, prim: Prim, prefer: NodeInfo | None = None,
                         extra_this: tuple[ColocationRt, ...] = (),
                         extra_with: tuple[ColocationRt, ...] = ()) -> NodeInfo | None:
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
        trace = self.ws.trace
        for colo in [*self.this_with.get(id(prim), []), *extra_this]:
            before = dict(prim.allowed) if trace is not None else {}
            self._apply_this_with(prim, colo)
            if trace is not None:
                trace.scores(prim, before, "colocation", f"{colo.id}|{colo.primary.id}")
        for colo in [*self.with_this.get(id(prim), []), *extra_with]:
            if colo.influence:
                before = prim.allowed
                prim.allowed = self._merge_weights(
                    colo.dependent, prim.allowed, colo.node_attribute,
                    colo.score / INFINITY, rollback=True)
                if trace is not None:
                    trace.scores(prim, before, "dependents", f"{colo.id}|{colo.dependent.id}")
        self._show_scores("pcmk__primitive_assign", prim)
        if self.capacity.enabled and prim.managed:
            before = dict(prim.allowed) if trace is not None else {}
            self.capacity.ban_insufficient(
                prim, self.cons.colocations,
                [n for n in self.ws.nodes if n.can_run() and prim.allowed.get(n.id, -1) >= 0])
            if trace is not None:
                trace.scores(prim, before, "utilization", "with what must run with it")
        chosen: NodeInfo | None
        why = "best"
        if prim.target_role == "Stopped" or self.ws.config.stop_all_resources:
            chosen, why = None, "stopped"
        elif not prim.managed:
            chosen, why = (prim.running_on[0] if prim.running_on else None), "unmanaged"
        elif (prim.partial_migration_target is not None
              and self._available(prim, prim.partial_migration_target)):
            chosen = prim.partial_migration_target  # finish the migration that began
        else:
            chosen = self._best_node(prim, prefer)
        if trace is not None:
            trace.placed(prim, chosen, why,
                         [n for n in self.ws.nodes if not self._has_capacity(prim, n)])
        self._commit(prim, chosen)
        prim.assigning = False
        return chosen

    def _commit(self, prim: Prim, node: NodeInfo | None) -> None:
        prim.assigned = node
        prim.assigned_done = True
        if node is not None:
            node.num_assigned += 1
            self.capacity.consume(node, prim.utilization)
            prim.next_role = prim.target_role if prim.target_role != "Promoted" else "Started"
            if _clone_of(prim) is not None and _clone_of(prim).promotable:  # type: ignore[union-attr]
                prim.next_role = "Unpromoted"
            if prim.next_role == "Stopped":
                prim.next_role = "Started"
        else:
            prim.next_role = "Stopped"
        if prim.implicit and prim.type == "remote" and prim.provider == "pacemaker":
            guest = self.ws.node(prim.id)
            if guest is not None:
                if node is not None:
                    guest.online = True
                    guest.shutdown = False
                else:
                    guest.shutdown = True

    def _has_capacity(self, prim: Prim, node: NodeInfo) -> bool:
        return not prim.utilization or self.capacity.fits(node, prim.utilization)

    def _available(self, prim: Prim, node: NodeInfo, consider_score: bool = True) -> bool:
        if not node.can_run():
            return False
        if not self._has_capacity(prim, node):
            return False
        score = prim.allowed.get(node.id)
        if score is None:
            return False
        return not consider_score or score >= 0

    def _best_node(self, prim: Prim, prefer: NodeInfo | None = None) -> NodeInfo | None:
        nodes = [n for n in self.ws.nodes if n.id in prim.allowed]
        if not nodes:
            return None
        current = prim.running_on[0] if prim.running_on else None
        strategy = self.ws.config.placement_strategy
        if strategy in ("minimal", "balanced"):
            nodes.sort(key=functools.cmp_to_key(
                lambda a, b: self._compare_nodes(prim, a, b, current, strategy)))
        else:
            nodes.sort(key=lambda n: self._node_key(prim, n, current))
        best = nodes[0]
        if prefer is not None and prefer.id in prim.allowed:
            mine = prim.allowed[prefer.id]
            # The preferred node wins while it is as good as the best one.
            if mine >= 0 and mine >= prim.allowed.get(best.id, -INFINITY) and self._available(
                    prim, prefer):
                return prefer
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

    def _compare_nodes(self, prim: Prim, a: NodeInfo, b: NodeInfo,
                       preferred: NodeInfo | None, strategy: str) -> int:
        """compare_nodes for "minimal" (score, then name) and "balanced" (score, then the
        node with more free capacity, then fewer resources, current node, name)."""
        key_a, key_b = self._node_key(prim, a, preferred), self._node_key(prim, b, preferred)
        if key_a[0] != key_b[0]:
            return -1 if key_a[0] < key_b[0] else 1
        if strategy == "balanced":
            by_capacity = self.capacity.compare(a, b)
            if by_capacity:
                return by_capacity
            if key_a[1:3] != key_b[1:3]:
                return -1 if key_a[1:3] < key_b[1:3] else 1
        return (a.uname > b.uname) - (a.uname < b.uname)

    # -- colocations ----------------------------------------------------------------------

    def _apply_this_with(self, prim: Prim, colo: ColocationRt) -> None:
        """Apply "prim with primary" to prim's node scores (Pacemaker's colocation_match)."""
        primary = colo.primary
        archive = dict(prim.allowed) if (
            colo.dependent_role == "Promoted" or -INFINITY < colo.score < 0) else None
        self.assign(primary)
        if _still_assigning(primary):
            return  # an assignment loop: Pacemaker ignores the colocation that closes it
        if not self._role_filter(prim, colo):
            return
        if (isinstance(primary, CloneRt) and -INFINITY < colo.score < INFINITY
                and colo.primary_role is None and not isinstance(prim.top(), CloneRt)):
            self._apply_per_instance(prim, colo, primary)
        else:
            self._apply_to_scores(prim, colo, self._primary_hosts(primary, colo))
        if archive is not None and not self._any_available(prim.allowed):
            prim.allowed = archive

    def _apply_per_instance(self, prim: Prim, colo: ColocationRt, clone: CloneRt) -> None:
        """An optional colocation with a clone counts instance by instance, each one rolled
        back if it would leave no usable node (Pacemaker applies it through every
        instance); an instance placed nowhere counts for nothing."""
        for inst in clone.instances:
            member = self._lead(inst)
            if isinstance(member, Prim) and member.assigned is not None:
                self._apply_to_scores(prim, colo, [member.assigned])

    def _apply_to_scores(self, prim: Prim, colo: ColocationRt,
                         hosts: list[NodeInfo] | None) -> None:
        attr = colo.node_attribute
        work = dict(prim.allowed)
        if hosts is None:  # the primary has no node
            if colo.score < 0:
                return
            work = {node_id: add_scores(-INFINITY, score) for node_id, score in work.items()}
        else:
            values = {h.attrs.get(attr) for h in hosts}
            for node_id, score in work.items():
                node = self.ws.node(node_id)
                value = node.attrs.get(attr) if node is not None else None
                if value in values:
                    if colo.score < INFINITY:
                        work[node_id] = add_scores(colo.score, score)
                elif colo.score >= INFINITY:
                    work[node_id] = add_scores(-INFINITY, score)
        if _is_mandatory(colo.score) or self._any_available(work):
            prim.allowed = work

    def _role_filter(self, prim: Prim, colo: ColocationRt) -> bool:
        """Pacemaker's filter_colocation_constraint for roles (promotion is handled later)."""
        if colo.score == 0:
            return False
        if colo.dependent_role is not None and colo.score > 0:
            if colo.dependent_role != _next_role(prim):
                return False
        if colo.dependent_role is not None and colo.score < 0:
            if colo.dependent_role == _next_role(prim):
                return False
        return True

    def _primary_hosts(self, primary: Rsc, colo: ColocationRt) -> list[NodeInfo] | None:
        """Nodes where the primary (in the wanted role) will be; None when it has none."""
        role = colo.primary_role
        if isinstance(primary, CloneRt):
            hosts: list[NodeInfo] = []
            for inst in primary.instances:
                member = self._last(inst) if colo.score >= INFINITY else self._lead(inst)
                if not isinstance(member, Prim) or member.assigned is None:
                    continue
                if any(p.blocked for p in inst.primitives()):
                    continue
                if role is not None and not _role_matches(member, role, colo.score):
                    continue
                hosts.append(member.assigned)
            if not hosts and colo.score < INFINITY:
                return None
            return hosts
        member = self._last(primary) if colo.score >= INFINITY else self._lead(primary)
        if not isinstance(member, Prim) or member.assigned is None:
            return None
        if role is not None and not _role_matches(member, role, colo.score):
            return [] if colo.score >= INFINITY else None
        return [member.assigned]

    def _primary_nodes(self, primary: Rsc, role: str | None) -> list[NodeInfo]:
        """Where the primary runs (in a role): for clones of instances, their nodes."""
        colo = ColocationRt("", primary, primary, INFINITY, primary_role=role)
        return self._primary_hosts(primary, colo) or []

    def _any_available(self, scores: dict[str, int]) -> bool:
        return any_available(self.ws, scores)

    def _best_matching(self, dep: Rsc, attr: str, value: str | None) -> int:
        return best_matching(self.ws, dep, attr, value)

    def _merge_weights(self, dep: Rsc, nodes: dict[str, int], attr: str, factor: float,
                       rollback: bool, positive: bool = False) -> dict[str, int]:
        """Fold a dependent's preferences (and its own dependents') into node scores.

        Pacemaker's merge_weights: scores are scaled by the colocation's factor, rounded
        away from zero, and a merge that would leave no usable node is rolled back.
        """
        if id(dep) in self.merging:
            return nodes  # a dependency loop
        self.merging.add(id(dep))
        try:
            if isinstance(dep, GroupRt) and dep.children:
                work = self._merge_weights(dep.children[0], dict(nodes), attr, factor, False,
                                           positive)
                nested = self.with_this.get(id(dep.children[-1]), [])
            else:
                work = dict(nodes)
                for node_id, score in list(work.items()):
                    node = self.ws.node(node_id)
                    value = node.attrs.get(attr) if node is not None else None
                    theirs = self._best_matching(dep, attr, value)
                    if factor < 0 and theirs < 0:
                        continue  # a double negative must not become a preference
                    if score == _UNUSABLE:
                        continue
                    merged = add_scores(_scale(theirs, factor), score)
                    if positive and merged < 0 and score > 0:
                        work[node_id] = _UNUSABLE  # would turn a wanted node unwanted
                        continue
                    if positive and merged < 0 and score == 0:
                        continue
                    work[node_id] = merged
                nested = self.with_this.get(id(dep), [])
            if self._any_available(work):
                sign = -1 if factor < 0 else 1
                for colo in nested:
                    if not colo.influence:
                        continue
                    work = self._merge_weights(colo.dependent, work, colo.node_attribute,
                                               sign * colo.score / INFINITY, True, positive)
            elif rollback:
                return nodes
            if positive:
                work = {k: (1 if v == _UNUSABLE else v) for k, v in work.items()}
            return work
        finally:
            self.merging.discard(id(dep))

    # -- clones ---------------------------------------------------------------------------

    def assign_clone(self, clone: CloneRt) -> NodeInfo | None:
        """Pacemaker's distribute_children: keep running instances, then fill up nodes."""
        if clone.assigned_done or clone.assigning:
            return None
        clone.assigning = True
        for colo in self.this_with.get(id(clone), []):
            self.assign(colo.primary)
        for colo in self.with_this.get(id(clone), []):
            if colo.influence:
                clone.allowed = self._merge_weights(
                    colo.dependent, clone.allowed, colo.node_attribute, colo.score / INFINITY,
                    rollback=True, positive=True)
        self._show_scores("pcmk__clone_allocate", clone)
        usable = [n for n in self.ws.nodes if n.id in clone.allowed and n.can_run()]
        most = clone.clone_max
        all_coloc = most < len(usable)
        loop_max = max(1, most // len(usable)) if usable else 1
        count: dict[str, int] = {}
        allocated = 0
        def compare(a: Prim | GroupRt, b: Prim | GroupRt) -> int:
            return self._compare_instances(clone, a, b)

        order = sorted(clone.instances, key=functools.cmp_to_key(compare))
        for inst in order:  # pre-allocate running instances where they are
            if allocated >= most:
                break
            node = _active_node(inst)
            if node is None or _instance_failed(inst) or _lead_prim(inst).assigned_done:
                continue
            if not node.can_run() or clone.allowed.get(node.id, -INFINITY) < 0:
                continue
            if count.get(node.id, 0) >= loop_max:
                continue
            if self._allocate_instance(clone, inst, node, all_coloc, count):
                allocated += 1
        for inst in order:
            if _lead_prim(inst).assigned_done:
                continue
            if allocated >= most:
                for prim in inst.primitives():
                    if not prim.assigned_done:
                        self._commit(prim, None)
                continue
            if self._allocate_instance(clone, inst, None, all_coloc, count):
                allocated += 1
        if clone.promotable:
            self.set_instance_roles(clone)
        clone.assigning = False
        clone.assigned_done = True
        return None

    def _compare_instances(self, clone: CloneRt, a: Prim | GroupRt, b: Prim | GroupRt) -> int:
        """Pacemaker 2.1's sort_clone_instance, but for its colocation tie-break."""
        nodes_a = {id(n) for p in a.primitives() for n in p.running_on}
        nodes_b = {id(n) for p in b.primitives() for n in p.running_on}
        if nodes_a and nodes_b and len(nodes_a) != len(nodes_b):
            return -1 if len(nodes_a) < len(nodes_b) else 1  # fewer copies first
        where_a, where_b = _active_node(a), _active_node(b)
        can_a = can_b = True
        lead_a, lead_b = _lead_prim(a), _lead_prim(b)
        if where_a is not None and lead_a.allowed.get(where_a.id, -INFINITY) < 0:
            where_a, can_a = None, False  # where it runs is no longer allowed
        if where_b is not None and lead_b.allowed.get(where_b.id, -INFINITY) < 0:
            where_b, can_b = None, False
        if can_a != can_b:
            return -1 if can_a else 1
        if a.priority != b.priority:
            return -1 if a.priority > b.priority else 1
        if where_a is None or where_b is None:
            if where_a is None and where_b is None:
                return 0  # both inactive: keep their order
            return 1 if where_a is None else -1
        if where_a.can_run() != where_b.can_run():
            return -1 if where_a.can_run() else 1
        allowed_a = where_a.id in clone.allowed
        allowed_b = where_b.id in clone.allowed
        if allowed_a != allowed_b:
            return -1 if allowed_a else 1
        failed_a, failed_b = _instance_failed(a), _instance_failed(b)
        if failed_a != failed_b:
            return 1 if failed_a else -1  # failed instances go last
        return (a.id > b.id) - (a.id < b.id)

    def _allocate_instance(self, clone: CloneRt, inst: Prim | GroupRt,
                           prefer: NodeInfo | None, all_coloc: bool,
                           count: dict[str, int]) -> bool:
        lead = _lead_prim(inst)
        if prefer is not None and lead.allowed.get(prefer.id, -INFINITY) < 0:
            return False
        # The clone's colocations apply to each instance: all of them when not every node
        # gets a copy, otherwise only the binding and the negative ones.
        extra_this = tuple(
            c for c in self.this_with.get(id(clone), [])
            if not (c.dependent_role == "Promoted" and clone.promotable)
            and (all_coloc or c.score < 0 or c.score >= INFINITY))
        extra_with = tuple(c for c in self.with_this.get(id(clone), [])
                           if c.influence and (all_coloc or c.score < 0))
        self._ban_where_instance_cannot_run(clone, inst, count)
        backup = {id(p): dict(p.allowed) for p in inst.primitives()}
        chosen = self._assign_instance_members(inst, prefer, extra_this, extra_with)
        if chosen is not None and prefer is not None and chosen is not prefer:
            for prim in inst.primitives():  # not where it runs: try again later
                self._uncommit(prim)
                prim.allowed = backup[id(prim)]
            return False
        if chosen is not None:
            count[chosen.id] = count.get(chosen.id, 0) + 1
        return chosen is not None

    def _ban_where_instance_cannot_run(self, clone: CloneRt, inst: Prim | GroupRt,
                                       count: dict[str, int]) -> None:
        """Pacemaker's can_run_instance: before an instance is assigned, every node it cannot
        take is banned for it (and its members) for good, even when this attempt is undone:
        nodes that cannot run resources, that the clone does not allow, or that are full."""
        lead = _lead_prim(inst)
        banned = []
        for node_id in lead.allowed if isinstance(inst, Prim) else _union_allowed(inst):
            node = self.ws.node(node_id)
            if (node is None or not node.can_run() or lead.orphan
                    or clone.allowed.get(node_id, -INFINITY) < 0
                    or count.get(node_id, 0) >= clone.clone_node_max):
                banned.append(node_id)
        for rsc in (inst, *inst.primitives()) if isinstance(inst, GroupRt) else (inst,):
            for node_id in banned:
                if node_id in rsc.allowed:
                    rsc.allowed[node_id] = -INFINITY

    def _assign_instance_members(self, inst: Prim | GroupRt, prefer: NodeInfo | None,
                                 extra_this: tuple[ColocationRt, ...],
                                 extra_with: tuple[ColocationRt, ...]) -> NodeInfo | None:
        if isinstance(inst, Prim):
            return self.assign_primitive(inst, prefer, extra_this, extra_with)
        chosen: NodeInfo | None = None
        self._show_scores("pcmk__group_assign", inst)
        for index, member in enumerate(inst.children):
            if index == 0:
                chosen = self.assign_primitive(member, prefer, extra_this, extra_with)
            else:
                self.assign_primitive(member, prefer)
        inst.assigned_done = True
        return chosen

    def _uncommit(self, prim: Prim) -> None:
        node = prim.assigned
        if node is not None:
            node.num_assigned -= 1
            self.capacity.consume(node, prim.utilization, -1)
        prim.assigned = None
        prim.assigned_done = False
        prim.next_role = None

    def assign_bundle(self, bundle: BundleRt) -> NodeInfo | None:
        """Containers go like clone instances; the rest of each replica follows its own."""
        if bundle.assigned_done or bundle.assigning:
            return None
        guests = {n.id for n in self.ws.nodes if n.container_rsc is not None}
        for container in bundle.instances:
            for node_id in guests:  # containers run on cluster nodes only
                if node_id in container.allowed:
                    container.allowed[node_id] = -INFINITY
        self.assign_clone(bundle)  # distributes the containers
        bundle.assigning = True
        for replica in bundle.replicas:
            if replica.ip is not None:
                self.assign_primitive(replica.ip)
            host = replica.container.assigned
            if host is None and replica.connection is not None and replica.connection.running_on:
                # Pacemaker leaves a running connection where it is; it then stops because
                # its container cannot start ("due to unrunnable ... start").
                host = replica.connection.running_on[0]
            if replica.connection is not None:
                conn = replica.connection
                conn.allowed = connection_scores(self.ws, conn, host)
                self.assign_primitive(conn)
                guest = self.ws.node(conn.id)
                if (replica.container.assigned is None and host is None
                        and guest is not None):
                    guest.shutdown = True  # placed, but it cannot start before its container
            if replica.child is not None and replica.connection is not None:
                guest = self.ws.node(replica.connection.id)
                child = replica.child
                child.allowed = {nid: (INFINITY if guest is not None and nid == guest.id
                                       and child.allowed.get(nid, 0) > -INFINITY
                                       else -INFINITY) for nid in child.allowed}
                if guest is not None and guest.id not in child.allowed:
                    child.allowed[guest.id] = INFINITY
                self.assign_primitive(child)
        if bundle.child_clone is not None:
            bundle.child_clone.assigned_done = True
            if bundle.child_clone.promotable:
                self.set_instance_roles(bundle.child_clone)
        bundle.assigning = False
        bundle.assigned_done = True
        return None


_UNUSABLE = -INFINITY + 7  # Pacemaker's INFINITY_HACK marker during positive merges


def _union_allowed(group: GroupRt) -> list[str]:
    seen: dict[str, None] = dict.fromkeys(group.allowed)
    for prim in group.primitives():
        seen.update(dict.fromkeys(prim.allowed))
    return list(seen)


def _lead_prim(inst: Prim | GroupRt) -> Prim:
    return inst if isinstance(inst, Prim) else inst.children[0]


def _instance_failed(inst: Prim | GroupRt) -> bool:
    return any(p.failed for p in inst.primitives())



def _active_node(inst: Prim | GroupRt) -> NodeInfo | None:
    for prim in inst.primitives():
        if prim.running_on:
            return prim.running_on[0]
    return None



def _with_ancestors(rsc: Rsc) -> list[Rsc]:
    out = [rsc]
    while out[-1].parent is not None:
        out.append(out[-1].parent)
    return out


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
    """factor * score, rounded half away from zero, never rounded to zero (Pacemaker)."""
    if factor == 1.0:
        return score
    if score >= INFINITY:
        return INFINITY if factor > 0 else -INFINITY
    if score <= -INFINITY:
        return -INFINITY if factor > 0 else INFINITY
    product = factor * score
    scaled = int(product - 0.5) if product < 0 else int(product + 0.5)
    if scaled == 0 and score != 0 and factor != 0:
        scaled = 1 if factor * score > 0 else -1
    return scaled


def _cons_order(rsc: Rsc) -> tuple[int, int, str]:
    variant = 2 if isinstance(rsc, CloneRt) else 1 if isinstance(rsc, GroupRt) else 0
    return (-rsc.priority, -variant, rsc.id)


def _next_role(prim: Prim) -> str:
    return prim.next_role or prim.target_role


def _role_matches(member: Prim, role: str, score: int) -> bool:
    nxt = member.next_role or "Stopped"
    if role == "Started":
        return nxt in ("Started", "Unpromoted", "Promoted")
    return nxt == role


def _still_assigning(rsc: Rsc) -> bool:
    if isinstance(rsc, GroupRt):
        return any(c.assigning and not c.assigned_done for c in rsc.children)
    return rsc.assigning and not rsc.assigned_done

