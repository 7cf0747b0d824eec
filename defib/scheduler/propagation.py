"""What orderings imply, to a fixpoint: an unrunnable first blocks what follows, a required
first makes what follows required (restarts), a collective passes that on to its members."""

from __future__ import annotations

import heapq

from defib.scheduler.actions import Action
from defib.scheduler.ordering import (
    ASYMMETRIC,
    CHILD_BEGIN,
    CHILD_END,
    COLOCATED,
    IMPLIES_FIRST,
    IMPLIES_THEN,
    MIN_INPUT,
    ONE_OR_MORE,
    RESTART,
    RUNNABLE_LEFT,
    Edge,
)
from defib.scheduler.unpack import WorkingSet
from defib.scheduler.working import CloneRt, GroupRt, NodeInfo, Prim


def propagate(edges: list[Edge], ws: WorkingSet) -> None:
    """Fixpoint of what orderings imply: unrunnable starts, required restarts.

    Rounds sweep the edges in order, as a plain fixpoint would, but only edges next to an
    action that changed are looked at again: the rules only read their two ends (and, for
    clones, the members of a pseudo action), so skipping the others changes nothing.
    """
    children: dict[int, list[Action]] = {}
    parents: dict[int, list[Action]] = {}
    touching: dict[int, list[int]] = {}
    aggregates: dict[int, list[Edge]] = {}
    for index, edge in enumerate(edges):
        if CHILD_BEGIN in edge.flags:
            children.setdefault(id(edge.first), []).append(edge.then)
            parents.setdefault(id(edge.then), []).append(edge.first)
        elif CHILD_END in edge.flags:
            children.setdefault(id(edge.then), []).append(edge.first)
            parents.setdefault(id(edge.first), []).append(edge.then)
        touching.setdefault(id(edge.first), []).append(index)
        touching.setdefault(id(edge.then), []).append(index)
        if MIN_INPUT in edge.flags or ONE_OR_MORE in edge.flags:
            aggregates.setdefault(id(edge.then), []).append(edge)

    def state(action: Action) -> tuple[bool, bool, str | None, bool]:
        return (action.optional, action.runnable, action.reason, "forced" in action.extra)

    pending = list(range(len(edges)))  # a heap of edge indexes to look at
    heapq.heapify(pending)
    queued = set(pending)
    later: set[int] = set()
    position = -1

    def touched(action: Action) -> None:
        seen: set[int] = set()
        stack = [action]
        while stack:  # the action, and the pseudo actions of collectives it belongs to
            current = stack.pop()
            if id(current) in seen:
                continue
            seen.add(id(current))
            for index in touching.get(id(current), ()):
                if index in queued:
                    continue
                if index > position:
                    heapq.heappush(pending, index)
                    queued.add(index)
                else:
                    later.add(index)
            stack.extend(parents.get(id(current), ()))

    for _round in range(50):
        while pending:
            position = heapq.heappop(pending)
            queued.discard(position)
            edge = edges[position]
            before = (state(edge.first), state(edge.then))
            if CHILD_BEGIN in edge.flags or CHILD_END in edge.flags:
                _collective_rule(edge)
            elif COLOCATED in edge.flags:
                _colocated_rule(edge)
            else:
                # Requirement first: when both apply, Pacemaker reports "required <first>".
                _implies_then_rule(edge, children)
                _asymmetric_rule(edge)
                _runnable_left_rule(edge)
                _restart_rules(edge)
                _implies_first_rule(edge, children)
            if ws.trace is not None and before[1][1] and not edge.then.runnable:
                ws.trace.blocked(edge.then, edge.first, "colocated" if COLOCATED in edge.flags
                                 else "ordering")
            if state(edge.first) != before[0]:
                touched(edge.first)
            if state(edge.then) != before[1]:
                touched(edge.then)
        position = -1
        for group in aggregates.values():
            if _aggregate_rule(group):
                touched(group[0].then)
        if not later and not pending:
            break
        pending = sorted(set(pending) | later)
        queued = set(pending)
        later = set()
    for group in aggregates.values():
        # A "one or more" pseudo action stays optional, but goes into the graph as soon as
        # one of its inputs is required (Pacemaker's implies_then_printed).
        if any(MIN_INPUT in e.flags and not e.first.optional
               and "placeholder" not in e.first.extra for e in group):
            group[0].then.extra["print_always"] = "1"


def _aggregate_rule(group: list[Edge]) -> bool:
    """"One or more" pseudo actions: runnable while enough of their inputs are."""
    then = group[0].then
    inputs = [e for e in group if MIN_INPUT in e.flags]
    if inputs:
        enough = sum(1 for e in inputs if e.first.runnable) >= int(then.extra.get("min", "1"))
        if then.runnable and not enough:
            then.runnable = False
            return True
    ones = [e for e in group if ONE_OR_MORE in e.flags]
    if ones and then.runnable and then.task in ("running", "promoted") and not any(
            e.first.runnable for e in ones):
        then.runnable = False
        return True
    return False


def _is_real_optional(action: Action) -> bool:
    """An optional action of a primitive that simply stays as it is."""
    return (action.optional and "placeholder" not in action.extra
            and "withdrawn" not in action.extra and isinstance(action.rsc, Prim))


def _asymmetric_rule(edge: Edge) -> bool:
    f, t = edge.first, edge.then
    if (ASYMMETRIC in edge.flags and not f.runnable and t.runnable and not t.optional
            and not _is_real_optional(f)):
        t.runnable = False
        if f.rsc is not t.rsc:
            t.reason = t.reason or f"unrunnable {f.label()}"
        return True
    return False


