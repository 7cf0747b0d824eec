"""Live migration: a move of a migratable resource becomes migrate_to + migrate_from.

A resource that allows migration and moves between two healthy nodes, with nothing
forcing a full stop first, is moved live, as Pacemaker does: ``migrate_to`` on the source,
``migrate_from`` on the target, then the stop on the source; the start becomes a pseudo
action that only marks the moment the resource runs on the target. Orderings against the
start or stop of another resource carry over to the migration actions
(Pacemaker's pcmk__create_migration_actions and pcmk__order_migration_equivalents).
"""

from __future__ import annotations

from defib.scheduler.actions import Action, ActionTable, op_uuid
from defib.scheduler.ordering import ANTI_COLOCATION, COLOCATED, RUNNABLE_LEFT, Edge, add_edge
from defib.scheduler.summary import migratable, migration_blocker
from defib.scheduler.unpack import WorkingSet
from defib.scheduler.working import Prim, Rsc


class _Migration:
    def __init__(self, migrate_to: Action, migrate_from: Action, start: Action,
                 stop: Action) -> None:
        self.migrate_to = migrate_to
        self.migrate_from = migrate_from
        self.start = start
        self.stop = stop


def plan_migrations(ws: WorkingSet, table: ActionTable, edges: list[Edge]) -> None:
    """Turn eligible moves into live migrations, in place."""
    migrations: dict[int, _Migration] = {}
    for prim in ws.all_primitives():
        found = _migration_of(prim, table)
        if found is not None:
            migrations[id(prim)] = found

    def edge(first: Action, then: Action, *flags: str) -> None:
        add_edge(edges, first, then, *flags)

    for m in migrations.values():
        migrating = m.start.rsc
        assert isinstance(migrating, Prim)
        edge(m.migrate_to, m.migrate_from)
        edge(m.migrate_from, m.stop)
        edge(m.migrate_from, m.start)
        for probe in table.for_rsc(migrating, "monitor"):
            if probe.interval_ms == 0:
                edge(probe, m.migrate_to)
    for e in list(edges):
        first_rsc, then_rsc = e.first.rsc, e.then.rsc
        if COLOCATED in e.flags or ANTI_COLOCATION in e.flags:
            continue  # not an ordering: nothing to carry over to the migration
        if (first_rsc is None or then_rsc is None or first_rsc is then_rsc
                or _contains(first_rsc, then_rsc) or _contains(then_rsc, first_rsc)):
            continue  # a collective's own orders with its members stay as they are
        first_m = migrations.get(id(first_rsc)) if isinstance(first_rsc, Prim) else None
        then_m = migrations.get(id(then_rsc)) if isinstance(then_rsc, Prim) else None
        if first_m is None and then_m is None:
            continue
        flags = (RUNNABLE_LEFT,) if RUNNABLE_LEFT in e.flags else ()
        first_task, then_task = e.first.task, e.then.task
        if then_m is not None and then_task == "start" and first_task in ("start", "running"):
            first = first_m.migrate_from if first_m is not None else e.first
            edge(first, then_m.migrate_to, *flags)
        elif then_m is not None and then_task == "stop" and first_task in ("stop", "stopped"):
            if first_m is None:
                edge(e.first, then_m.migrate_to, *flags)
        elif first_m is not None and first_task == "stop" and then_task in ("stop", "stopped"):
            # What waited for a stop the migration replaces waits for the migration.
            _drop(edges, e)
            if isinstance(then_rsc, Prim):
                edge(first_m.migrate_from, e.then, *flags)


def _contains(outer: Rsc, inner: Rsc) -> bool:
    parent = inner.parent
    while parent is not None:
        if parent is outer:
            return True
        parent = parent.parent
    return False


def _drop(edges: list[Edge], e: Edge) -> None:
    edges.remove(e)
    e.then.before = [(f, flags) for f, flags in e.then.before if f is not e.first]


def _migration_of(prim: Prim, table: ActionTable) -> _Migration | None:
    dest = prim.assigned
    if (dest is None or len(prim.running_on) != 1 or prim.running_on[0] is dest
            or prim.failed or prim.partial_migration_target is not None
            or prim.next_role not in ("Started", None) or not migratable(prim)
            or not dest.online or dest.unclean):
        return None
    source = prim.running_on[0]
    start = table.get(op_uuid(prim.id, "start"), dest)
    stop = table.get(op_uuid(prim.id, "stop"), source)
    if (start is None or stop is None or start.optional or stop.optional
            or not start.runnable or not stop.runnable
            or migration_blocker(prim, start) is not None):
        return None
    migrate_to = table.add(Action(op_uuid(prim.id, "migrate_to"), "migrate_to", prim, source,
                                  optional=False))
    migrate_from = table.add(Action(op_uuid(prim.id, "migrate_from"), "migrate_from", prim,
                                    dest, optional=False))
    migrate_to.extra["migrate_source"] = migrate_from.extra["migrate_source"] = source.uname
    migrate_to.extra["migrate_target"] = migrate_from.extra["migrate_target"] = dest.uname
    start.pseudo = True  # it runs there once migrate_from is done
    return _Migration(migrate_to, migrate_from, start, stop)
