"""Unfencing: a node is fenced "on" before it runs what needs it (fabric fencing).

Unfencing is in use once a fence device declares ``provides=unfencing`` (and fencing is
enabled). Then every resource that does not say otherwise requires unfencing, and so do
fence devices themselves: on each node, probing or starting them waits for the node's
"on" fencing. That fencing is scheduled only where the node has never been unfenced (no
``#node-unfenced`` attribute), or where a fence device's agent changed; a node unfenced
again restarts what requires unfencing there.

Pacemaker lists its actions newest first; the "on" fencings are created while reading the
history (agent changes), then with the probes, node by node, then with the starts, all
before any other fencing, so they go in front of the table in that order.
"""

from __future__ import annotations

from collections.abc import Callable

from defib.scheduler.actions import Action, ActionTable
from defib.scheduler.unpack import WorkingSet
from defib.scheduler.working import NodeInfo, Prim

AddEdge = Callable[..., None]  # (first, then, *flags)


def unfencing_enabled(ws: WorkingSet) -> bool:
    return ws.config.stonith_enabled and any(
        p.rsc_class == "stonith" and p.meta.get("provides", "").lower() == "unfencing"
        for p in ws.all_primitives())


def needs_unfencing(prim: Prim) -> bool:
    """With unfencing in use: fence devices, and resources without another ``requires``."""
    if prim.rsc_class == "stonith":
        return True
    requires = prim.meta.get("requires", "").lower()
    return requires in ("", "unfencing")


def _unfenced(node: NodeInfo) -> bool:
    return node.attrs.get("#node-unfenced", "0") not in ("", "0")


def _can_unfence(node: NodeInfo) -> bool:
    # Pacemaker Remote nodes are not unfenced.
    return node.online and not node.unclean and not node.shutdown and node.type != "remote"


class Unfencer:
    def __init__(self, ws: WorkingSet, table: ActionTable, edge: AddEdge,
                 implies_then: str) -> None:
        self.ws = ws
        self.table = table
        self.edge = edge
        self.implies_then = implies_then  # the flag making a required first require then
        self.created: list[Action] = []

    def run(self) -> None:
        if not unfencing_enabled(self.ws):
            return
        for prim in self.ws.all_primitives():
            if prim.rsc_class != "stonith":
                continue
            for node_id in prim.agent_changed_on:
                node = self.ws.node(node_id)
                if node is not None:
                    self.trigger(node, "Device definition changed")
        for node in self.ws.nodes:
            for probe in self.table.actions:
                if (probe.node is node and probe.task == "monitor" and "probe" in probe.extra
                        and isinstance(probe.rsc, Prim) and needs_unfencing(probe.rsc)):
                    self.order(probe.rsc, node, probe, "")
        for prim in self.ws.all_primitives():
            if not needs_unfencing(prim):
                continue
            for start in self.table.for_rsc(prim, "start"):
                if start.node is not None:
                    self.order(prim, start.node, start, self.implies_then)
        # In front of the table: older than every other fencing (see the module note).
        ours = {id(a) for a in self.created}
        self.table.actions[:] = self.created + [a for a in self.table.actions
                                                if id(a) not in ours]

    def order(self, prim: Prim, node: NodeInfo, action: Action, flag: str) -> None:
        unfence = self.unfence(node, optional=True, reason=None)
        self.edge(unfence, action, *((flag,) if flag else ()))
        if not _unfenced(node):
            self.trigger(node, f"required by {prim.id} {action.task}")

    def trigger(self, node: NodeInfo, reason: str) -> None:
        if _can_unfence(node):
            self.unfence(node, optional=False, reason=reason)

    def unfence(self, node: NodeInfo, optional: bool, reason: str | None) -> Action:
        uuid = f"stonith-{node.uname}-on"
        action = self.table.get(uuid, node)
        if action is None:
            action = Action(uuid=uuid, task="stonith", node=node, optional=optional)
            action.extra["action"] = "on"
            self.table.add(action)
            self.created.append(action)
        if not optional and action.optional:
            action.optional = False
        if reason is not None and action.reason is None:
            action.reason = reason
        return action
