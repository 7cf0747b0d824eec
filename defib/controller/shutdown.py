"""Clean node shutdown, as Pacemaker does it on SIGTERM: move the resources away first.

1. The node (on SIGTERM) asks the DC (``crmd-shutdown``); a second SIGTERM, or no answer
   within ``SHUTDOWN_TIMEOUT_S``, exits at once.
2. The DC sets the node's transient ``shutdown`` attribute: the scheduler no longer places
   anything there and stops what runs there (or moves it elsewhere).
3. Once nothing is active on the node, the DC records ``expected=down`` for it and tells it
   to exit (``crmd-exit``); the node leaves, and its departure is clean (no fencing).
"""

from __future__ import annotations

import asyncio
import json
import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from defib.attrd import store as attrd
from defib.clock import Clock, RealClock
from defib.controller import status as st
from defib.controller import wire
from defib.scheduler.unpack import WorkingSet

log = logging.getLogger("defib.controller")
SHUTDOWN_TIMEOUT_S = 30.0


async def ask_daemon_to_exit(socket_path: Path) -> None:
    """The daemon's own, public way out: its control socket's ``shutdown`` op."""
    try:
        reader, writer = await asyncio.open_unix_connection(str(socket_path))
    except OSError as exc:
        log.error("cannot reach %s to shut down: %s", socket_path, exc)
        return
    writer.write(json.dumps({"op": "shutdown"}).encode() + b"\n")
    await writer.drain()
    # No waiting for the answer: the daemon that reads it is this one, and it stops its
    # event loop (and this task) as it exits.
    writer.close()


def nodes_done(ws: WorkingSet, busy: set[str]) -> list[str]:
    """Nodes that asked to shut down, are online, and have nothing active any more."""
    active = {n.uname for p in ws.all_primitives() for n in p.running_on}
    return [n.uname for n in ws.nodes
            if n.online and n.shutdown and n.uname not in active and n.uname not in busy]


def with_shutdown_attr(current: ET.Element | None, node_id: str, name: str,
                       when: float) -> ET.Element:
    new = st._fresh(node_id, name, current)
    attrd.set_attr(new, "shutdown", str(int(when)))
    return new


def expected_down(current: ET.Element | None, node_id: str, name: str) -> ET.Element:
    new = st._fresh(node_id, name, current)
    new.set("expected", "down")
    return new


class ShutdownRequest:
    """The node side: one request per daemon life."""

    def __init__(self, send: Callable[[dict[str, object]], None], node: str,
                 socket_path: Path, in_cluster: Callable[[], bool],
                 clock: Clock | None = None) -> None:
        self.clock = clock or RealClock()
        self.send = send
        self.in_cluster = in_cluster
        self.node = node
        self.socket_path = socket_path
        self.requested = False
        self._exiting = False

    def on_sigterm(self) -> None:
        if self.requested:
            log.warning("[%s] second SIGTERM: leaving now", self.node)
            self.exit_now()
            return
        self.requested = True
        if not self.in_cluster():
            log.info("[%s] shutdown requested while in no membership: leaving now", self.node)
            self.exit_now()
            return
        log.info("[%s] shutdown requested: asking the DC to move resources away", self.node)
        self.send(wire.ShutdownRequest(self.node, self.clock.time()).to_wire())
        self.clock.call_later(SHUTDOWN_TIMEOUT_S, self._timeout)

    def _timeout(self) -> None:
        if not self._exiting:
            log.error("[%s] the DC did not complete the shutdown in %.0fs: leaving anyway",
                      self.node, SHUTDOWN_TIMEOUT_S)
            self.exit_now()

    def exit_now(self) -> None:
        if self._exiting:
            return
        self._exiting = True
        asyncio.get_running_loop().create_task(ask_daemon_to_exit(self.socket_path))
