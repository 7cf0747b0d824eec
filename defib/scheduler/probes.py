"""Which resources a node is asked about (probed) before anything runs there.

Pacemaker probes a primitive on every node that has no history of it, except where the
answer is known without asking: Pacemaker Remote and guest nodes never run fence devices nor
remote connections, a guest never runs the resource that holds a guest, a resource inside a
container (meta ``container``) lives and dies with it, and nothing runs on a guest whose
container is stopped or about to stop.
"""

from __future__ import annotations

from defib.scheduler.unpack import WorkingSet
from defib.scheduler.variants.bundle import is_bundle_part, runs_in_replica
from defib.scheduler.working import NodeInfo, Prim


def is_remote_connection(prim: Prim) -> bool:
    """A connection to a Pacemaker Remote or guest node (configured, implicit or a bundle's)."""
    return prim.rsc_class == "ocf" and prim.provider == "pacemaker" and prim.type == "remote"


def holds_guest(ws: WorkingSet, prim: Prim) -> bool:
    """Whether ``prim`` is the VM or container a guest node lives in."""
    return any(n.container_rsc == prim.id for n in ws.nodes)


def guest_container(ws: WorkingSet, node: NodeInfo) -> Prim | None:
    if node.container_rsc is None:
        return None
    container = ws.by_id.get(node.container_rsc)
    return container if isinstance(container, Prim) else None


def guest_will_stop(node: NodeInfo, container: Prim) -> bool:
    """Pacemaker's estimate, before actions exist, of whether a guest's container stops."""
    moving = (container.role != "Stopped" and container.assigned is not None
              and container.assigned not in container.running_on)
    return (node.unclean or container.failed or container.next_role == "Stopped"
            or container.assigned is None and container.role != "Stopped" or moving)


def probe_refused(ws: WorkingSet, prim: Prim, node: NodeInfo) -> str | None:
    """Why ``prim`` is not probed on ``node`` for a reason of its kind, or None."""
    if node.type == "remote":
        if prim.rsc_class == "stonith":
            return "Pacemaker Remote nodes cannot run stonith agents"
        if node.container_rsc is not None and holds_guest(ws, prim):
            return "guest nodes cannot run resources containing guest nodes"
        if is_remote_connection(prim):
            return "Pacemaker Remote nodes cannot host remote connections"
    if prim.container is not None and not is_remote_connection(prim):
        return "resource is inside a container"
    container = guest_container(ws, node)
    if container is not None and is_bundle_part(container) and not runs_in_replica(
            prim, container):
        return "bundle nodes run only their replica's child"
    if container is not None:
        if container.role == "Stopped":
            return "node's guest is stopped"
        if guest_will_stop(node, container):
            return "node's guest will stop"
    return None
