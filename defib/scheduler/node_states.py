"""Node membership from the status section: who is online, who must be fenced and why.

Follows Pacemaker's rules (fencing-aware): a node is up only when the cluster layer and its
controller say so; a node that should be up but is not, or left uncleanly, is fenced.
"""

from __future__ import annotations

from defib.model.status import NodeState
from defib.scheduler.rules import RuleContext, evaluate_nvsets
from defib.scheduler.unpack import WorkingSet
from defib.scheduler.working import NodeInfo


def _true(text: str | None) -> bool:
    return text is not None and text.strip().lower() in ("true", "yes", "on", "1", "member")


def unpack_node_states(ws: WorkingSet) -> None:
    config = ws.config
    for state in ws.cib.node_states:
        node = ws.node(state.id) or (ws.node_by_uname(state.uname) if state.uname else None)
        if node is None:
            continue
        node.unseen = False
        node.unclean = False
        transient = evaluate_nvsets(state.transient_attributes, RuleContext(now=ws.now))
        for key, value in transient.items():
            node.attrs[key] = value
        if node.remote_rsc is not None:
            continue  # up or down with its connection resource, decided later
        node.expected_up = state.expected == "member"
        if config.stonith_enabled:
            _online_with_fencing(ws, node, state)
        else:
            _online_without_fencing(node, state)
        node.lost = node.unclean
        shutdown = node.attrs.get("shutdown")
        if node.online and shutdown not in (None, "", "0"):
            node.shutdown = True
    panic = dict(ws.cib.attributes).get("no-quorum-panic", "").lower() in ("1", "true", "yes")
    if (config.stonith_enabled and not config.have_quorum
            and config.no_quorum_policy == "suicide" and panic):
        # Quorum was lost (not merely never had): every member here fences itself.
        for node in ws.nodes:
            if node.online and not node.unclean:
                node.unclean = True
                node.lost = True
                node.fence_reason = "cluster does not have quorum"
    for node in ws.nodes:
        if _true(node.attrs.get("standby")) or node.attrs.get("standby") == "on":
            node.standby = True
        if _true(node.attrs.get("maintenance")):
            node.maintenance = True
        node.attrs.setdefault("#uname", node.uname)
        node.attrs.setdefault("#id", node.id)
        node.attrs.setdefault("#kind", "cluster" if node.type != "remote" else "remote")
        node.attrs.setdefault("#cluster-name", ws.config.properties.get("cluster-name", ""))
        if ws.cib.dc_uuid and node.id == ws.cib.dc_uuid:
            node.attrs["#is_dc"] = "true"
            ws.dc_node = node
        else:
            node.attrs.setdefault("#is_dc", "false")
        if node.unclean and node.fence_reason is None:
            node.fence_reason = "node is unclean"


def _in_ccm(state: NodeState) -> bool:
    value = state.in_ccm
    if value is None:
        return False
    if value.isdigit():
        return int(value) > 0
    return _true(value)


def _crmd_online(state: NodeState) -> bool:
    value = state.crmd
    if value is None:
        return False
    if value.isdigit():
        return int(value) > 0
    return value == "online"


def _online_without_fencing(node: NodeInfo, state: NodeState) -> None:
    if not _in_ccm(state):
        return
    if _crmd_online(state):
        if state.join == "member":
            node.online = True
        return
    if not node.expected_up:
        return


def _online_with_fencing(ws: WorkingSet, node: NodeInfo, state: NodeState) -> None:
    in_cluster = _in_ccm(state)
    is_peer = _crmd_online(state)
    join = state.join
    terminate = node.attrs.get("terminate")
    do_terminate = terminate is not None and terminate not in ("0", "false", "")
    if node.attrs.get("shutdown") not in (None, "", "0") and state.in_ccm is not None:
        # It asked to leave: it is as online as its controller, and nothing to fence.
        node.online = is_peer
        return
    if state.in_ccm is None and node.type == "member":
        fence_node(node, "peer has not been seen by the cluster")
        return
    # Pacemaker counts a member of the cluster layer as online even when it must be fenced
    # (shown "UNCLEAN (online)"); what runs there is only stopped by the fencing.
    online = in_cluster
    if join in ("nack", "banned"):
        fence_node(node, "peer failed Pacemaker membership criteria")
        node.online = online
    elif not do_terminate and (state.expected or "down") == "down":
        if in_cluster or is_peer:
            node.pending = True
            node.standby = True
            node.online = in_cluster  # a member still joining: online, yet runs nothing
    elif do_terminate and join == "down" and not in_cluster and not is_peer:
        return
    elif not in_cluster and not is_peer and join == "down" and node.attrs.get(
            "shutdown", "0") not in ("0", ""):
        return  # it was shutting down and has left cleanly
    elif not in_cluster:
        fence_node(node, "peer is no longer part of the cluster")
    elif not is_peer:
        fence_node(node, "peer process is no longer available")
        node.online = online
    elif do_terminate:
        fence_node(node, "termination was requested")
        node.online = online
    elif join == "member":
        node.online = True
    elif join in ("pending", "down"):
        node.pending = True
        node.standby = True
        node.online = True  # a member still joining: online, yet runs nothing
    else:
        fence_node(node, "peer was in an unknown state")
        node.online = online


def fence_node(node: NodeInfo, reason: str) -> None:
    node.unclean = True
    if node.fence_reason is None:
        node.fence_reason = reason
