"""Bundle-specific rules: what a replica's members inherit from its container."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from defib.model.scores import INFINITY
from defib.scheduler.unpack import WorkingSet
from defib.scheduler.working import BundleRt, NodeInfo, Prim, Rsc


def replica_container(ws: WorkingSet, prim: Prim) -> Prim | None:
    """The container of the bundle replica ``prim`` belongs to as connection or child."""
    if prim.container is not None and isinstance(prim.container.parent, BundleRt):
        return prim.container  # the replica's connection
    for node in prim.running_on:
        container = ws.by_id.get(node.container_rsc or "")
        if isinstance(container, Prim) and isinstance(container.parent, BundleRt):
            return container  # the child, running on the replica's guest node
    return None


def replica_stop_reason(ws: WorkingSet, prim: Prim, quorum_ok: bool) -> str | None:
    """Why a bundle replica's connection or child stops when it goes nowhere.

    Pacemaker orders the connection's start after its container's and the child's after
    the connection's, creating those starts even when nothing is assigned: the stop then
    reports the container's unrunnable start, not "node availability". Without quorum
    under no-quorum-policy=stop, that start was refused for want of quorum first."""
    container = replica_container(ws, prim)
    if container is None or container is prim or container.assigned is not None:
        return None
    if not quorum_ok and ws.config.no_quorum_policy == "stop":
        return "no quorum"
    return f"unrunnable {container.id} start"


def connection_scores(ws: WorkingSet, conn: Prim, host: NodeInfo | None) -> dict[str, int]:
    """Where a replica's connection may go: with its container's host.

    Pacemaker colocates the connection with its container at less than INFINITY, so a
    connection whose container goes nowhere, and whose own node can no longer host it,
    is still placed on a cluster node (its start then waits on the container's
    unrunnable start, and the summary shows a stop)."""
    if host is not None and host.can_run():
        return {nid: (0 if nid == host.id else -INFINITY) for nid in conn.allowed}
    if conn.running_on and not conn.running_on[0].can_run():
        return {nid: (0 if score > -INFINITY and _cluster_node(ws, nid) else -INFINITY)
                for nid, score in conn.allowed.items()}
    return {nid: (0 if host is not None and nid == host.id else -INFINITY)
            for nid in conn.allowed}


def _cluster_node(ws: WorkingSet, node_id: str) -> bool:
    node = ws.node(node_id)
    return node is not None and node.remote_rsc is None


def attribute_node(ws: WorkingSet, prim: Prim, node: NodeInfo) -> NodeInfo | None:
    """The node whose attributes ``prim`` reads when placed on ``node``.

    With ``container-attribute-target=host``, a resource on a guest node reads the
    attributes of the node its guest's container currently runs on (none while that
    container runs nowhere), as Pacemaker's pe__node_attribute_calculated does."""
    if prim.meta.get("container-attribute-target", "").lower() != "host":
        return node
    container = ws.by_id.get(node.container_rsc or "")
    if not isinstance(container, Prim):
        return node
    return container.running_on[0] if container.running_on else None


def guest_can_start(ws: WorkingSet, node: NodeInfo) -> bool:
    """Whether what is placed on ``node`` can run there: not on a guest node whose
    container goes nowhere (its connection, and so all on it, cannot start)."""
    container = ws.by_id.get(node.container_rsc or "")
    return not isinstance(container, Prim) or container.assigned is not None


def promotion_target(rsc: Rsc) -> Rsc:
    """What a location for the promoted role of ``rsc`` applies to: a bundle's promotable
    child, whose instances are the ones promoted."""
    if isinstance(rsc, BundleRt) and rsc.child_clone is not None:
        return rsc.child_clone
    return rsc


def probe_top(prim: Prim) -> Rsc:
    """The resource whose start a probe of ``prim`` comes before: its topmost parent, but
    never above a bundle (Pacemaker's uber_parent): a replica's container, address and
    connection are their own, a bundle's child answers to its clone."""
    rsc: Rsc = prim
    while rsc.parent is not None and not isinstance(rsc.parent, BundleRt):
        rsc = rsc.parent
    return rsc


def with_bundle_children(resources: Iterable[Rsc]) -> Iterator[Rsc]:
    """The top-level resources, each bundle followed by its child clone (which is a clone
    of its own for notifications)."""
    for rsc in resources:
        yield rsc
        if isinstance(rsc, BundleRt) and rsc.child_clone is not None:
            yield rsc.child_clone


def is_bundle_part(prim: Prim) -> bool:
    """A replica's container, address or connection."""
    return isinstance(prim.parent, BundleRt)


def runs_in_replica(prim: Prim, container: Prim) -> bool:
    """Whether ``prim`` is the child of the replica whose container is ``container``."""
    bundle = container.parent
    if not isinstance(bundle, BundleRt):
        return False
    return any(r.container is container and r.child is prim for r in bundle.replicas)
