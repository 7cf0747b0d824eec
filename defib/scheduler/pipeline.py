"""`schedule(cib, now) -> Transition`: the pure scheduler, one phase per module."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from defib.model.cib import Cib
from defib.perf import cyclic_gc_paused
from defib.scheduler.actions import ActionBuilder, ActionTable
from defib.scheduler.assign import Assigner
from defib.scheduler.constraints import Constraints, unpack_constraints
from defib.scheduler.history import HistoryReader
from defib.scheduler.live_migration import plan_migrations
from defib.scheduler.node_states import unpack_node_states
from defib.scheduler.notifications import add_notifications, remap_to_notifications
from defib.scheduler.ordering import IMPLIES_THEN, Edge, Orderer, add_edge
from defib.scheduler.propagation import propagate
from defib.scheduler.remote import remote_nodes
from defib.scheduler.summary import summarize
from defib.scheduler.trace import DecisionRecorder
from defib.scheduler.unfencing import Unfencer
from defib.scheduler.unpack import (
    ResourceBuilder,
    WorkingSet,
    unpack_config,
    unpack_nodes,
)


@dataclass
class Transition:
    """What one scheduler run decided."""

    working_set: WorkingSet
    constraints: Constraints
    actions: ActionTable
    edges: list[Edge]
    summary: list[str]


def unpack(cib: Cib, now: dt.datetime | None) -> WorkingSet:
    config = unpack_config(cib, now)
    nodes = unpack_nodes(cib, config, now)
    nodes.extend(remote_nodes(cib, nodes))
    builder = ResourceBuilder(cib, config, now, len(nodes))
    resources = builder.build()
    ws = WorkingSet(
        cib=cib, now=now, config=config, nodes=nodes, resources=resources, by_id=builder.by_id
    )
    unpack_node_states(ws)
    HistoryReader(ws).run()
    return ws


def schedule(cib: Cib, now: dt.datetime | None = None,
             trace: DecisionRecorder | None = None) -> Transition:
    with cyclic_gc_paused():
        return _schedule(cib, now, trace)


def _schedule(cib: Cib, now: dt.datetime | None, trace: DecisionRecorder | None) -> Transition:
    ws = unpack(cib, now)
    ws.trace = trace
    if trace is not None:
        trace.phase("unpacked", ws)
    cons = unpack_constraints(ws)
    if trace is not None:
        trace.phase("constraints", ws)
    Assigner(ws, cons).assign_all()
    if trace is not None:
        trace.phase("assigned", ws)
    table = ActionBuilder(ws, cons.discovery_never, cons.discovery_exclusive).build()
    orderer = Orderer(ws, cons, table)
    edges = orderer.build()
    Unfencer(ws, table, lambda first, then, *flags: add_edge(edges, first, then, *flags),
             IMPLIES_THEN).run()
    propagate(edges, ws)
    lines = summarize(ws, table)
    plan_migrations(ws, table, edges)
    add_notifications(ws, table, lambda first, then: add_edge(edges, first, then))
    remap_to_notifications(ws, table, edges)
    if trace is not None:
        trace.finished(ws, table)
    return Transition(ws, cons, table, edges, lines)
