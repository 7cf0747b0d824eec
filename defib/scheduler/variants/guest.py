"""Guest nodes: nodes that live in a resource (a VM or container with ``remote-node``)."""

from __future__ import annotations

from defib.model.scores import INFINITY
from defib.scheduler.unpack import WorkingSet
from defib.scheduler.working import Prim


def guest_connections_opt_in(ws: WorkingSet) -> None:
    """In an opt-in (asymmetric) cluster a guest's connection may run wherever its
    container may: nothing else would ever let it in, and it must run with it."""
    for prim in ws.all_primitives():
        container = prim.container
        if container is None or prim.implicit or not _is_connection(prim):
            continue
        for node_id, score in container.allowed.items():
            node = ws.node(node_id)
            if score > -INFINITY and node is not None and node.remote_rsc is None:
                prim.allowed.setdefault(node_id, 0)


def _is_connection(prim: Prim) -> bool:
    return prim.rsc_class == "ocf" and prim.provider == "pacemaker" and prim.type == "remote"
