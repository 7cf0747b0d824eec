"""Shutdown locks (shutdown-lock=true): a resource on a node that shuts down cleanly stays
bound to that node, stopped, until the node comes back (or shutdown-lock-limit passes),
instead of being recovered elsewhere.

A resource is locked when it runs on exactly one node that is shutting down, or when its
history there carries a lock that has not expired. Only primitives outside clones can be
locked, never fence devices nor remote connections.
"""

from __future__ import annotations

from defib.cib.timespec import parse_ms
from defib.model.scores import INFINITY
from defib.scheduler.probes import is_remote_connection
from defib.scheduler.unpack import WorkingSet
from defib.scheduler.working import CloneRt, NodeInfo, Prim


def lock_limit_s(ws: WorkingSet) -> int:
    return (parse_ms(ws.config.properties.get("shutdown-lock-limit"), 0) or 0) // 1000


def history_lock_holds(ws: WorkingSet, locked_at: int) -> bool:
    """Whether a lock recorded in the history at ``locked_at`` (epoch) still holds."""
    limit = lock_limit_s(ws)
    return limit == 0 or ws.now is None or locked_at + limit > ws.now.timestamp()


def lockable(prim: Prim) -> bool:
    parent = prim.parent
    while parent is not None:
        if isinstance(parent, CloneRt):
            return False
        parent = parent.parent
    return prim.rsc_class != "stonith" and not is_remote_connection(prim)


def apply_shutdown_locks(ws: WorkingSet) -> None:
    """Ban each locked resource from every node but the one it is locked to."""
    if not ws.config.shutdown_lock:
        return
    for prim in ws.all_primitives():
        if not lockable(prim):
            continue
        node: NodeInfo | None = prim.lock_node
        if node is not None and prim.running_on:
            node = None  # started elsewhere meanwhile: the lock no longer matters
        elif node is None and len(prim.running_on) == 1:
            host = prim.running_on[0]
            if host.shutdown and not host.unclean:
                node = host
        prim.lock_node = node
        if node is None:
            continue
        for other in ws.nodes:
            if other is not node:
                prim.allowed[other.id] = -INFINITY
