"""Durability that tells the truth: a node that cannot write its CIB copy leaves, and says why.

A member whose state directory cannot be written (a full disk, a read-only file system) must
not look like a member that keeps up: it would ack nothing, report itself in sync and make
every change wait for it. As Pacemaker's node whose CIB manager fails, it leaves:

* it does not adopt (nor ack) a copy it could not write (``CibReplicator._store``);
* it tells the members why (``cib-unhealthy``: their status shows it next to its name);
* it withdraws from the membership (``ClusterLayer.withdraw``): the others lose it, as they
  lose a node cut off (with a controller, the usual rules for a lost node apply to it);
* it tries to write its copy again every ``PROBE_EVERY_S``; once that succeeds it rejoins,
  and the membership's version sync gives it every change it missed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from defib.cluster.layer import ClusterLayer

PROBE_EVERY_S = 2.0
# How long the node stays after saying why it leaves, so that the members hear it.
WITHDRAW_GRACE_S = 1.0


class StoreHealth:
    """The node's own health (``error``: why it cannot persist) and what peers said of theirs.

    ``retry`` writes the copy again and says whether that worked."""

    def __init__(self, layer: ClusterLayer, log: logging.LoggerAdapter[logging.Logger],
                 retry: Callable[[], bool]) -> None:
        self.layer = layer
        self.log = log
        self.retry = retry
        self.error: str | None = None
        self.withdrawn = False
        self.peers: dict[int, str] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._listeners: list[Callable[[str | None], None]] = []

    def subscribe(self, listener: Callable[[str | None], None]) -> None:
        """``listener(error)`` on every change of this node's health (None: healthy)."""
        self._listeners.append(listener)

    def cannot_persist(self, reason: str) -> None:
        if self.error is not None:
            self.error = reason
            return
        self.error = reason
        self.log.critical("%s: this node acknowledges no change and leaves the membership"
                          " until it can write again", reason)
        self._tell()
        self.layer.send_ordered({"t": "cib-unhealthy", "e": reason})
        self._timer = asyncio.get_running_loop().call_later(WITHDRAW_GRACE_S, self._withdraw)

    def peer_unhealthy(self, node_id: int, reason: str) -> None:
        if node_id == self.layer.node_id:
            if self.error is not None and not self.withdrawn:
                self._withdraw()  # the members have heard why: go now
            return
        self.peers[node_id] = reason
        self.log.error("node %d cannot persist the CIB and leaves: %s", node_id, reason)

    def peer_back(self, node_id: int) -> None:
        """A node announced its version in a view: it is a member that writes again."""
        if self.peers.pop(node_id, None) is not None:
            self.log.info("node %d is back in the membership", node_id)

    def _withdraw(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.withdrawn = True
        self.layer.withdraw()
        self._timer = asyncio.get_running_loop().call_later(PROBE_EVERY_S, self._probe)

    def _probe(self) -> None:
        if not self.retry():
            self._timer = asyncio.get_running_loop().call_later(PROBE_EVERY_S, self._probe)
            return
        self.log.warning("the CIB can be written again (%s is over): rejoining", self.error)
        self.error = None
        self.withdrawn = False
        self._timer = None
        self._tell()
        self.layer.rejoin()

    def _tell(self) -> None:
        for listener in self._listeners:
            try:
                listener(self.error)
            except Exception:
                self.log.exception("health listener failed")
