"""Pacemaker Remote and guest nodes: nodes that exist because a resource connects to them.

A remote node is named after its ocf:pacemaker:remote connection resource; a guest node
after the remote-node meta-attribute of the resource (a VM or container) it lives in. Such a
node is up while its connection runs, and can take resources once its connection is placed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from defib.model.cib import Cib
from defib.model.nvsets import unconditional
from defib.model.resources import Bundle, Primitive, walk
from defib.model.scores import INFINITY
from defib.scheduler.unpack import WorkingSet, instance_count
from defib.scheduler.working import BundleRt, NodeInfo, Prim

if TYPE_CHECKING:  # actions.py uses this module
    from defib.scheduler.actions import Action


def is_connection(prim: Prim) -> bool:
    return prim.rsc_class == "ocf" and prim.provider == "pacemaker" and prim.type == "remote"


def remote_nodes(cib: Cib, existing: list[NodeInfo]) -> list[NodeInfo]:
    """Nodes to add for remote connections and guest resources in the configuration."""
    known = {n.uname: n for n in existing}
    added: list[NodeInfo] = []
    for bundle in cib.resources:
        if isinstance(bundle, Bundle) and bundle.child is not None:
            promoted = bundle.container_attr("promoted-max") or bundle.container_attr("masters")
            count = instance_count(bundle.container_attr("replicas"), max(_int(promoted, 0), 1))
            for index in range(count):
                guest_name = f"{bundle.id}-{index}"
                node = known.get(guest_name)
                if node is None:
                    node = NodeInfo(id=guest_name, uname=guest_name, type="remote")
                    known[guest_name] = node
                    added.append(node)
                node.type = "remote"
                node.remote_rsc = guest_name
                node.container_rsc = f"{bundle.id}-{bundle.container_type}-{index}"
                node.attrs["#kind"] = "container"
    for rsc in walk(cib.resources):
        if not isinstance(rsc, Primitive):
            continue
        name: str | None = None
        kind = "remote"
        if rsc.rsc_class == "ocf" and rsc.provider == "pacemaker" and rsc.type == "remote":
            name = rsc.id
        else:
            guest = unconditional(rsc.meta_attributes).get("remote-node")
            if guest:
                name, kind = guest, "container"
        if name is None:
            continue
        node = known.get(name)
        if node is None:
            node = NodeInfo(id=name, uname=name, type="remote")
            known[name] = node
            added.append(node)
        node.type = "remote"
        node.attrs["#kind"] = kind
        if kind == "container":
            node.remote_rsc = name  # the implicit connection resource
            node.container_rsc = rsc.id
        else:
            node.remote_rsc = rsc.id
    added.extend(_orphaned_connection_nodes(cib, known))
    return added


def _orphaned_connection_nodes(cib: Cib, known: dict[str, NodeInfo]) -> list[NodeInfo]:
    """Remote nodes whose connection is no longer configured but still has a history and
    a node entry: the connection is stopped as an orphan, and what ran there with it."""
    configured = {r.id for r in walk(cib.resources)}
    remote_states = {s.id for s in cib.node_states}
    added: list[NodeInfo] = []
    for state in cib.node_states:
        for lrm in state.lrm_resources:
            if (lrm.rsc_class == "ocf" and lrm.provider == "pacemaker"
                    and lrm.type == "remote" and lrm.id not in configured
                    and lrm.id not in known and lrm.id in remote_states):
                node = NodeInfo(id=lrm.id, uname=lrm.id, type="remote")
                node.remote_rsc = lrm.id
                node.attrs["#kind"] = "remote" if lrm.container is None else "container"
                node.container_rsc = lrm.container
                known[lrm.id] = node
                added.append(node)
    return added


def set_remote_online(ws: WorkingSet) -> None:
    """Whether each remote or guest node is up, from the state of its connection."""
    for node in ws.nodes:
        if node.remote_rsc is None:
            continue
        node.unclean = False
        conn = ws.by_id.get(node.remote_rsc)
        if not isinstance(conn, Prim):
            node.online = False
            continue
        container = conn.container
        host = conn.running_on[0] if container is not None and len(conn.running_on) == 1 else None
        node.online = bool(conn.running_on) and conn.role not in ("Stopped", "Unknown")
        if container is not None and container.failed:
            node.online = False
            _reset(node, "guest is unclean")
        elif conn.failed:
            node.online = False
            # A lost connection (its monitor failed) leaves the node in an unknown state.
            if (container is None and ws.config.stonith_enabled and conn.failed_recurring
                    and not conn.meta.get("reconnect_interval")):
                _reset(node, "remote connection is unrecoverable")
        elif not conn.running_on or (container is not None and not container.running_on):
            node.online = False
        elif host is not None and not host.online and host.unclean:
            node.online = False
            _reset(node, "guest is unclean")
            # Fencing a guest node means recovering its container (Pacemaker's
            # pe_fence_node marks the guest resource failed).
            if container is not None and container.managed:
                container.failed = True


def hold_reconnecting(ws: WorkingSet) -> None:
    """A remote connection that failed less than its reconnect_interval ago is not tried
    again yet: it stays stopped until the interval has passed."""
    from defib.cib.timespec import parse_ms
    from defib.scheduler.failcounts import fail_count

    if ws.now is None:
        return
    now = ws.now.timestamp()
    for node in ws.nodes:
        conn = ws.by_id.get(node.remote_rsc or "")
        if not isinstance(conn, Prim) or conn.container is not None or conn.running_on:
            continue
        interval = conn.params.get("reconnect_interval") or conn.meta.get("reconnect_interval")
        wait_ms = parse_ms(interval, None) if interval else None
        if not wait_ms:
            continue
        for host in ws.nodes:
            count, last = fail_count(ws, conn, host)
            if count > 0 and last and now < last + wait_ms / 1000:
                conn.target_role = "Stopped"
                conn.failed = True  # shown as FAILED while it waits
                break


def fence_guest(ws: WorkingSet, node: NodeInfo) -> bool:
    """Fence a guest node the only way there is: by recovering its container (Pacemaker's
    pe_fence_node marks the container failed; the guest is reset, not made unclean for
    good, and the reason shown is always that the guest is unclean). False for a node
    that is not a guest."""
    container = ws.by_id.get(node.container_rsc or "")
    if not isinstance(container, Prim):
        return False
    if container.managed:
        container.failed = True
        _reset(node, "guest is unclean")
    return True


def _reset(node: NodeInfo, reason: str) -> None:
    node.unclean = True
    node.lost = True
    node.fence_reason = node.fence_reason or reason
    node.reset_only = node.container_rsc is not None


def keep_off_remote_nodes(ws: WorkingSet) -> None:
    """Connections and fence devices never run on remote or guest nodes; a bundle's
    guest nodes run nothing but that replica's child."""
    remote = [n for n in ws.nodes if n.remote_rsc is not None]
    if not remote:
        return
    bundle_guests = {n.id for n in remote if _is_bundle_guest(ws, n)}
    for prim in ws.all_primitives():
        if prim.is_fence_device or is_connection(prim) or prim.meta.get("remote-node"):
            for node in remote:
                prim.allowed[node.id] = -INFINITY
        elif bundle_guests and not _is_bundle_child(prim):
            for node_id in bundle_guests:
                prim.allowed[node_id] = -INFINITY


