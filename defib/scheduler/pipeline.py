"""`schedule(cib, now) -> Transition`: the pure scheduler, one phase per module."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from defib.model.cib import Cib
from defib.scheduler.actions import ActionBuilder, ActionTable
from defib.scheduler.assign import Assigner
from defib.scheduler.constraints import Constraints, unpack_constraints
from defib.scheduler.history import HistoryReader, unpack_node_states
from defib.scheduler.ordering import Edge, Orderer, propagate
from defib.scheduler.remote import remote_nodes
from defib.scheduler.summary import summarize
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


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """A run allocates hundreds of thousands of small objects and frees them all at the
    end; Python's cyclic collector would scan them over and over meanwhile (two thirds of
    the time on 32 nodes x 4,000 resources). Results do not depend on it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def schedule(cib: Cib, now: dt.datetime | None = None) -> Transition:
    with _cyclic_gc_paused():
        return _schedule(cib, now)


def _schedule(cib: Cib, now: dt.datetime | None) -> Transition:
    ws = unpack(cib, now)
    cons = unpack_constraints(ws)
    Assigner(ws, cons).assign_all()
    table = ActionBuilder(ws, cons.discovery_never, cons.discovery_exclusive).build()
    orderer = Orderer(ws, cons, table)
    edges = orderer.build()
    propagate(edges, ws)
    lines = summarize(ws, table)
    return Transition(ws, cons, table, edges, lines)
