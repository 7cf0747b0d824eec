"""A fault-injecting datagram transport under the messaging layer: delay, jitter,
reordering and drop, per peer and link, for the lab and tests of local clusters.

The kernel here has no ``netem``, so what iptables cannot do (delay and reordering) is
done where the heartbeat layer hands a sealed packet to its socket. Only a node of a
local cluster (``DEFIB_LOCAL_NODE=<dir>:<node>`` in its environment) can be faulted, and
only while its rules file ``<dir>/<node>/netfault.json`` exists: the lab writes it
(``defib.lab.faults.Faults.delay`` / ``reorder``) and deletes it to heal. The file is
looked at no more than every ``RELOAD_EVERY`` seconds, so a change takes effect within
that. Its form::

    {"rules": [{"to": 2, "link": 0, "delay_ms": 40, "jitter_ms": 20,
                "reorder": 0.2, "hold_ms": 30, "drop": 0.05}]}

``to`` (a peer's node id) and ``link`` may be left out (every peer, every link); the last
matching rule applies. A delayed packet gets ``delay_ms`` plus a uniform share of
``jitter_ms`` (jitter alone already reorders); ``reorder`` is the share of packets held
back ``hold_ms`` more, so that the ones sent after them overtake them. Delayed packets
leave from a thread of their own, as a network would: their delay does not depend on the
sender's event loop.
"""

from __future__ import annotations

import heapq
import json
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from defib.cluster.private import write_private

RULES_FILE = "netfault.json"
RELOAD_EVERY = 0.2

Transmit = Callable[[socket.socket, int, int, bytes], None]
Refused = Callable[[int, int], None]


@dataclass(frozen=True)
class LinkFault:
    to: int | None = None
    link: int | None = None
    delay: float = 0.0    # seconds
    jitter: float = 0.0   # seconds, uniform on top of delay
    reorder: float = 0.0  # share of packets held back
    hold: float = 0.0     # seconds a held-back packet waits more
    drop: float = 0.0     # share of packets dropped

    def matches(self, peer: int, link: int) -> bool:
        return self.to in (None, peer) and self.link in (None, link)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"delay_ms": self.delay * 1000, "jitter_ms": self.jitter * 1000,
                               "reorder": self.reorder, "hold_ms": self.hold * 1000,
                               "drop": self.drop}
        if self.to is not None:
            out["to"] = self.to
        if self.link is not None:
            out["link"] = self.link
        return out


def parse_rules(text: str) -> list[LinkFault]:
    """The rules of a rules file; ValueError if it is not one."""
    data = json.loads(text)
    rules = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(rules, list):
        raise ValueError("no 'rules' list")
    out = []
    for rule in rules:
        if not isinstance(rule, dict):
            raise ValueError(f"rule {rule!r} is not an object")
        to, link = rule.get("to"), rule.get("link")
        fault = LinkFault(
            None if to is None else int(to), None if link is None else int(link),
            float(rule.get("delay_ms", 0)) / 1000, float(rule.get("jitter_ms", 0)) / 1000,
            float(rule.get("reorder", 0)), float(rule.get("hold_ms", 0)) / 1000,
            float(rule.get("drop", 0)))
        if min(fault.delay, fault.jitter, fault.hold) < 0 or not (
                0 <= fault.reorder <= 1 and 0 <= fault.drop <= 1):
            raise ValueError(f"rule {rule!r} is out of range")
        out.append(fault)
    return out


def write_rules(path: Path, rules: list[LinkFault]) -> None:
    """Replace the rules file atomically (a reader never sees half of it), private as the
    rest of the node's state."""
    write_private(path, json.dumps({"rules": [r.to_json() for r in rules]}))


def direct(sock: socket.socket, peer: int, link: int, packet: bytes) -> None:
    sock.send(packet)


class DelayLine:
    """One thread that sends each queued packet when it is due (a heap by due time)."""

    def __init__(self, refused: Refused, clock: Callable[[], float] = time.monotonic) -> None:
        self.refused = refused
        self.clock = clock
        self._heap: list[tuple[float, int, socket.socket, int, int, bytes]] = []
        self._count = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def put(self, due: float, sock: socket.socket, peer: int, link: int, packet: bytes) -> None:
        with self._cond:
            self._count += 1
            heapq.heappush(self._heap, (due, self._count, sock, peer, link, packet))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="netfault-delay",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._heap)

    def _next(self) -> tuple[socket.socket, int, int, bytes]:
        with self._cond:
            while True:
                now = self.clock()
                if self._heap and self._heap[0][0] <= now:
                    _, _, sock, peer, link, packet = heapq.heappop(self._heap)
                    return sock, peer, link, packet
                self._cond.wait(None if not self._heap else self._heap[0][0] - now)

    def _run(self) -> None:
        while True:
            sock, peer, link, packet = self._next()
            try:
                sock.send(packet)
            except ConnectionRefusedError:
                self.refused(peer, link)
            except OSError:
                continue  # closed meanwhile, unroutable, filtered: a lost packet


class FaultyTransport:
    """Sends through the rules of a rules file: straight on when no rule matches."""

    def __init__(self, path: Path, refused: Refused, seed: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self.clock = clock
        self.rules: list[LinkFault] = []
        self.rng = random.Random(seed)
        self.line = DelayLine(refused, clock)
        self.counters = {"delayed": 0, "held_back": 0, "dropped": 0}
        self._stamp: int | None = None
        self._next_look = 0.0

    def _reload(self, now: float) -> None:
        self._next_look = now + RELOAD_EVERY
        try:
            stamp = self.path.stat().st_mtime_ns
        except OSError:
            self._stamp, self.rules = None, []
            return
        if stamp == self._stamp:
            return
        try:
            self.rules = parse_rules(self.path.read_text())
        except (OSError, ValueError, TypeError):
            self.rules = []  # a broken file faults nothing
        self._stamp = stamp

    def __call__(self, sock: socket.socket, peer: int, link: int, packet: bytes) -> None:
        now = self.clock()
        if now >= self._next_look:
            self._reload(now)
        rule = next((r for r in reversed(self.rules) if r.matches(peer, link)), None)
        if rule is None:
            sock.send(packet)
            return
        if rule.drop and self.rng.random() < rule.drop:
            self.counters["dropped"] += 1
            return
        wait = rule.delay + (self.rng.uniform(0, rule.jitter) if rule.jitter else 0.0)
        if rule.reorder and self.rng.random() < rule.reorder:
            wait += rule.hold
            self.counters["held_back"] += 1
        if wait <= 0:
            sock.send(packet)
            return
        self.counters["delayed"] += 1
        self.line.put(now + wait, sock, peer, link, packet)


def transport_for(refused: Refused, environ: dict[str, str] | None = None) -> Transmit:
    """The transport of this process's node: faultable when it is a node of a local
    cluster, straight to the socket otherwise."""
    marker = (os.environ if environ is None else environ).get("DEFIB_LOCAL_NODE", "")
    directory, _, node = marker.rpartition(":")
    if not directory or not node:
        return direct
    return FaultyTransport(Path(directory) / node / RULES_FILE, refused)
