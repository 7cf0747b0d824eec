"""Ordering phase: edges between actions, and what they imply (required, unrunnable)."""

from __future__ import annotations

from dataclasses import dataclass

from defib.model.scores import INFINITY
from defib.scheduler.actions import Action, ActionTable, op_uuid
from defib.scheduler.constraints import Constraints, OrderingRt
from defib.scheduler.unpack import WorkingSet
from defib.scheduler.variants.bundle import probe_top
from defib.scheduler.variants.bundle_order import bundle_orderings
from defib.scheduler.variants.remote_order import remote_orderings
from defib.scheduler.working import (
    BundleRt,
    CloneRt,
    GroupRt,
    NodeInfo,
    Prim,
    Rsc,
    start_requirement,
)

IMPLIES_THEN = "implies_then"
IMPLIES_FIRST = "implies_first"
RUNNABLE_LEFT = "runnable_left"
RESTART = "restart"
ONE_OR_MORE = "one_or_more"
CHILD_BEGIN = "child_begin"  # a collective's pseudo action -> a member's action
CHILD_END = "child_end"  # a member's action -> the collective's completion
MIN_INPUT = "min_input"  # one part of a "one or more" first side
ASYMMETRIC = "asymmetric"  # blocks a start, but leaves an active "then" alone
COLOCATED = "colocated"  # a primary that can't start (promote) blocks its dependent's
# "-INFINITY with": one leaves a node before the other arrives there. Kept in the graph only
# when the first action is required and both are on the same node; implies nothing.
ANTI_COLOCATION = "anti_colocation"


@dataclass(eq=False)
class Edge:
    first: Action
    then: Action
    flags: frozenset[str]


def add_edge(edges: list[Edge], first: Action, then: Action, *flags: str) -> None:
    """Order ``then`` after ``first``, for phases after the Orderer (migration, notify)."""
    edges.append(Edge(first, then, frozenset(flags)))
    then.before.append((first, ",".join(sorted(flags))))


_COMPLETION = {"start": "running", "stop": "stopped", "promote": "promoted", "demote": "demoted"}


