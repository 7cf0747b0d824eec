"""Actions on Pacemaker Remote and guest nodes happen while their connection is up.

Pacemaker's pcmk__order_remote_connection_actions: every real action of a resource on a
remote or guest node is ordered after its connection's start (and a guest's starts and
promotions after its container's), or before the connection's stop, depending on what
becomes of the connection this transition.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from defib.scheduler.working import NodeInfo, Prim

if TYPE_CHECKING:  # ordering.py imports this module
    from defib.scheduler.actions import Action
    from defib.scheduler.ordering import Orderer


class ConnState(Enum):
    ALIVE = "alive"  # running, and stays up
    RESTING = "resting"  # on a node that is gone, or mid-migration: recovered first
    UNKNOWN = "unknown"  # not running now, may come up
    STOPPED = "stopped"  # goes down cleanly for good
    FAILED = "failed"  # goes down failed: only fencing can stop what runs there


def connection_state(conn: Prim, node: NodeInfo) -> ConnState:
    """Pacemaker's get_remote_node_state."""
    current = conn.running_on[0] if conn.running_on else None
    if conn.next_role in (None, "Stopped") or conn.assigned is None:
        if current is not None and current.unclean:
            return ConnState.FAILED
        if not conn.failed:
            return ConnState.STOPPED
        if conn.meta.get("reconnect_interval") and node.unclean and not node.shutdown:
            return ConnState.UNKNOWN
        return ConnState.FAILED
    if current is None:
        return ConnState.UNKNOWN
    if current.unclean or not current.online:
        return ConnState.RESTING
    if (len(conn.running_on) > 1 and conn.partial_migration_source is not None
            and conn.partial_migration_target is not None):
        return ConnState.RESTING
    return ConnState.ALIVE


def remote_orderings(orderer: Orderer, actions: list[Action]) -> None:
    from defib.scheduler.ordering import RUNNABLE_LEFT

    for action in actions:
        node = action.node
        if (action.rsc is None or node is None or node.remote_rsc is None or action.pseudo
                or action.task == "stonith"):
            continue
        conn = orderer.ws.by_id.get(node.remote_rsc)
        if not isinstance(conn, Prim) or action.rsc is conn:
            continue
        if action.task == "start":
            # Moving onto a remote node: leave the old node only once the connection is up.
            for stop in orderer.actions_of(action.rsc, "stop"):
                if stop.node is not node:
                    _after_start(orderer, conn, stop)
        if conn.container is not None:
            _guest_action(orderer, conn, action)
        else:
            _remote_action(orderer, conn, node, action, RUNNABLE_LEFT)


def _starts(orderer: Orderer, rsc: Prim) -> list[Action]:
    return orderer.actions_of(rsc, "start") or [orderer.placeholder(rsc, "start")]


def _after_start(orderer: Orderer, rsc: Prim, action: Action, *flags: str) -> None:
    for start in _starts(orderer, rsc):
        orderer.edge(start, action, *flags)


def _before_stop(orderer: Orderer, action: Action, rsc: Prim, *flags: str) -> None:
    for stop in orderer.actions_of(rsc, "stop"):
        orderer.edge(action, stop, *flags)


def _task(action: Action) -> str:
    # Migrations are ordered as stops (they run through the source's connection).
    return "stop" if action.task in ("migrate_to", "migrate_from") else action.task


def _guest_action(orderer: Orderer, conn: Prim, action: Action) -> None:
    """Pacemaker's apply_container_ordering (the container side is guest_placement's)."""
    from defib.scheduler.ordering import IMPLIES_THEN, RUNNABLE_LEFT

    container = conn.container
    assert container is not None
    task = _task(action)
    if task in ("start", "promote"):
        if task == "promote":
            _after_start(orderer, container, action, RUNNABLE_LEFT, IMPLIES_THEN)
        _after_start(orderer, conn, action, RUNNABLE_LEFT)
    elif task in ("stop", "demote"):
        if not container.failed:  # else implied by the container's stop
            _before_stop(orderer, action, conn)
    elif action.interval_ms > 0:
        _after_start(orderer, conn, action, RUNNABLE_LEFT, IMPLIES_THEN)
    else:
        _after_start(orderer, conn, action, RUNNABLE_LEFT)


def _remote_action(orderer: Orderer, conn: Prim, node: NodeInfo, action: Action,
                   runnable_left: str) -> None:
    """Pacemaker's apply_remote_ordering."""
    from defib.scheduler.ordering import IMPLIES_FIRST, IMPLIES_THEN

    state = connection_state(conn, node)
    task = _task(action)
    if task in ("start", "promote"):
        flags = (IMPLIES_THEN,) if state is ConnState.FAILED else ()
        _after_start(orderer, conn, action, runnable_left, *flags)
    elif task == "stop":
        if state is ConnState.ALIVE or (state is not ConnState.FAILED
                                        and conn.next_role in (None, "Stopped")):
            # A connection moving live does not take what runs on its node down with it.
            flags = () if _moves_live(conn) else (IMPLIES_FIRST,)
            _before_stop(orderer, action, conn, *flags)
        elif state is not ConnState.FAILED:
            _after_start(orderer, conn, action, runnable_left)
    elif task == "demote":
        if state in (ConnState.RESTING, ConnState.UNKNOWN):
            _after_start(orderer, conn, action, runnable_left)
    elif action.interval_ms > 0:
        # A connection that moves live keeps its node's monitors as they are.
        flags = () if _moves_live(conn) else (IMPLIES_THEN,)
        _after_start(orderer, conn, action, runnable_left, *flags)
    elif conn.running_on and state is ConnState.STOPPED:
        _before_stop(orderer, action, conn, runnable_left)
    else:
        _after_start(orderer, conn, action, runnable_left)


def _moves_live(conn: Prim) -> bool:
    from defib.scheduler.summary import migratable

    return (migratable(conn) and bool(conn.running_on) and conn.assigned is not None
            and conn.assigned not in conn.running_on and not conn.failed)
