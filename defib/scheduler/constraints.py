"""Constraint phase: configuration constraints -> location scores, colocations, orderings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from defib.model.constraints import Location, ResourceSet
from defib.model.scores import INFINITY, add_scores, parse_score
from defib.scheduler.rules import RuleContext, evaluate_nvsets, normalize_role, rule_matches
from defib.scheduler.unpack import WorkingSet
from defib.scheduler.variants.bundle import promotion_target
from defib.scheduler.variants.guest import guest_connections_opt_in
from defib.scheduler.working import BundleRt, CloneRt, GroupRt, NodeInfo, Prim, Rsc


@dataclass(eq=False)
class ColocationRt:
    id: str
    dependent: Rsc
    primary: Rsc
    score: int
    dependent_role: str | None = None
    primary_role: str | None = None
    node_attribute: str = "#uname"
    influence: bool = True


@dataclass(eq=False)
class OrderingRt:
    id: str
    first: Rsc
    first_action: str
    then: Rsc
    then_action: str
    kind: str = "Mandatory"  # Mandatory Optional Serialize
    # symmetric (forward half) | inverse | asymmetric | runnable-only (a bundle's internal
    # orders: the first must be able to run, nothing more)
    symmetry: str = "symmetric"
    # "One or more" orders: the first side is satisfied once min_first of its parts can run
    # (require-all=false, clone-min). first_parts lists the set members when first is a set.
    min_first: int = 0
    one_or_more: str | None = None
    first_parts: tuple[Rsc, ...] = ()


@dataclass(eq=False)
class PromotionPref:
    rsc: Rsc
    node: NodeInfo
    score: int
    # Pacemaker applies a ticket's ban to the clone's node scores, after each instance's
    # own score (location constraints for the promoted role) is known.
    clone_level: bool = False


@dataclass
class Constraints:
    colocations: list[ColocationRt]
    orderings: list[OrderingRt]
    promotion_prefs: list[PromotionPref]
    discovery_never: set[tuple[str, str]]  # (rsc id, node id)
    discovery_exclusive: dict[str, set[str]]


def set_node_score(rsc: Rsc, node: NodeInfo, score: int) -> None:
    """Add a score for a node on a resource and every descendant (resource_node_score)."""
    rsc.allowed[node.id] = add_scores(rsc.allowed.get(node.id, 0), score)
    for child in _children(rsc):
        set_node_score(child, node, score)


def apply_location_score(rsc: Rsc, node: NodeInfo, score: int) -> None:
    """A location constraint's score (Pacemaker's rsc_location methods).

    Unlike set_node_score, a group passes the score to its first member only; the other
    members just learn the node (score 0) and follow the first through colocation.
    """
    rsc.allowed[node.id] = add_scores(rsc.allowed.get(node.id, 0), score)
    if isinstance(rsc, GroupRt):
        for index, child in enumerate(rsc.children):
            apply_location_score(child, node, score if index == 0 else 0)
    elif isinstance(rsc, CloneRt):
        for inst in rsc.instances:
            apply_location_score(inst, node, score)


def _children(rsc: Rsc) -> list[Rsc]:
    if isinstance(rsc, BundleRt):
        out: list[Rsc] = []
        for replica in rsc.replicas:
            out.extend(p for p in (replica.ip, replica.container, replica.connection,
                                   replica.child) if p is not None)
        return out
    if isinstance(rsc, GroupRt):
        return list(rsc.children)
    if isinstance(rsc, CloneRt):
        return list(rsc.instances)
    return []


def init_allowed(ws: WorkingSet) -> None:
    # In a symmetric cluster every resource may run everywhere, at first with the node's own
    # base score (the ``score`` of its ``<node>`` entry).
    base = {node.id: parse_score(node.score) if node.score else 0 for node in ws.cib.nodes}
    start = {n.id: base.get(n.id, 0) for n in ws.nodes} if ws.config.symmetric else {}
    for rsc in ws.resources:
        _init(rsc, start)


def _init(rsc: Rsc, start: dict[str, int]) -> None:
    rsc.allowed = dict(start)
    for child in _children(rsc):
        _init(child, start)


def _resolve(ws: WorkingSet, ident: str | None) -> list[Rsc]:
    if ident is None:
        return []
    rsc = ws.rsc(ident)
    if rsc is not None:
        return [rsc]
    if any(t.id == ident for t in ws.cib.templates):
        # A constraint on a template applies to every primitive made from it.
        return [p for p in ws.all_primitives() if p.template == ident]
    for tag in ws.cib.tags:
        if tag.id == ident:
            out: list[Rsc] = []
            for ref in tag.refs:
                found = ws.rsc(ref)
                if found is not None:
                    out.append(found)
            return out
    return []


def _top_level(ws: WorkingSet) -> list[Rsc]:
    out: list[Rsc] = []
    for rsc in ws.resources:
        out.append(rsc)
        out.extend(_children(rsc))
        if isinstance(rsc, CloneRt):
            for inst in rsc.instances:
                out.extend(_children(inst))
    return out


def apply_locations(ws: WorkingSet, cons: Constraints) -> None:
    for loc in ws.cib.locations:
        targets: list[tuple[Rsc, tuple[str, ...]]] = []
        if loc.rsc_pattern:
            # A POSIX regular expression searched anywhere in the id; "!" inverts it.
            invert = loc.rsc_pattern.startswith("!")
            try:
                pattern = re.compile(loc.rsc_pattern[1:] if invert else loc.rsc_pattern)
            except re.error:
                continue
            for rsc in ws.resources:
                match = pattern.search(rsc.id)
                if rsc.orphan or bool(match) == invert:
                    continue
                groups = ((match.group(0),) + tuple(g or "" for g in match.groups())
                          if match else ())
                targets.append((rsc, groups))
        elif loc.sets:
            for rs in loc.sets:
                for ident in rs.resources:
                    targets.extend((r, ()) for r in _resolve(ws, ident))
        else:
            targets.extend((r, ()) for r in _resolve(ws, loc.rsc))
        for rsc, submatches in targets:
            if rsc.parent is not None and isinstance(rsc.parent, CloneRt):
                rsc = rsc.parent
            _apply_location(ws, cons, loc, rsc, submatches)


def _apply_location(
    ws: WorkingSet,
    cons: Constraints,
    loc: Location,
    rsc: Rsc,
    submatches: tuple[str, ...],
) -> None:
    role = normalize_role(loc.role) if loc.role else None
    discovery = loc.resource_discovery
    if discovery == "exclusive":
        # Exclusive discovery holds even where no node matches: then it runs nowhere.
        for prim in _discoverable(rsc):
            cons.discovery_exclusive.setdefault(prim.id, set())
    if loc.node is not None:
        node = ws.node_by_uname(loc.node) or ws.node(loc.node)
        if node is None:
            return
        score = parse_score(loc.score)
        _place(ws, cons, rsc, node, score, role, discovery)
        if ws.trace is not None:
            ws.trace.score(rsc, node, score, "location", loc.id)
        return
    # value-source="param"/"meta" compare with the resource's own parameters (as they
    # are on each node) and meta attributes.
    params: Mapping[str, str] = rsc.params if isinstance(rsc, Prim) else {}
    for rule in loc.rules:
        rule_role = normalize_role(rule.role) if rule.role else role
        for node in ws.nodes:
            if isinstance(rsc, Prim) and rsc.node_dependent_params:
                params = evaluate_nvsets(rsc.node_dependent_params, RuleContext(
                    now=ws.now, node_attrs=node.attrs, rsc_class=rsc.rsc_class,
                    rsc_provider=rsc.provider, rsc_type=rsc.type))
            ctx = RuleContext(now=ws.now, node_attrs=node.attrs, submatches=submatches,
                              params=params, meta=rsc.meta)
            plain = type(rule)(
                id=rule.id,
                boolean_op=rule.boolean_op,
                score=rule.score,
                score_attribute=rule.score_attribute,
                role=None,
                expressions=rule.expressions,
            )
            if not rule_matches(plain, ctx):
                continue
            if rule.score_attribute:
                value = node.attrs.get(rule.score_attribute)
                if value is None:
                    continue
                score = parse_score(value)
            else:
                score = rule.score if rule.score is not None else 0
            _place(ws, cons, rsc, node, score, rule_role, discovery)
            if ws.trace is not None:
                ws.trace.score(rsc, node, score, "location", f"{loc.id} (rule {rule.id})")


def _place(
    ws: WorkingSet,
    cons: Constraints,
    rsc: Rsc,
    node: NodeInfo,
    score: int,
    role: str | None,
    discovery: str | None,
) -> None:
    if discovery == "never":
        for prim in rsc.primitives():
            cons.discovery_never.add((prim.id, node.id))
    elif discovery == "exclusive":
        for prim in _discoverable(rsc):
            cons.discovery_exclusive.setdefault(prim.id, set()).add(node.id)
    if role == "Promoted":
        cons.promotion_prefs.append(PromotionPref(promotion_target(rsc), node, score))
        return
    if role is not None and role not in ("Started",):
        return
    apply_location_score(rsc, node, score)


def _kind(score: str | None, kind: str | None) -> str:
    if kind:
        for known in ("Mandatory", "Optional", "Serialize"):
            if kind.lower() == known.lower():
                return known
        return "Mandatory"
    if score is None:
        return "Mandatory"
    return "Mandatory" if parse_score(score) > 0 else "Optional"


def unpack_constraints(ws: WorkingSet) -> Constraints:
    cons = Constraints([], [], [], set(), {})
    init_allowed(ws)
    apply_locations(ws, cons)
    if not ws.config.symmetric:
        guest_connections_opt_in(ws)
    apply_tickets(ws, cons)
    apply_node_health(ws)
    for colo in ws.cib.colocations:
        score = parse_score(colo.score)
        if colo.sets:
            _colocation_sets(ws, cons, colo.id, colo.sets, score, colo.influence)
            continue
        deps, prims = _resolve(ws, colo.rsc), _resolve(ws, colo.with_rsc)
        for dep in deps:
            for pri in prims:
                cons.colocations.append(
                    ColocationRt(
                        colo.id,
                        dep,
                        pri,
                        score,
                        normalize_role(colo.rsc_role) if colo.rsc_role else None,
                        normalize_role(colo.with_rsc_role) if colo.with_rsc_role else None,
                        colo.node_attribute or "#uname",
                        True if colo.influence is None else colo.influence,
                    )
                )
    for order in ws.cib.orders:
        kind = _kind(order.score, order.kind)
        if order.sets:
            _order_sets(ws, cons, order.id, order.sets, kind, order.symmetrical)
            continue
        firsts, thens = _resolve(ws, order.first), _resolve(ws, order.then)
        first_action = order.first_action or "start"
        then_action = order.then_action or first_action
        symmetrical = order.symmetrical if order.symmetrical is not None else kind != "Serialize"
        for f in firsts:
            for t in thens:
                forward = OrderingRt(order.id, f, first_action, t, then_action, kind,
                                     "symmetric" if symmetrical else "asymmetric")
                if isinstance(f, CloneRt):
                    clone_min = _int_meta(f.meta.get("clone-min"))
                    if clone_min > 0 or not order.require_all:
                        forward.min_first = max(clone_min, 1)
                        forward.one_or_more = f"clone-one-or-more:{order.id}"
                cons.orderings.append(forward)
                if symmetrical:  # clone-min or not, the stops are ordered the other way
                    inv_f, inv_t = _invert(first_action), _invert(then_action)
                    if inv_f and inv_t:
                        cons.orderings.append(
                            OrderingRt(order.id + "-inv", t, inv_t, f, inv_f, kind, "inverse")
                        )
    # A bundle replica's address runs with its container, and starts first.
    for rsc in ws.resources:
        if isinstance(rsc, BundleRt):
            for replica in rsc.replicas:
                if replica.ip is not None:
                    cons.colocations.append(ColocationRt(f"{replica.ip.id}-with-container",
                                                         replica.ip, replica.container,
                                                         INFINITY))
                    cons.orderings.append(OrderingRt(f"{replica.ip.id}-before-container",
                                                     replica.ip, "start", replica.container,
                                                     "start", "Mandatory"))
                    cons.orderings.append(OrderingRt(f"{replica.ip.id}-before-container-inv",
                                                     replica.container, "stop", replica.ip,
                                                     "stop", "Mandatory", "inverse"))
    # A guest node's connection runs with, and after, the resource it lives in.
    container_orders: list[OrderingRt] = []
    for prim in ws.all_primitives():
        if prim.container is not None:
            if not prim.implicit:  # a bundle binds its connections to the container itself
                cons.colocations.append(ColocationRt(f"{prim.id}-with-container", prim,
                                                     prim.container, INFINITY))
            container_orders.append(OrderingRt(
                f"{prim.id}-after-container", prim.container, "start", prim, "start",
                "Mandatory", "runnable-only" if prim.implicit else "symmetric"))
            container_orders.append(OrderingRt(f"{prim.id}-after-container-inv", prim,
                                               "stop", prim.container, "stop", "Mandatory",
                                               "inverse"))
    # Groups: each member after and with the previous one.
    for rsc in _top_level(ws):
        if isinstance(rsc, GroupRt):
            members = rsc.children
            ordered = rsc.meta.get("ordered", "true").lower() not in ("false", "no", "0", "off")
            last_active = members[0] if members and members[0].running_on else None
            for prev, cur in zip(members, members[1:], strict=False):
                cons.colocations.append(ColocationRt(f"{rsc.id}-internal", cur, prev, INFINITY))
                if ordered:
                    cons.orderings.append(
                        OrderingRt(rsc.id, prev, "start", cur, "start", "Mandatory")
                    )
                    cons.orderings.append(
                        OrderingRt(rsc.id, cur, "stop", prev, "stop", "Mandatory", "inverse")
                    )
                if cur.running_on:
                    # A partly active group still stops in sequence: past the members
                    # that are not running, after the last one that is.
                    if ordered and not prev.running_on and last_active is not None:
                        cons.orderings.append(OrderingRt(
                            rsc.id, cur, "stop", last_active, "stop", "Optional", "asymmetric"))
                    last_active = cur
    # After the groups' own: Pacemaker looks at the newest ordering of an action first, so
    # a group member restarted with its predecessor names that as the cause.
    cons.orderings.extend(container_orders)
    return cons


def _invert(action: str) -> str | None:
    return {
        "start": "stop",
        "stop": "start",
        "promote": "demote",
        "demote": "promote",
        "promoted": "demoted",
        "demoted": "promoted",
        "running": "stopped",
        "stopped": "running",
    }.get(action)


def _colocation_sets(
    ws: WorkingSet,
    cons: Constraints,
    ident: str,
    sets: tuple[ResourceSet, ...],
    score: int,
    influence: bool | None,
) -> None:
    resolved = [[r for i in rs.resources for r in _resolve(ws, i)] for rs in sets]
    for rs, members in zip(sets, resolved, strict=True):
        set_score = parse_score(rs.score) if rs.score is not None else score
        role = normalize_role(rs.role) if rs.role else None
        if rs.sequential:
            for prev, cur in zip(members, members[1:], strict=False):
                cons.colocations.append(ColocationRt(ident, cur, prev, set_score, role, role))
    # Between sets: every member of a set with the last ... members of the next set
    for i in range(len(sets) - 1):
        first_set, next_set = resolved[i], resolved[i + 1]
        if not first_set or not next_set:
            continue
        role_a = _role(sets[i].role)
        role_b = _role(sets[i + 1].role)
        primary = next_set[0] if sets[i + 1].sequential else None
        dependents = [first_set[-1]] if sets[i].sequential else first_set
        primaries = [primary] if primary is not None else next_set
        for dep in dependents:
            for pri in primaries:
                cons.colocations.append(ColocationRt(ident, dep, pri, score, role_a, role_b))


def _order_sets(
    ws: WorkingSet,
    cons: Constraints,
    ident: str,
    sets: tuple[ResourceSet, ...],
    kind: str,
    symmetrical: bool | None,
) -> None:
    resolved = [[r for i in rs.resources for r in _resolve(ws, i)] for rs in sets]
    sym = symmetrical if symmetrical is not None else kind != "Serialize"

    def add(f: Rsc, fa: str, t: Rsc, ta: str) -> None:
        cons.orderings.append(OrderingRt(ident, f, fa, t, ta, kind,
                                         "symmetric" if sym else "asymmetric"))
        if sym:
            inv_f, inv_t = _invert(fa), _invert(ta)
            if inv_f and inv_t:
                cons.orderings.append(
                    OrderingRt(ident + "-inv", t, inv_t, f, inv_f, kind, "inverse"))

    for rs, members in zip(sets, resolved, strict=True):
        action = rs.action or "start"
        if rs.sequential:
            for prev, cur in zip(members, members[1:], strict=False):
                add(prev, action, cur, action)
    for i in range(len(sets) - 1):
        a, b = resolved[i], resolved[i + 1]
        fa, ta = sets[i].action or "start", sets[i + 1].action or "start"
        if not sets[i].require_all and a:
            firsts_b = [b[0]] if sets[i + 1].sequential and b else b
            for t in firsts_b:
                cons.orderings.append(OrderingRt(
                    ident, a[0], fa, t, ta, kind, "symmetric" if sym else "asymmetric",
                    min_first=1, one_or_more=f"one-or-more:{sets[i].id}", first_parts=tuple(a)))
            continue
        lasts = [a[-1]] if sets[i].sequential and a else a
        firsts = [b[0]] if sets[i + 1].sequential and b else b
        for f in lasts:
            for t in firsts:
                add(f, fa, t, ta)


def primary_prim(rsc: Rsc) -> Prim | None:
    prims = rsc.primitives()
    return prims[0] if prims else None


def apply_tickets(ws: WorkingSet, cons: Constraints) -> None:
    """Resources that depend on a ticket run only while it is granted (rsc_ticket)."""
    states = {t.id: t for t in ws.cib.ticket_states}
    for ticket in ws.cib.tickets:
        state = states.get(ticket.ticket)
        granted = state is not None and state.granted
        standby = state is not None and state.standby
        if granted and not standby:
            continue
        policy = (ticket.loss_policy or "stop").lower()
        targets: list[tuple[str, str | None]] = []
        if ticket.rsc:
            targets.append((ticket.rsc, ticket.rsc_role))
        for rs in ticket.sets:
            targets.extend((ident, rs.role or ticket.rsc_role) for ident in rs.resources)
        for ident, role_text in targets:
            role = normalize_role(role_text) if role_text else None
            for rsc in _resolve(ws, ident):
                if role == "Promoted":
                    _no_promotion(ws, cons, rsc)
                for prim in rsc.primitives():
                    before = dict(prim.allowed) if ws.trace is not None else {}
                    _ticket_on(ws, prim, role, policy, granted)
                    if ws.trace is not None:
                        ws.trace.scores(prim, before, "ticket", f"{ticket.ticket} "
                                        f"{'in standby' if granted else 'not granted'}")


def _no_promotion(ws: WorkingSet, cons: Constraints, rsc: Rsc) -> None:
    for node in ws.nodes:
        cons.promotion_prefs.append(PromotionPref(rsc, node, -INFINITY, clone_level=True))


def _ban_everywhere(ws: WorkingSet, rsc: Rsc) -> None:
    for node in ws.nodes:
        set_node_score(rsc, node, -INFINITY)


def _ticket_on(ws: WorkingSet, prim: Prim, role: str | None, policy: str,
               granted: bool) -> None:
    in_role = role is None or prim.role == role or (
        role == "Started" and prim.role in ("Started", "Unpromoted"))
    if not granted and prim.running_on:
        if policy == "stop":
            _ban_everywhere(ws, prim)
        elif policy == "demote":
            if role != "Promoted":
                _ban_everywhere(ws, prim)
        elif policy == "fence":
            if not in_role:
                return
            _ban_everywhere(ws, prim)
            for node in prim.running_on:
                if not node.unclean:
                    node.unclean = True
                    node.fence_reason = node.fence_reason or "deadman ticket was lost"
        elif policy == "freeze":
            if in_role:
                prim.managed = False
    elif role != "Promoted" or policy == "stop":
        _ban_everywhere(ws, prim)


def _role(text: str | None) -> str | None:
    return normalize_role(text) if text else None


_HEALTH_COLOURS = {
    "migrate-on-red": {"red": -INFINITY, "yellow": 0, "green": 0},
    "only-green": {"red": -INFINITY, "yellow": -INFINITY, "green": 0},
}


def apply_node_health(ws: WorkingSet) -> None:
    """Node health attributes (#health-*) become location scores for every resource."""
    strategy = ws.config.node_health_strategy.lower()
    if strategy in ("none", ""):
        return
    props = ws.config.properties
    colours = dict(_HEALTH_COLOURS.get(strategy, {}))
    for colour in ("red", "yellow", "green"):
        if strategy in ("progressive", "custom") or colour not in colours:
            colours[colour] = parse_score(props.get(f"node-health-{colour}"), 0)
    base = parse_score(props.get("node-health-base"), 0) if strategy == "progressive" else 0
    for node in ws.nodes:
        health = base
        for name, value in node.attrs.items():
            if not name.startswith("#health"):
                continue
            lowered = value.strip().lower()
            score = colours[lowered] if lowered in colours else parse_score(value)
            health = add_scores(health, score)
        if health == 0:
            continue
        for rsc in ws.resources:
            if health < 0 and rsc.meta.get("allow-unhealthy-nodes", "").lower() in (
                    "true", "yes", "1", "on"):
                continue
            apply_location_score(rsc, node, health)
            if ws.trace is not None:
                ws.trace.score(rsc, node, health, "health", strategy)


def _int_meta(text: str | None) -> int:
    try:
        return int(text) if text is not None else 0
    except ValueError:
        return 0


def _discoverable(rsc: Rsc) -> list[Prim]:
    """What a location's resource-discovery applies to: a bundle's own parts, not what runs
    inside its containers (that lives on the bundle's guest nodes)."""
    if isinstance(rsc, BundleRt):
        return [p for r in rsc.replicas for p in (r.ip, r.container, r.connection)
                if p is not None]
    return rsc.primitives()