def _is_bundle_guest(ws: WorkingSet, node: NodeInfo) -> bool:
    container = ws.by_id.get(node.container_rsc or "")
    return container is not None and isinstance(container.parent, BundleRt)


def _is_bundle_child(prim: Prim) -> bool:
    parent = prim.parent
    return parent is not None and isinstance(parent.parent, BundleRt)


def connections(ws: WorkingSet) -> list[Prim]:
    out: list[Prim] = []
    for node in ws.nodes:
        conn = ws.by_id.get(node.remote_rsc or "")
        if isinstance(conn, Prim) and not conn.implicit:
            out.append(conn)
    return out


def connection_assigned(ws: WorkingSet) -> None:
    """Once connections are placed, their nodes can (or can no longer) host resources."""
    for node in ws.nodes:
        conn = ws.by_id.get(node.remote_rsc or "")
        if not isinstance(conn, Prim) or conn.implicit:
            continue  # a bundle's connections come up as their bundle is placed
        if conn.assigned is not None and conn.next_role not in (None, "Stopped"):
            node.online = True
        else:
            node.shutdown = True


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def node_of_connection(ws: WorkingSet, conn: Prim) -> NodeInfo | None:
    for node in ws.nodes:
        if node.remote_rsc == conn.id:
            return node
    return None


def connection_failed(ws: WorkingSet, node: NodeInfo) -> bool:
    """Whether a Pacemaker Remote node's connection is failed for good this transition: it
    will run nowhere, and it was on a node being fenced or itself failed."""
    if node.container_rsc is not None or node.type != "remote":
        return False
    conn = ws.by_id.get(node.remote_rsc or "")
    if not isinstance(conn, Prim) or conn.implicit:
        return False
    if conn.assigned is not None and conn.next_role not in (None, "Stopped"):
        return False
    host = conn.running_on[0] if conn.running_on else None
    if host is not None and host.unclean:
        return True
    return conn.failed and not (conn.meta.get("reconnect_interval") and node.unclean)


def unrecoverable_remotes(ws: WorkingSet, actions: list[Action]) -> list[tuple[NodeInfo, str]]:
    """Remote nodes to fence because their connection can't be recovered: what must stop
    there (or be probed there) can only be stopped (or found out) by fencing the node.

    Pacemaker looks at its actions newest first and fences each node at the first such
    action it meets; the order of the fencings follows from it."""
    out: list[tuple[NodeInfo, str]] = []
    seen: set[str] = set()
    failed: dict[str, bool] = {}
    for action in reversed(actions):
        node = action.node
        if node is None or node.id in seen or node.unclean or node.remote_rsc is None:
            continue
        if action.task == "stop" and not action.optional:
            reason = "resources are active but connection is unrecoverable"
        elif action.task == "monitor" and "probe" in action.extra:
            reason = "resources are in unknown state and connection is unrecoverable"
        else:
            continue
        if node.id not in failed:
            failed[node.id] = connection_failed(ws, node)
        if failed[node.id]:
            seen.add(node.id)
            out.append((node, reason))
    return out