def _runnable_left_rule(edge: Edge) -> bool:
    f, t = edge.first, edge.then
    if RUNNABLE_LEFT not in edge.flags or f.runnable or not t.runnable or _is_real_optional(f):
        return False
    t.runnable = False
    # Pacemaker names the cause only when it is another resource's action (a start blocked
    # by its own probe on a pending node is just "blocked").
    if t.reason is None and f.rsc is not t.rsc:
        inherited = f.pseudo and f.reason and not isinstance(f.rsc, Prim)
        t.reason = f.reason if inherited else f"unrunnable {f.label()}"
    return True


def _colocated_rule(edge: Edge) -> bool:
    f, t = edge.first, edge.then
    if f.runnable or not t.runnable or f.rsc is None:
        return False
    t.runnable = False
    if t.reason is None:
        t.reason = f"colocation with {f.rsc.id}"
    return True


def _restart_rules(edge: Edge) -> bool:
    f, t = edge.first, edge.then
    if RESTART not in edge.flags:
        return False
    if not f.optional and not f.runnable and t.runnable and "placeholder" not in f.extra:
        # Its stop must happen and can't: it can't start anywhere either.
        t.runnable = False
        return True
    if not f.optional:
        return False
    if not t.optional:
        f.optional = False  # a restart needs its stop
        return True
    if not t.runnable and f.runnable and isinstance(t.rsc, Prim) and t.rsc.managed:
        f.optional = False  # a resource that should (re)start but can't must still stop
        return True
    return False


def _implies_then_rule(edge: Edge, children: dict[int, list[Action]]) -> bool:
    f, t = edge.first, edge.then
    if IMPLIES_THEN not in edge.flags or not _required_for(f, _ordering_node(t), children):
        return False
    if not t.optional:
        if (t.pseudo and "forced" not in t.extra and f.runnable and f.rsc is not None
                and f.rsc is not t.rsc):
            # Required already (a member acts anyway); the ordering still binds them all.
            _force(t, forward=True)
            if "forced" in t.extra:
                if t.reason is None:
                    t.reason = f"required {f.label()}"
                return True
        # A restart already required by its own stop: still credit the ordering.
        if (t.reason is None and f.rsc is not None and f.rsc is not t.rsc
                and t.task == "start" and isinstance(t.rsc, Prim) and not t.rsc.failed
                and t.node in t.rsc.running_on and f.task in ("start", "running")):
            t.reason = f"required {f.label()}"
            return True
        return False
    if RESTART in edge.flags and f.rsc is t.rsc:
        # Internal stop->start: a required stop restarts only when it stays.
        if (t.node is not None and t.node is f.node and isinstance(t.rsc, Prim)
                and t.node in t.rsc.running_on):
            t.optional = False
            return True
        return False
    t.optional = False
    _force(t, forward=True)
    if t.reason is None and f.rsc is not None:
        t.reason = f"required {f.label()}"
    elif t.reason is None and f.task == "stonith":
        t.reason = "required stonith"  # Pacemaker names a node action by its task alone
    return True


def _implies_first_rule(edge: Edge, children: dict[int, list[Action]]) -> bool:
    f, t = edge.first, edge.then
    if IMPLIES_FIRST in edge.flags and f.optional and _required_for(t, f.node, children):
        f.optional = False
        _force(f)
        return True
    return False


def _collective_rule(edge: Edge) -> bool:
    f, t = edge.first, edge.then
    parent, child = (f, t) if CHILD_BEGIN in edge.flags else (t, f)
    changed = False
    if RUNNABLE_LEFT in edge.flags:
        changed |= _runnable_left_rule(edge)
    if not child.optional and parent.optional:
        parent.optional = False  # a member acts, so its collective does
        changed = True
    if "forced" in parent.extra and child.optional:
        child.optional = False  # the whole group must act
        _force(child)
        owner = parent.rsc
        if child.reason is None and parent.reason and (
                isinstance(owner, CloneRt)
                or (isinstance(owner, GroupRt) and owner.children
                    and child.rsc is owner.children[0])):
            # Every instance, or a group's first member, carries the collective's cause.
            child.reason = parent.reason
        changed = True
    return changed


def _force(action: Action, forward: bool = False) -> None:
    """A collective's action required by an ordering: every member must take it.

    A group always passes the requirement on. A clone does so only for what must follow
    something else (a start required by a start before it); a clone's stop required by
    what must stop after it is a synchronisation point whose instances act on their own.
    """
    if not action.pseudo:
        return
    if isinstance(action.rsc, GroupRt) or (forward and isinstance(action.rsc, CloneRt)):
        action.extra["forced"] = "1"


def _ordering_node(action: Action) -> NodeInfo | None:
    """The node an action stands for in an ordering: its own, or for a group's start the
    one node all its members are assigned to (Pacemaker asks a clone "first" about that
    node only, so an instance starting elsewhere restarts nothing in the group)."""
    if action.node is not None or action.task != "start" or not isinstance(action.rsc, GroupRt):
        return action.node
    nodes = {id(p.assigned): p.assigned for p in action.rsc.children if p.assigned is not None}
    return next(iter(nodes.values())) if len(nodes) == 1 else None


def _required_for(action: Action, node: NodeInfo | None,
                  children: dict[int, list[Action]]) -> bool:
    """Is a clone's action required as seen from one node (Pacemaker asks per node)?"""
    if action.optional:
        return False
    if node is None or not isinstance(action.rsc, CloneRt):
        return True
    return any(_required_on(child, node, children) for child in children.get(id(action), []))


def _required_on(action: Action, node: NodeInfo, children: dict[int, list[Action]]) -> bool:
    if action.optional:
        return False
    if action.node is not None:
        return action.node is node
    return any(_required_on(child, node, children) for child in children.get(id(action), []))