class Orderer:
    def __init__(self, ws: WorkingSet, cons: Constraints, table: ActionTable) -> None:
        self.ws = ws
        self.cons = cons
        self.table = table
        self.edges: list[Edge] = []
        self._labels: dict[frozenset[str], str] = {}

    def edge(self, first: Action | None, then: Action | None, *flags: str) -> None:
        if first is None or then is None or first is then:
            return
        key = frozenset(flags)
        self.edges.append(Edge(first, then, key))
        label = self._labels.get(key)
        if label is None:
            label = self._labels[key] = ",".join(sorted(flags))
        then.before.append((first, label))

    def actions_of(self, rsc: Rsc, task: str) -> list[Action]:
        return self.table.for_rsc(rsc, task)

    def pseudo(self, rsc: Rsc, task: str) -> Action | None:
        return self.table.get(op_uuid(rsc.id, task), None)

    def placeholder(self, rsc: Rsc, task: str) -> Action:
        """An action that is not scheduled: runnable only while the resource stays active."""
        uuid = op_uuid(rsc.id, task)
        existing = self.table.get(uuid, None)
        if existing is not None:
            return existing
        active = any(
            p.assigned is not None and p.next_role not in (None, "Stopped")
            for p in rsc.primitives()
        )
        runnable = active if task in ("start", "running", "promote", "promoted") else True
        if isinstance(rsc, Prim) and rsc.blocked and task in ("start", "promote"):
            # Blocked where it failed: it gets no start, and a start nowhere can't run.
            action = Action(uuid, task, rsc, None, optional=True, runnable=False, pseudo=True)
            action.extra["placeholder"] = "1"
            return self.table.add(action)
        # A resource that runs now but must stop "needs" a start it can't have: what
        # depends on it must stop too (Pacemaker reports "required <rsc> start").
        running = any(p.running_on for p in rsc.primitives())
        required = not runnable and running and task in ("start", "running")
        action = Action(uuid, task, rsc, None, optional=not required, runnable=runnable,
                        pseudo=True)
        action.extra["placeholder"] = "1"
        return self.table.add(action)

    def build(self) -> list[Edge]:
        for prim in self.ws.all_primitives():
            self.primitive_internal(prim)
            self.guest_placement(prim)
        for rsc in self.ws.resources:
            self.collective_internal(rsc)
            if isinstance(rsc, BundleRt):
                bundle_orderings(self, rsc)
        self.anti_colocations()
        for order in self.cons.orderings:
            self.constraint(order)
        self.withdraw_unmatched()
        remote_orderings(self, list(self.table.actions))
        self.colocation_blocks()
        self.shutdowns()
        self.fencing_orders()
        self.probes_before_restarts()
        self.probes_before_stop_followers()
        if self.ws.config.placement_strategy != "default":
            for prim in self.ws.all_primitives():
                self.load_orderings(prim)
        return self.edges

    def fencing_orders(self) -> None:
        """One fencing at a time unless concurrent-fencing is on, the DC's last; and what
        requires fencing starts only after every fencing of this transition."""
        by_node = {id(a.node): a for a in self.table.actions
                   if a.task == "stonith" and a.node is not None
                   and a.extra.get("action", "reboot") != "on"}
        fences = [by_node[id(n)] for n in sorted(self.ws.nodes, key=lambda n: n.uname)
                  if id(n) in by_node]
        dc_fence = next((f for f in fences
                         if f.node is not None and f.node.attrs.get("#is_dc") == "true"), None)
        others = [f for f in fences if f is not dc_fence]
        if not self.ws.config.concurrent_fencing:
            for first, then in zip(others, others[1:], strict=False):
                self.edge(first, then)
            if dc_fence is not None and others:
                self.edge(others[-1], dc_fence)
        elif dc_fence is not None:
            for fence in others:
                self.edge(fence, dc_fence)
        if not fences:
            return
        for prim in self.ws.all_primitives():
            needs = start_requirement(prim, self.ws.config.stonith_enabled)
            if needs == "nothing":
                continue
            actions = [*self.actions_of(prim, "start"), *self.actions_of(prim, "promote")]
            for fence in fences:
                target = fence.node
                for action in actions:
                    if needs == "fencing":
                        self.edge(fence, action)
                    elif (action.task == "start" and target is not None
                          and target.id in prim.allowed and target.id not in prim.known_on):
                        # It may be active on the node being fenced: start once it's not.
                        self.edge(fence, action, RUNNABLE_LEFT)

    def colocation_blocks(self) -> None:
        """A mandatory colocation's dependent can't reach its role once its primary can't:
        not ordering edges (they never go into the graph), only what blocking implies."""
        for colo in self.cons.colocations:
            if colo.score < INFINITY:
                continue
            promote = colo.primary_role == "Promoted"
            task = "promote" if promote else "start"
            primary = colo.primary
            firsts = (self.actions_of(primary, task) if isinstance(primary, Prim)
                      else [a for a in [self.pseudo(primary, task)] if a is not None])
            then_task = "promote" if colo.dependent_role == "Promoted" else "start"
            thens = [a for rsc in _with_members(colo.dependent)
                     for a in (self.actions_of(rsc, then_task) if isinstance(rsc, Prim)
                               else [self.pseudo(rsc, then_task)]) if a is not None]
            for first in firsts:
                for then in thens:
                    if then.rsc is not first.rsc:
                        self.edges.append(Edge(first, then, frozenset((COLOCATED,))))

    def shutdowns(self) -> None:
        """A cluster node asked to shut down is let go once what it runs has stopped; the
        DC goes last, so that the others need no new election on the way."""
        downs: list[Action] = []
        dc_down: Action | None = None
        for node in sorted(self.ws.nodes, key=lambda n: n.uname):  # Pacemaker's node order
            if (not node.online or not node.shutdown or node.unclean
                    or node.type == "remote" or node.remote_rsc is not None):
                continue
            down = self.table.add(Action(f"do_shutdown-{node.uname}", "do_shutdown", None,
                                         node, optional=False))
            down.extra["no_wait"] = "1"
            if node.attrs.get("#is_dc") == "true":
                dc_down = down
            else:
                downs.append(down)
            if node.maintenance:
                continue
            for prim in node.running:
                if not (prim.managed or prim.blocked) or prim.meta.get(
                        "maintenance", "false").lower() in ("true", "yes", "1", "on"):
                    continue
                for stop in self.actions_of(prim, "stop"):
                    if stop.node is node:
                        self.edge(stop, down, RUNNABLE_LEFT)
        if dc_down is not None:
            for down in downs:
                self.edge(down, dc_down)

    def load_orderings(self, prim: Prim) -> None:
        """With utilization-based placement, what stops on a node frees its capacity
        before anything starts there (Pacemaker's load_stopped_<node> pseudo actions)."""
        if not prim.utilization or not prim.managed:
            return
        by_id = {n.id: n for n in self.ws.nodes}
        for node_id in prim.allowed:
            node = by_id.get(node_id)
            if node is None:
                continue
            uuid = f"load_stopped_{node.uname}"
            load = self.table.get(uuid, node)
            if load is None:
                load = self.table.add(Action(uuid, uuid, None, node, optional=False,
                                             pseudo=True))
            for stop in self.actions_of(prim, "stop"):
                if stop.node is node:
                    self.edge(stop, load)
            for start in self.actions_of(prim, "start"):
                if start.node is node:
                    self.edge(load, start)

    def anti_colocations(self) -> None:
        """Two resources that may never share a node: each leaves (stops, or demotes for
        the promoted role) before the other arrives (starts, or promotes). Pacemaker's
        anti_colocation_order, both ways."""
        for colo in self.cons.colocations:
            if colo.score > -INFINITY:
                continue
            self._anti_order(colo.dependent, colo.dependent_role, colo.primary, colo.primary_role)
            self._anti_order(colo.primary, colo.primary_role, colo.dependent, colo.dependent_role)

    def _anti_order(self, first: Rsc, first_role: str | None, then: Rsc,
                    then_role: str | None) -> None:
        if first_role == "Promoted":
            leave = ["demote"]
        else:
            leave = ["stop", "promote"] if first_role == "Unpromoted" else ["stop"]
        if then_role == "Promoted":
            arrive = ["promote"]
        else:
            arrive = ["start", "demote"] if then_role == "Unpromoted" else ["start"]
        for task in leave:
            firsts = (self.actions_of(first, task) if isinstance(first, Prim)
                      else [a for a in [self.pseudo(first, _COMPLETION[task])] if a])
            if not firsts and task == "stop" and isinstance(first, Prim):
                # Nothing to stop: until probed it may be active somewhere, so its probes
                # stand in for the stop (what probes_before_stop_followers does otherwise).
                firsts = [a for a in self.actions_of(first, "monitor") if a.interval_ms == 0]
            for then_task in arrive:
                thens = (self.actions_of(then, then_task) if isinstance(then, Prim)
                         else [a for a in [self.pseudo(then, then_task)] if a])
                for f in firsts:
                    for t in thens:
                        self.edge(f, t, ANTI_COLOCATION)

    def probes_before_restarts(self) -> None:
        """A probe comes before the restart of what its resource's start implies.

        Pacemaker's add_restart_orderings_for_probe: "A then B" means "probe A, then
        restart B" (stop B, or demote it for a promotion), along every chain of orders that
        make the next action required, and from a group or clone into its members (into
        the one instance on the probed node for an interleaved clone)."""
        # Only the edges a walk can take: from probes, those that imply the next action,
        # and those from a collective's own actions.
        after: dict[int, list[Edge]] = {}
        for edge in self.edges:
            first = edge.first
            if (IMPLIES_THEN in edge.flags or not isinstance(first.rsc, Prim)
                    or first.interval_ms == 0 and first.task == "monitor"):
                after.setdefault(id(first), []).append(edge)
        for prim in self.ws.all_primitives():
            # What a probe leads to depends on its resource only: walk once per resource
            # and first step, not once per probe.
            reached: dict[int, list[Action]] = {}
            for probe in self.actions_of(prim, "monitor"):
                if probe.interval_ms != 0:
                    continue
                for edge in list(after.get(id(probe), ())):
                    targets = reached.get(id(edge.then))
                    if targets is None:
                        targets = reached[id(edge.then)] = []
                        self._restart_walk(prim, edge.then, after, set(), targets)
                    for action in targets:
                        self.edge(probe, action)

    def _restart_walk(self, prim: Prim, then: Action, after: dict[int, list[Edge]],
                      seen: set[int], targets: list[Action]) -> None:
        if id(then) in seen:
            return
        seen.add(id(then))
        rsc = then.rsc
        if isinstance(rsc, Prim) and rsc is not prim:
            undo = {"start": "stop", "promote": "demote"}.get(then.task)
            for action in self.actions_of(rsc, undo) if undo else ():
                if not action.pseudo:  # a stop implied by fencing needs no probe
                    targets.append(action)
        peer: Rsc | None = None
        interleave = isinstance(rsc, CloneRt) and rsc.interleave
        if interleave:
            assert isinstance(rsc, CloneRt)
            node = prim.assigned
            peer = next((i for i in rsc.instances
                         if node is not None and _instance_node(i, False) is node), None)
        for edge in after.get(id(then), ()):
            nxt = edge.then.rsc
            if IMPLIES_THEN not in edge.flags:
                # Otherwise only from a collective into its own members.
                if (rsc is None or isinstance(rsc, Prim) or prim.parent is rsc or nxt is None
                        or isinstance(nxt, CloneRt) or nxt.parent is not rsc):
                    continue
                if interleave and (peer is None or peer is not nxt):
                    continue
            self._restart_walk(prim, edge.then, after, seen, targets)

    def probes_before_stop_followers(self) -> None:
        """What must wait for a resource's stop also waits for its probes: until every
        node has answered, the stop may not be the last one (Pacemaker's
        order_first_probes_imply_stops)."""
        for prim in self.ws.all_primitives():
            # The implicit "member stops, then its collective has stopped" order holds
            # even where the member has no stop to do.
            stopped = self.pseudo(prim.parent, "stopped") if prim.parent is not None else None
            if stopped is not None and not any("placeholder" not in a.extra
                                               for a in self.actions_of(prim, "stop")):
                for probe in self.actions_of(prim, "monitor"):
                    if probe.extra.get("probe"):
                        self.edge(probe, stopped)
        for edge in list(self.edges):
            first, then = edge.first, edge.then
            rsc = first.rsc
            if first.task != "stop" or not isinstance(rsc, Prim) or then.rsc is rsc:
                continue
            if rsc.container is then.rsc or (isinstance(then.rsc, Prim)
                                             and then.rsc.container is rsc):
                continue  # a probe after its container restarts would loop
            probes = [a for a in self.actions_of(rsc, "monitor") if a.extra.get("probe")]
            for probe in probes:
                if then.task == "stonith" and then.extra.get("action") == "on":
                    if probe.node is then.node:
                        continue  # a node is probed after it is unfenced
                if then.task == "do_shutdown" and probe.node is not then.node:
                    continue
                self.edge(probe, then, *(edge.flags & {ANTI_COLOCATION}))

    def primitive_internal(self, prim: Prim) -> None:
        stops, starts = self.actions_of(prim, "stop"), self.actions_of(prim, "start")
        top = probe_top(prim)
        # A clone instance's probe comes before the clone's own start, so that no instance
        # starts before every node has been asked.
        probe_targets = (starts if not isinstance(top, CloneRt)
                         else [a for a in [self.pseudo(top, "start")] if a is not None])
        for probe in self.actions_of(prim, "monitor"):
            if probe.interval_ms == 0:
                for start in probe_targets:
                    # Start only once every node has been asked. A probe that can't run
                    # (a node still joining) blocks a start, yet never stops what runs.
                    if not probe.runnable and not any(p.running_on for p in top.primitives()):
                        self.edge(probe, start, RUNNABLE_LEFT)
                    else:
                        self.edge(probe, start)
        for stop in stops:
            for start in starts:
                self.edge(stop, start, IMPLIES_THEN, RESTART)
        for demote in self.actions_of(prim, "demote"):
            for stop in stops:
                self.edge(demote, stop, IMPLIES_FIRST)
        for start in starts:
            for promote in self.actions_of(prim, "promote"):
                self.edge(start, promote, RUNNABLE_LEFT)
            for mon in self.actions_of(prim, "monitor"):
                if mon.node is start.node and mon.interval_ms > 0:  # probes come before
                    self.edge(start, mon, IMPLIES_THEN, RUNNABLE_LEFT)
        for mon in self.actions_of(prim, "monitor"):
            if mon.extra.get("stopped_monitor"):
                for stop in stops:
                    if stop.node is mon.node:
                        self.edge(stop, mon, IMPLIES_THEN, RUNNABLE_LEFT)
                for probe in self.actions_of(prim, "monitor"):
                    if probe.interval_ms == 0 and probe.node is mon.node:
                        self.edge(probe, mon, RUNNABLE_LEFT)
        for delete in self.actions_of(prim, "delete"):
            for stop in stops:
                self.edge(stop, delete)
            for start in starts:
                self.edge(delete, start)
        for cancel in self.actions_of(prim, "cancel"):
            if cancel.extra.get("before_start"):
                for start in starts:
                    self.edge(cancel, start, RUNNABLE_LEFT)
        # A role's monitor begins once the role is reached; the old role's one ends first.
        role_change = ("promote" if prim.next_role == "Promoted"
                       else "demote" if prim.role == "Promoted" else None)
        if role_change is not None:
            for change in self.actions_of(prim, role_change):
                for mon in self.actions_of(prim, "monitor"):
                    if mon.node is change.node and mon.interval_ms > 0:
                        self.edge(change, mon, RUNNABLE_LEFT)
                for cancel in self.actions_of(prim, "cancel"):
                    if cancel.node is change.node and cancel.extra.get("role_change"):
                        self.edge(cancel, change, RUNNABLE_LEFT)
        self._after_fencing(prim, stops)

    def _after_fencing(self, prim: Prim, stops: list[Action]) -> None:
        """Stops (and demotes) implied by fencing their node come after it, with the stop of
        the whole resource, when the resource requires fencing or the node is a guest
        (Pacemaker's order_stop_vs_fencing). Inside a bundle the bundle's stop carries it."""
        top = prim.top()
        bundled = isinstance(top, BundleRt)
        needs_fencing = start_requirement(prim, self.ws.config.stonith_enabled) == "fencing"
        top_stop = (self.pseudo(top, "stop") if top is not prim
                    else next(iter(stops), None))
        for stop in stops:
            node = stop.node
            if node is None or not node.unclean:
                continue
            fence = next(
                (a for a in self.table.actions if a.task == "stonith" and a.node is node),
                None,
            )
            if not (needs_fencing or node.container_rsc is not None):
                continue
            if not bundled:
                self.edge(fence, stop, RUNNABLE_LEFT)
                for demote in self.actions_of(prim, "demote"):
                    if demote.node is node:
                        self.edge(fence, demote)
            self.edge(fence, top_stop)

    def guest_placement(self, prim: Prim) -> None:
        """What runs inside a guest node starts after, and stops before, its container."""
        for node in {*(n for n in [prim.assigned] if n is not None), *prim.running_on}:
            container = self.ws.by_id.get(node.container_rsc or "")
            if not isinstance(container, Prim):
                continue
            # Inside a bundle, only runnability passes on (Pacemaker's bundle orders).
            implies = () if container.implicit else (IMPLIES_THEN,)
            for start in self.actions_of(prim, "start"):
                if start.node is node:
                    starts = self.actions_of(container, "start") or [
                        self.placeholder(container, "start")]
                    for c_start in starts:
                        self.edge(c_start, start, RUNNABLE_LEFT, *implies)
            if container.implicit:
                continue  # a bundle's child stops before its connection (remote_order)
            for stop in self.actions_of(prim, "stop"):
                if stop.node is node:
                    for c_stop in self.actions_of(container, "stop"):
                        self.edge(stop, c_stop, RUNNABLE_LEFT, IMPLIES_FIRST)

    def collective_internal(self, rsc: Rsc) -> None:
        if isinstance(rsc, GroupRt):
            children: list[Rsc] = list(rsc.children)
        elif isinstance(rsc, CloneRt):
            children = list(rsc.instances)
        else:
            return
        one_or_more = isinstance(rsc, CloneRt)
        for child in children:
            self.collective_internal(child)
            for task, done in (
                ("start", "running"),
                ("stop", "stopped"),
                ("promote", "promoted"),
                ("demote", "demoted"),
            ):
                begin, end = self.pseudo(rsc, task), self.pseudo(rsc, done)
                if begin is None or end is None:
                    continue
                child_begin = self._entry(child, task)
                child_end = self._exit(child, task)
                for a in child_begin:
                    self.edge(begin, a, RUNNABLE_LEFT, CHILD_BEGIN)
                for a in child_end:
                    self.edge(a, end, ONE_OR_MORE if one_or_more else RUNNABLE_LEFT, CHILD_END)
        if isinstance(rsc, CloneRt) and rsc.ordered:
            self._ordered_instances(children)
        for task, done in (("start", "running"), ("stop", "stopped"),
                           ("promote", "promoted"), ("demote", "demoted")):
            if task == "promote" and isinstance(rsc, CloneRt):
                continue  # Pacemaker 2.1.5 has no such order for a promotable clone
            begin, end = self.pseudo(rsc, task), self.pseudo(rsc, done)
            if begin is not None and end is not None and not isinstance(rsc, BundleRt):
                self.edge(begin, end, RUNNABLE_LEFT)  # done only once begun
        # Whatever stops (say, with a fenced node) is gone before its replacement starts.
        self.edge(self.pseudo(rsc, "stopped"), self.pseudo(rsc, "start"))
        if isinstance(rsc, CloneRt) and rsc.promotable:
            self.edge(self.pseudo(rsc, "running"), self.pseudo(rsc, "promote"), RUNNABLE_LEFT)
            # Optional (pcmk__promotable_restart_ordering): stopping an unpromoted instance
            # does not make the clone's demotion happen.
            self.edge(self.pseudo(rsc, "demoted"), self.pseudo(rsc, "stop"))
            # Never two promoted at once: demotions finish before any promotion.
            self.edge(self.pseudo(rsc, "demoted"), self.pseudo(rsc, "promote"))
            # Promotion also waits for every stop (Pacemaker's promotable restart order).
            self.edge(self.pseudo(rsc, "stopped"), self.pseudo(rsc, "promote"))
            self.edge(self.pseudo(rsc, "demoted"), self.pseudo(rsc, "start"))

    def _ordered_instances(self, instances: list[Rsc]) -> None:
        """An ordered clone's instances start and promote one after the other (and stop
        and demote the other way round), all optionally."""
        for last, child in zip(instances, instances[1:], strict=False):
            for task, forward in (("start", True), ("promote", True), ("stop", False),
                                  ("demote", False)):
                first, then = (last, child) if forward else (child, last)
                for a in self._entry(first, task):
                    for b in self._entry(then, task):
                        self.edge(a, b)

    def _entry(self, rsc: Rsc, task: str) -> list[Action]:
        if isinstance(rsc, Prim):
            return self.actions_of(rsc, task)
        own = self.pseudo(rsc, task)
        return [own] if own is not None else []

    def _exit(self, rsc: Rsc, task: str) -> list[Action]:
        if isinstance(rsc, Prim):
            return self.actions_of(rsc, task)
        own = self.pseudo(rsc, _COMPLETION[task])
        return [own] if own is not None else []

    def one_or_more(self, order: OrderingRt) -> list[Action]:
        """The pseudo action that stands for "enough of the first side can run"."""
        name = order.one_or_more or f"one-or-more:{order.id}"
        existing = self.table.get(name, None)
        if existing is not None:
            return [existing]
        # Pacemaker names both the action and its task after the ordering.
        pseudo = self.table.add(Action(name, name, None, None, pseudo=True))
        pseudo.extra["min"] = str(order.min_first)
        parts: list[Rsc]
        if order.first_parts:
            parts = list(order.first_parts)
        elif isinstance(order.first, CloneRt):
            parts = list(order.first.instances)
        else:
            parts = [order.first]
        for part in parts:
            if isinstance(part, Prim):
                inputs = self.actions_of(part, order.first_action) or [
                    self.placeholder(part, order.first_action)]
            else:
                completion = _COMPLETION.get(order.first_action, order.first_action)
                inputs = [self.pseudo(part, completion) or self.placeholder(part, completion)]
            for action in inputs:
                self.edge(action, pseudo, MIN_INPUT)
        return [pseudo]

    def constraint(self, order: OrderingRt) -> None:
        first_task = order.first_action
        then_task = order.then_action
        if order.min_first > 0:
            firsts = self.one_or_more(order)
        elif isinstance(order.first, Prim):
            firsts = self.actions_of(order.first, first_task) or [
                self.placeholder(order.first, first_task)
            ]
        else:
            completion = _COMPLETION.get(first_task, first_task)
            firsts = [
                self.pseudo(order.first, completion) or self.placeholder(order.first, completion)
            ]
        if isinstance(order.then, Prim):
            thens = self.actions_of(order.then, then_task)
        else:
            then_pseudo = self.pseudo(order.then, then_task)
            thens = [then_pseudo] if then_pseudo is not None else []
        if order.kind == "Mandatory":
            # Pacemaker 2.1.5: a mandatory order always needs its first action runnable; the
            # forward half of a symmetrical order passes requirement on. The inverse half
            # ("then" stops before "first" stops) passes none back: Pacemaker makes a first
            # required there only when its own members already are, so a clone instance
            # stopping on another node never stops (restarts) what was ordered after the clone.
            flags = [ASYMMETRIC] if order.symmetry == "asymmetric" else [RUNNABLE_LEFT]
            if order.symmetry == "symmetric":
                flags.append(IMPLIES_THEN)
        else:
            flags = []
            # The deprecated restart-type=restart makes an optional order restart what is
            # ordered after (and, in the inverse half, stop what was ordered before).
            inverse = order.symmetry == "inverse"
            later = order.first if inverse else order.then
            if later.meta.get("restart-type", "").lower() == "restart":
                flags = [IMPLIES_FIRST if inverse else IMPLIES_THEN]
        if (isinstance(order.first, CloneRt) and isinstance(order.then, CloneRt)
                and order.min_first == 0 and self._interleaved(order)):
            self.interleave(order, flags)
            # The clones' own actions stay ordered, but pass nothing on: what each instance
            # needs is its peer's on the same node.
            for f in firsts:
                for t in thens:
                    self.edge(f, t)
            return
        for f in firsts:
            for t in thens:
                self.edge(f, t, *flags)

    def _interleaved(self, order: OrderingRt) -> bool:
        # The dependent clone decides: "then" for starts and promotions, "first" for stops.
        owner = order.first if order.then_action in ("stop", "demote") else order.then
        return owner.meta.get("interleave", "false").lower() in ("true", "yes", "1", "on")

    def withdraw_unmatched(self) -> None:
        """An interleaved instance withdrawn after its dependents were ordered: withdraw them
        too (whatever the order of the constraints), until nothing changes."""
        orders = [o for o in self.cons.orderings
                  if o.kind == "Mandatory" and o.min_first == 0 and o.symmetry != "asymmetric"
                  and o.then_action not in ("stop", "demote")
                  and isinstance(o.first, CloneRt) and isinstance(o.then, CloneRt)
                  and self._interleaved(o)]
        for _round in range(len(orders) + 1):
            changed = False
            for order in orders:
                assert isinstance(order.first, CloneRt) and isinstance(order.then, CloneRt)
                nodes = {n.id for inst in order.first.instances
                         if (n := _instance_node(inst, False)) is not None}
                for inst in order.then.instances:
                    node = _instance_node(inst, False)
                    if node is not None and node.id not in nodes and not any(
                            p.running_on for p in inst.primitives()):
                        _unassign(inst, self._entry(inst, order.then_action))
                        changed = True
            if not changed:
                return

    def interleave(self, order: OrderingRt, flags: list[str]) -> None:
        """Order each "then" instance after the "first" instance on the same node only."""
        assert isinstance(order.first, CloneRt) and isinstance(order.then, CloneRt)
        current = order.then_action in ("stop", "demote")
        firsts_by_node: dict[str, Prim | GroupRt] = {}
        for inst in order.first.instances:
            node = _instance_node(inst, current)
            if node is not None:
                firsts_by_node.setdefault(node.id, inst)
        for inst in order.then.instances:
            node = _instance_node(inst, current)
            if node is None:
                continue
            first_inst = firsts_by_node.get(node.id)
            thens = self._entry(inst, order.then_action)
            if first_inst is None:
                if not current and (RUNNABLE_LEFT in flags or IMPLIES_THEN in flags):
                    _unassign(inst, thens)
                continue
            for f in self._exit(first_inst, order.first_action):
                for t in thens:
                    self.edge(f, t, *flags)


def _with_members(rsc: Rsc) -> list[Rsc]:
    out: list[Rsc] = [rsc]
    if isinstance(rsc, GroupRt):
        out.extend(rsc.children)
    elif isinstance(rsc, CloneRt):
        for inst in rsc.instances:
            out.extend(_with_members(inst))
    return out


def _instance_node(inst: Prim | GroupRt, current: bool) -> NodeInfo | None:
    for prim in inst.primitives():
        if current:
            if prim.running_on:
                return prim.running_on[0]
        elif prim.assigned is not None and prim.next_role not in (None, "Stopped"):
            return prim.assigned
    return None


def _unassign(inst: Prim | GroupRt, starts: list[Action]) -> None:
    """No "first" instance to interleave with: this instance must not come up."""
    for prim in inst.primitives():
        if prim.running_on:
            continue
        prim.assigned = None
        prim.next_role = "Stopped"
    for action in starts:
        if action.node is None or not (isinstance(action.rsc, Prim) and action.rsc.running_on):
            action.runnable = False
            action.optional = True
            action.extra["withdrawn"] = "1"  # still blocks what was ordered after it
