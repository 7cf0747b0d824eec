"""The messaging-layer interface the CIB replication and the controller are written against.

It is what Corosync's CPG + votequorum offer (join, leave, totally ordered messages within a
view, membership and quorum events), so a Corosync backend can replace the built-in
heartbeat layer. ``InMemoryHub``/``FakeLayer`` implement it in memory for unit tests.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from defib.cluster.config import QuorumOptions
from defib.cluster.quorum import QuorumState, QuorumTracker


@dataclass(frozen=True)
class Membership:
    view_id: str
    members: tuple[int, ...]
    joined: tuple[int, ...] = ()
    left: tuple[int, ...] = ()

    @property
    def coordinator(self) -> int | None:
        return min(self.members) if self.members else None


@dataclass(frozen=True)
class Delivery:
    view_id: str
    seq: int
    origin: int
    payload: dict[str, Any]


DeliverCallback = Callable[[Delivery], None]
MembershipCallback = Callable[[Membership], None]
QuorumCallback = Callable[[QuorumState], None]


class ClusterLayer(Protocol):
    """Group communication for one node. Callbacks run on the event loop, in order:
    a membership event precedes every delivery of its view."""

    @property
    def node_id(self) -> int: ...

    async def join(self) -> None: ...

    async def leave(self) -> None: ...

    def send_ordered(self, payload: dict[str, Any]) -> None:
        """Queue a message; every member of the view (sender included) delivers it in the
        same total order. Re-sent across view changes until delivered."""

    def on_deliver(self, callback: DeliverCallback) -> None: ...

    def on_membership(self, callback: MembershipCallback) -> None: ...

    def on_quorum(self, callback: QuorumCallback) -> None: ...

    def membership(self) -> Membership: ...

    def quorum(self) -> QuorumState: ...

    def stats(self) -> dict[str, Any]: ...

    def withdraw(self) -> None:
        """Stop talking to the peers while staying up: they lose this node, which forms a
        partition of its own (a node that cannot persist what the cluster agrees on)."""

    def rejoin(self) -> None:
        """Talk to the peers again after ``withdraw``: the partitions merge."""


@dataclass
class _Callbacks:
    deliver: list[DeliverCallback] = field(default_factory=list)
    membership: list[MembershipCallback] = field(default_factory=list)
    quorum: list[QuorumCallback] = field(default_factory=list)


class InMemoryHub:
    """A network of fake layers; partitions are set explicitly by tests."""

    def __init__(self, votes: dict[int, int], options: QuorumOptions | None = None) -> None:
        self.votes = votes
        self.options = options or QuorumOptions()
        self.layers: dict[int, FakeLayer] = {}
        self.partitions: list[set[int]] = [set(votes)]
        self._view_seq = 0
        self._seq: dict[str, int] = {}
        self.clock = 0.0

    def layer(self, node_id: int) -> FakeLayer:
        layer = FakeLayer(self, node_id)
        self.layers[node_id] = layer
        return layer

    def _group(self, node_id: int) -> set[int]:
        if self.layers[node_id].withdrawn:
            return {node_id}
        for part in self.partitions:
            if node_id in part:
                return {n for n in part if n in self.layers and self.layers[n].joined
                        and not self.layers[n].withdrawn}
        return {node_id}

    def set_partitions(self, partitions: list[set[int]]) -> None:
        self.partitions = partitions
        self.reconfigure()

    def reconfigure(self) -> None:
        seen: set[frozenset[int]] = set()
        for node_id, layer in self.layers.items():
            if not layer.joined:
                continue
            group = frozenset(self._group(node_id))
            if group in seen:
                continue
            seen.add(group)
            self._view_seq += 1
            view_id = f"{min(group)}.{self._view_seq}"
            for member in sorted(group):
                self.layers[member]._install(view_id, tuple(sorted(group)))

    def broadcast(self, sender: int, payload: dict[str, Any]) -> None:
        layer = self.layers[sender]
        view_id = layer._membership.view_id
        seq = self._seq.get(view_id, 0) + 1
        self._seq[view_id] = seq
        for member in layer._membership.members:
            target = self.layers[member]
            if target.joined and target._membership.view_id == view_id:
                target._queue(Delivery(view_id, seq, sender, payload))


class FakeLayer:
    def __init__(self, hub: InMemoryHub, node_id: int) -> None:
        self._hub = hub
        self._id = node_id
        self.joined = False
        self.withdrawn = False
        self._cb = _Callbacks()
        self._membership = Membership("0.0", ())
        self._tracker = QuorumTracker(hub.votes, hub.options)
        self.sent = 0

    @property
    def node_id(self) -> int:
        return self._id

    async def join(self) -> None:
        self.joined = True
        self._hub.reconfigure()

    async def leave(self) -> None:
        self.joined = False
        self._membership = Membership("0.0", ())
        self._hub.reconfigure()

    def withdraw(self) -> None:
        self.withdrawn = True
        self._hub.reconfigure()

    def rejoin(self) -> None:
        self.withdrawn = False
        self._hub.reconfigure()

    def send_ordered(self, payload: dict[str, Any]) -> None:
        self.sent += 1
        self._hub.broadcast(self._id, payload)

    def on_deliver(self, callback: DeliverCallback) -> None:
        self._cb.deliver.append(callback)

    def on_membership(self, callback: MembershipCallback) -> None:
        self._cb.membership.append(callback)

    def on_quorum(self, callback: QuorumCallback) -> None:
        self._cb.quorum.append(callback)

    def membership(self) -> Membership:
        return self._membership

    def quorum(self) -> QuorumState:
        return self._tracker.state

    def stats(self) -> dict[str, Any]:
        return {"sent": self.sent}

    def describe(self) -> dict[str, Any]:
        members = self._membership.members
        links = [True] * len(self._hub.votes)
        return {"node_id": self._id, "incarnation": 0, "pid": os.getpid(),
                "view": self._membership.view_id, "members": list(members), "agreed": True,
                "reachable": sorted(m for m in members if m != self._id),
                "peers": {str(p): {"links": links if p in members else [False],
                                   "clock_offset_ms": 0.0}
                          for p in self._hub.votes if p != self._id},
                "quorum": self._tracker.state.to_dict()}

    def _install(self, view_id: str, members: tuple[int, ...]) -> None:
        old = set(self._membership.members)
        new = Membership(
            view_id, members, tuple(sorted(set(members) - old)), tuple(sorted(old - set(members)))
        )
        self._membership = new
        state = self._tracker.update(frozenset(members), self._hub.clock)
        loop = asyncio.get_running_loop()
        for cb in self._cb.membership:
            loop.call_soon(cb, new)
        for qcb in self._cb.quorum:
            loop.call_soon(qcb, state)

    def _queue(self, delivery: Delivery) -> None:
        loop = asyncio.get_running_loop()
        for cb in self._cb.deliver:
            loop.call_soon(cb, delivery)
