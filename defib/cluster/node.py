"""One cluster node's service: the messaging layer, quorum, DC and the replicated CIB.

``ClusterNode`` is the API the controller (and the control socket) use:
``get_cib()``, ``await change(...)``, ``subscribe(callback)`` for membership, quorum, DC and
CIB events, ``status()``.

Its parts are given: the messaging layer (by the cluster file's stack in the daemon:
``HeartbeatLayer`` or ``CorosyncLayer``; a ``FakeLayer`` of an ``InMemoryHub`` in unit tests)
and the durable CIB store (None: the CIB lives in memory only).
``ClusterNode.over_network`` wires the daemon's.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from defib.cluster.cibstore import CibStore
from defib.cluster.config import ClusterConfig, NodeConfig
from defib.cluster.layer import Membership
from defib.cluster.private import private_dir
from defib.cluster.quorum import QuorumState
from defib.cluster.replication import CibReplicator
from defib.cluster.stack import NodeLayer, make_layer

Event = dict[str, Any]
Listener = Callable[[Event], None]
# A control-socket operation added by a layer above (e.g. the controller): request -> answer.
OpHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def node_log(node: NodeConfig) -> logging.LoggerAdapter[logging.Logger]:
    return logging.LoggerAdapter(logging.getLogger("defib.cluster"), {"node": node.name})


class ClusterNode:
    def __init__(self, cfg: ClusterConfig, node: NodeConfig, layer: NodeLayer,
                 store: CibStore | None) -> None:
        self.cfg = cfg
        self.node = node
        self.log = node_log(node)
        self.state_dir = cfg.node_state_dir(node.name)
        self.layer = layer
        self.store = store
        self.cib = CibReplicator(self.layer, store, self.log, timeout=cfg.timing.cib_timeout)
        self._listeners: list[Listener] = []
        self.ops: dict[str, OpHandler] = {}
        self.layer.on_membership(self._on_membership)
        self.layer.on_quorum(self._on_quorum)
        self.cib.subscribe(self._emit)
        self.cib.health.subscribe(
            lambda error: self._emit({"event": "health", "ok": error is None, "error": error}))

    @classmethod
    def over_network(cls, cfg: ClusterConfig, node: NodeConfig, key: bytes) -> ClusterNode:
        """The daemon's node: the cluster file's messaging stack, the CIB on disk in the
        node's private state directory."""
        state_dir = private_dir(cfg.node_state_dir(node.name))
        return cls(cfg, node, make_layer(cfg, node, key), CibStore(state_dir, node_log(node)))

    async def start(self) -> None:
        self.cib.load()
        await self.layer.join()

    async def stop(self) -> None:
        await self.layer.leave()
        self.cib.flush()

    # -- API for the controller --------------------------------------------------------------
    def get_cib(self) -> dict[str, Any]:
        return {"xml": self.cib.copy.xml, "version": list(self.cib.copy.version),
                "digest": self.cib.copy.digest}

    async def change(self, change: dict[str, Any]) -> dict[str, Any]:
        """Commit ``change``; the answer names the members that did not acknowledge it
        (``not_acked``: names), which the command line reports as a failure."""
        result = await self.cib.change(change)
        return {**result, "not_acked": [self.name_of(n) for n in result["not_acked"]]}

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def register_op(self, name: str, handler: OpHandler) -> None:
        """Serve ``{"op": name, ...}`` on the control socket with ``handler``."""
        self.ops[name] = handler

    @property
    def quorate(self) -> bool:
        return self.layer.quorum().quorate

    @property
    def dc(self) -> int | None:
        return self.cib.dc

    @property
    def members(self) -> tuple[int, ...]:
        return self.layer.membership().members

    def name_of(self, node_id: int | None) -> str | None:
        if node_id is None:
            return None
        node = self.cfg.node_by_id(node_id)
        return node.name if node else str(node_id)

    def status(self) -> dict[str, Any]:
        desc = self.layer.describe()
        members = set(desc["members"])
        dc = self.cib.dc
        return {
            "cluster": self.cfg.name,
            "node": {"id": self.node.id, "name": self.node.name},
            "view": desc["view"],
            "agreed": desc["agreed"],
            "members": sorted(members),
            "dc": {"id": dc, "name": self.name_of(dc)} if dc is not None else None,
            "quorum": desc["quorum"],
            "nodes": [
                {
                    "id": n.id,
                    "name": n.name,
                    "member": n.id in members,
                    "reachable": n.id == self.node.id or n.id in desc["reachable"],
                    "links": [True] * len(n.addresses) if n.id == self.node.id
                    else desc["peers"][str(n.id)]["links"],
                    "votes": n.votes,
                    # Why the node cannot persist the CIB (it left the membership), or None.
                    "health": self.cib.health.error if n.id == self.node.id
                    else self.cib.health.peers.get(n.id),
                    # How far the node's clock is ahead of ours, measured from its heartbeats.
                    "clock_offset_ms": 0.0 if n.id == self.node.id
                    else desc["peers"][str(n.id)]["clock_offset_ms"],
                }
                for n in self.cfg.nodes
            ],
            "cib": {"version": list(self.cib.copy.version), "digest": self.cib.copy.digest,
                    "synced": self.cib.synced and self.cib.health.error is None,
                    "loaded_from": self.cib.loaded_from},
            "pid": desc["pid"],
            # Peers further off than this are refused (``clock_offset_ms`` says by how much).
            "max_clock_offset_ms": self.cfg.timing.max_clock_offset * 1000,
        }

    # -- events -----------------------------------------------------------------------------
    def _on_membership(self, m: Membership) -> None:
        self._emit({"event": "membership", "view": m.view_id, "members": list(m.members),
                    "joined": list(m.joined), "left": list(m.left)})

    def _on_quorum(self, q: QuorumState) -> None:
        self._emit({"event": "quorum", **q.to_dict()})

    def _emit(self, event: Event) -> None:
        event = {"node": self.node.name, **event}
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                self.log.exception("event listener failed")
