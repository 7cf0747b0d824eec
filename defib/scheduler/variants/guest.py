"""Guest nodes: nodes that live in a resource (a VM or container with ``remote-node``)."""

from __future__ import annotations

from collections.abc import Sequence

from defib.model.scores import INFINITY
from defib.scheduler.failcounts import fail_count
from defib.scheduler.unpack import WorkingSet
from defib.scheduler.working import BundleRt, NodeInfo, Prim


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


def fillers_by_container(ws: WorkingSet) -> dict[int, list[Prim]]:
    """What lives in each container (by the container's id()): resources whose
    ``container`` it is."""
    out: dict[int, list[Prim]] = {}
    for prim in ws.all_primitives():
        if prim.container is not None:
            out.setdefault(id(prim.container), []).append(prim)
    return out


def count_with_fillers(ws: WorkingSet, prim: Prim, node: NodeInfo,
                       fillers: Sequence[Prim]) -> int:
    """A resource's fail count on ``node`` for its migration threshold: a container outside
    bundles also answers for what lives in it (its guest's connection, say), as
    Pacemaker's pe_get_failcount with pe_fc_fillers counts them."""
    count, _ = fail_count(ws, prim, node)
    if isinstance(prim.parent, BundleRt):
        return count
    for filler in fillers:
        count = min(count + fail_count(ws, filler, node)[0], INFINITY)
    return count
