"""The built-in messaging layer: UDP heartbeats on every link, views, sequencer ordering.

Every packet (heartbeat, ordered message, retransmission request, goodbye) is sealed by
``PacketCodec``. Each node keeps one listening socket per link and, per peer and link, one
*connected* sending socket: the kernel reports ICMP port-unreachable on it as
ECONNREFUSED, which is the failure detector's proof that the peer's daemon is gone.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from defib.cluster.auth import PacketCodec
from defib.cluster.config import ClusterConfig, NodeConfig
from defib.cluster.detector import FailureDetector
from defib.cluster.framing import (
    Batcher,
    Reassembler,
    decode,
    encode,
    encode_with_payload,
    fragments,
    unpack,
)
from defib.cluster.layer import (
    DeliverCallback,
    Delivery,
    Membership,
    MembershipCallback,
    QuorumCallback,
)
from defib.cluster.netfault import transport_for
from defib.cluster.ordering import Ordered, Receiver, Sequencer
from defib.cluster.quorum import QuorumState, QuorumTracker
from defib.cluster.views import Report, View, ViewAgreement
from defib.errors import ClusterError

RESEND_AFTER = 0.2
CLOCK_LOG_EVERY = 5.0


class WallClock:
    """The wall clock stamped into packets and compared with theirs. ``shift`` is a test
    fault (a node whose clock is wrong): DEFIB_DEBUG_CLOCK_OFFSET at start, or the control
    op ``debug_clock_offset`` later, both honoured only with DEFIB_DEBUG_OPS=1."""

    def __init__(self) -> None:
        self.shift = 0.0
        if os.environ.get("DEFIB_DEBUG_OPS") == "1":
            self.shift = float(os.environ.get("DEFIB_DEBUG_CLOCK_OFFSET", "0") or 0)

    def __call__(self) -> float:
        return time.time() + self.shift


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


__all__ = ["HeartbeatLayer", "decode", "encode"]


class HeartbeatLayer:
    """Implements ``defib.cluster.layer.ClusterLayer`` over UDP."""

    def __init__(
        self,
        cfg: ClusterConfig,
        node: NodeConfig,
        key: bytes,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cfg = cfg
        self.node = node
        self.clock = clock
        self.incarnation = time.time_ns() // 1000
        self.log = logging.LoggerAdapter(
            logging.getLogger("defib.cluster"), {"node": node.name}
        )
        self.peers = [n for n in cfg.nodes if n.id != node.id]
        t = cfg.timing
        self.wall = WallClock()
        self.codec = PacketCodec(key, node.id, {n.id for n in cfg.nodes}, cfg.encrypt,
                                 clock=self.wall, max_offset=t.max_clock_offset)
        # Per peer: packets refused for their clock, as of the last warning, and when.
        self._skew_logged: dict[int, tuple[int, float]] = {}
        self.detector = FailureDetector([p.id for p in self.peers], cfg.link_count,
                                        t.suspect_time, t.dead_time)
        self.views = ViewAgreement(node.id, self.incarnation, grace=t.dead_time)
        self.tracker = QuorumTracker({n.id: n.votes for n in cfg.nodes}, cfg.quorum)
        self.reports: dict[int, Report] = {}
        self.reachable: set[int] = set()
        self._membership = Membership("0.0", ())
        self._cb_deliver: list[DeliverCallback] = []
        self._cb_membership: list[MembershipCallback] = []
        self._cb_quorum: list[QuorumCallback] = []
        self._listen: list[socket.socket] = []
        self._send: dict[tuple[int, int], socket.socket] = {}
        self._task: asyncio.Task[None] | None = None
        self._started = 0.0
        self._last_tick = 0.0
        # The last time the loop ran our code (a tick or a read): a longer gap is a stall.
        self._last_alive = 0.0
        self._last_hb = 0.0
        self._sequencer = Sequencer()
        self._withdrawn = False
        self._delivered: OrderedDict[str, None] = OrderedDict()
        self._receiver = Receiver(self._delivered)
        self._early: dict[tuple[int, int], list[Ordered]] = {}
        self._fragments = Reassembler()
        # Own ordered messages not yet delivered back: uid -> (payload, its JSON, last sent).
        self._outbox: OrderedDict[str, tuple[dict[str, Any], bytes, float]] = OrderedDict()
        self._batcher = Batcher(self._send_packet, self._preferred_link, clock)
        self._uid_counter = 0
        self._seq_high_seen = 0
        self._last_nack = 0.0
        self.counters: dict[str, int] = {
            "send_errors": 0, "refused": 0, "views_installed": 0, "loop_stalls": 0,
            "delivered": 0, "retransmit_requests": 0, "keeper_heartbeats": 0,
        }
        self.max_tick_gap = 0.0
        # The keeper thread re-sends the loop's last heartbeat while the loop is busy.
        self._send_lock = threading.Lock()
        self._hb_body: dict[str, Any] | None = None
        self._keeper_stop = threading.Event()
        self._keeper: threading.Thread | None = None
        # Where sealed packets go: the socket, or the lab's faults (defib.cluster.netfault).
        self._transmit = transport_for(self._refused)

    # -- ClusterLayer interface -------------------------------------------------------------
    @property
    def node_id(self) -> int:
        return self.node.id

    def on_deliver(self, callback: DeliverCallback) -> None:
        self._cb_deliver.append(callback)

    def on_membership(self, callback: MembershipCallback) -> None:
        self._cb_membership.append(callback)

    def on_quorum(self, callback: QuorumCallback) -> None:
        self._cb_quorum.append(callback)

    def membership(self) -> Membership:
        return self._membership

    def quorum(self) -> QuorumState:
        return self.tracker.state

    async def join(self) -> None:
        loop = asyncio.get_running_loop()
        for link, (host, port) in enumerate(self.node.addresses):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            try:
                sock.bind((host, port))
            except OSError as exc:
                sock.close()
                raise ClusterError(f"cannot bind link{link} {host}:{port}: {exc}",
                                   self.node.name) from exc
            sock.setblocking(False)
            loop.add_reader(sock.fileno(), self._drain, sock, link)
            self._listen.append(sock)
            for peer in self.peers:
                out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                out.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
                out.bind((host, 0))
                out.connect(peer.addresses[link])
                out.setblocking(False)
                loop.add_reader(out.fileno(), self._drain_errors, out, peer.id, link)
                self._send[(peer.id, link)] = out
        self._started = self._last_tick = self._last_alive = self.clock()
        self.log.info("joining cluster %s as node %d (incarnation %d) on %s",
                      self.cfg.name, self.node.id, self.incarnation,
                      ", ".join(f"{h}:{p}" for h, p in self.node.addresses))
        self._send_heartbeats()
        self._task = asyncio.create_task(self._run())
        self._keeper_stop.clear()
        self._keeper = threading.Thread(target=self._keep_alive, name="heartbeat-keeper",
                                        daemon=True)
        self._keeper.start()

    async def leave(self) -> None:
        self._keeper_stop.set()
        if self._keeper is not None:
            self._keeper.join(timeout=2.0)
            self._keeper = None
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        self._batcher.flush()
        for peer in self.peers:
            for link in range(self.cfg.link_count):
                self._send_to(peer.id, link, {"t": "bye"})
        loop = asyncio.get_running_loop()
        for sock in [*self._listen, *self._send.values()]:
            loop.remove_reader(sock.fileno())
            sock.close()
        self._listen.clear()
        self._send.clear()
        self.log.info("left the cluster")

    def withdraw(self) -> None:
        # Silent both ways (sockets kept): the peers lose us, we lose them.
        self._withdrawn = True
        self.log.warning("withdrawn from the cluster: no packet sent or accepted")

    def rejoin(self) -> None:
        self._withdrawn = False
        self.log.info("talking to the cluster again")

    def send_ordered(self, payload: dict[str, Any]) -> None:
        raw = json.dumps(payload, separators=(",", ":")).encode()
        self._uid_counter += 1
        try:
            parts = fragments(raw, f"{self.incarnation}:{self._uid_counter}")
        except ValueError as exc:
            raise ClusterError(str(exc), self.node.name) from None
        if parts is None:
            self._queue(payload, raw)
        for part in parts or []:
            self._queue(part)

    def _queue(self, payload: dict[str, Any], raw: bytes | None = None) -> None:
        if raw is None:
            raw = json.dumps(payload, separators=(",", ":")).encode()
        self._uid_counter += 1
        uid = f"{self.node.id}:{self.incarnation}:{self._uid_counter}"
        self._outbox[uid] = (payload, raw, self.clock())
        self._submit(uid, payload, raw)

    def stats(self) -> dict[str, Any]:
        now = self.clock()
        return {
            "packets": dict(self.codec.stats),
            **self.counters,
            "max_tick_gap_ms": round(self.max_tick_gap * 1000, 1),
            "worst_silence_ms": {str(p.id): round(self.detector.peers[p.id].worst_silence * 1000, 1)
                                 for p in self.peers},
            "ordered_sent": self._batcher.bodies,
            "ordered_packets": self._batcher.packets,
            "pending_ordered": len(self._outbox),
            "netfault": dict(getattr(self._transmit, "counters", {})),
            "links": {
                str(p.id): self.detector.links_up(p.id, now) for p in self.peers
            },
        }

    # -- sockets ----------------------------------------------------------------------------
    def _encoded(self, body: dict[str, Any]) -> bytes:
        return encode({**body, "i": self.incarnation})

    def _send_to(self, peer: int, link: int, body: dict[str, Any] | bytes) -> None:
        """Send ``body`` (or its encoding, shared by every receiver and link: JSON and
        compression once per message, only the authenticated header per packet)."""
        sock = self._send.get((peer, link))
        if sock is None or self._withdrawn:
            return
        data = body if isinstance(body, bytes) else self._encoded(body)
        try:
            with self._send_lock:
                self._transmit(sock, peer, link, self.codec.seal(data, peer, link))
        except ConnectionRefusedError:
            self._refused(peer, link)
        except OSError:
            # Unroutable, filtered, buffer full: not evidence that the peer died.
            self.counters["send_errors"] += 1

    def _refused(self, peer: int, link: int) -> None:
        self.counters["refused"] += 1
        self.detector.refused(peer, link, self.clock())

    def _send_all_links(self, peer: int, body: dict[str, Any] | bytes) -> None:
        data = body if isinstance(body, bytes) else self._encoded(body)
        for link in range(self.cfg.link_count):
            self._send_to(peer, link, data)

    def _drain_errors(self, sock: socket.socket, peer: int, link: int) -> None:
        while True:
            try:
                sock.recv(2048)
            except ConnectionRefusedError:
                self.counters["refused"] += 1
                self.detector.refused(peer, link, self.clock())
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.counters["send_errors"] += 1
                return

    def _loop_ran(self, now: float) -> None:
        """Our code runs again: if the loop did not run for longer than ``suspect_time``,
        what looks like the peers' silence is our own stall; shift their clocks by it. Done
        before every packet read too: after a stall the sockets' readers run before the
        tick (and a delivery inside a read can run long), and the heartbeats queued
        meanwhile must not be taken as ending a silence of the peers."""
        t = self.cfg.timing
        gap = now - self._last_alive
        self._last_alive = now
        self.max_tick_gap = max(self.max_tick_gap, gap)
        if gap > t.suspect_time:
            self.counters["loop_stalls"] += 1
            self.detector.forgive(gap - t.heartbeat_interval / 2)
            self.log.warning("event loop stalled for %.3fs; peers not blamed", gap)

    def _drain(self, sock: socket.socket, link: int) -> None:
        while True:
            try:
                data = sock.recv(70000)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            # Per packet: delivering the previous one may have run long (a big CIB change).
            self._loop_ran(self.clock())
            if self._withdrawn:
                continue
            opened = self.codec.open(data, link)
            if opened is None:
                continue
            for item in unpack(opened.body) or [b""]:
                body = decode(item)
                if body is None or not isinstance(body.get("i"), int):
                    self.codec.stats["rx_malformed"] += 1
                    continue
                self._handle(opened.sender, link, body)

    # -- the ordered stream's sending side (defib.cluster.framing.Batcher) --------------------
    def _send_packet(self, peer: int, link: int | None, packet: bytes) -> None:
        if link is None:
            self._send_all_links(peer, packet)
        else:
            self._send_to(peer, link, packet)

    def _preferred_link(self, peer: int, now: float) -> int | None:
        """The lowest link the peer was heard on lately; None (every link) if none was."""
        fresh = 3 * self.cfg.timing.heartbeat_interval
        for link, state in enumerate(self.detector.peers[peer].links):
            if state.last_heard is not None and now - state.last_heard < fresh:
                return link
        return None

    # -- protocol ---------------------------------------------------------------------------
    def _handle(self, sender: int, link: int, body: dict[str, Any]) -> None:
        kind = body.get("t")
        if kind == "bye":
            self.detector.forget(sender)
            self.reports.pop(sender, None)
            self.log.info("node %d says goodbye", sender)
            return
        if self.detector.heard(sender, link, self.clock(), body["i"]):
            self.log.info("node %d restarted (new incarnation %d)", sender, body["i"])
        if kind == "hb":
            view = View.from_wire(body.get("v"))
            self.views.observe(view)
            self.reports[sender] = Report(body["i"], view, frozenset(body.get("r", ())))
            cur = self.views.current
            if cur is not None and view == cur and sender == cur.id.coord:
                self._seq_high_seen = max(self._seq_high_seen, int(body.get("o", 0)))
        elif kind == "oreq":
            self._on_oreq(sender, body)
        elif kind == "ord":
            self._on_ord(body)
        elif kind == "nack":
            self._on_nack(sender, body)

    def _view_key(self) -> tuple[int, int] | None:
        cur = self.views.current
        return (cur.id.seq, cur.id.coord) if cur else None

    def _submit(self, uid: str, payload: dict[str, Any], raw: bytes,
                every_link: bool = False) -> None:
        cur = self.views.current
        if cur is None:
            return
        if cur.id.coord == self.node.id:
            self._sequence(self.node.id, uid, payload, raw)
        else:
            head = {"t": "oreq", "v": [cur.id.seq, cur.id.coord], "u": uid,
                    "i": self.incarnation}
            self._batcher.post(cur.id.coord, encode_with_payload(head, raw), every_link)

    def _sequence(self, origin: int, uid: str, payload: dict[str, Any],
                  raw: bytes | None = None) -> None:
        cur = self.views.current
        assert cur is not None
        msg, _ = self._sequencer.assign(origin, uid, payload)
        if raw is None:
            raw = json.dumps(payload, separators=(",", ":")).encode()
        head = {"t": "ord", "v": [cur.id.seq, cur.id.coord], "s": msg.seq, "o": msg.origin,
                "u": msg.uid, "i": self.incarnation}
        wire = encode_with_payload(head, raw)
        for member in cur.member_ids:
            if member != self.node.id:
                self._batcher.post(member, wire)
        self._accept(msg)

    def _on_oreq(self, sender: int, body: dict[str, Any]) -> None:
        cur = self.views.current
        if cur is None or cur.id.coord != self.node.id or sender not in cur.member_ids:
            return
        if list(body.get("v", ())) != [cur.id.seq, cur.id.coord]:
            return
        self._sequence(sender, str(body["u"]), dict(body["p"]))

    def _on_ord(self, body: dict[str, Any]) -> None:
        raw = body.get("v", ())
        if not isinstance(raw, list) or len(raw) != 2:
            return
        key = (int(raw[0]), int(raw[1]))
        msg = Ordered.from_wire(body)
        if key == self._view_key():
            self._accept(msg)
        elif self.views.current is None or key[0] > self.views.current.id.seq:
            early = self._early.setdefault(key, [])
            if len(early) < 1000:
                early.append(msg)

    def _accept(self, msg: Ordered) -> None:
        view_id = str(self.views.current.id) if self.views.current else "0.0"
        for item in self._receiver.accept(msg):
            if item.origin == self.node.id:
                self._outbox.pop(item.uid, None)
            payload = item.payload
            if payload.get("t") == "_frag":
                whole = self._fragments.add(item.origin, payload)
                if whole is None:
                    continue
                payload = whole
            self.counters["delivered"] += 1
            delivery = Delivery(view_id, item.seq, item.origin, payload)
            for cb in self._cb_deliver:
                try:
                    cb(delivery)
                except Exception:
                    self.log.exception("deliver callback failed")

    def _on_nack(self, sender: int, body: dict[str, Any]) -> None:
        cur = self.views.current
        if cur is None or cur.id.coord != self.node.id:
            return
        if list(body.get("v", ())) != [cur.id.seq, cur.id.coord]:
            return
        self._batcher.lossy(sender)
        for msg in self._sequencer.range(int(body["a"]), int(body["b"])):
            wire = {"t": "ord", "v": [cur.id.seq, cur.id.coord], **msg.to_wire()}
            self._batcher.post(sender, self._encoded(wire), every_link=True)

    # -- periodic work ----------------------------------------------------------------------
    async def _run(self) -> None:
        period = self.cfg.timing.heartbeat_interval / 2
        while True:
            await asyncio.sleep(period)
            try:
                self._tick()
            except Exception:
                self.log.exception("tick failed")

    def _tick(self) -> None:
        t = self.cfg.timing
        now = self.clock()
        self._loop_ran(now)
        self._last_tick = now
        for link, sock in enumerate(self._listen):
            self._drain(sock, link)
        if now - self._last_hb >= t.heartbeat_interval:
            self._send_heartbeats()
        reachable = self.detector.reachable(now)
        for gone in sorted(self.reachable - reachable):
            self.log.warning("node %d unreachable: %s", gone, self.detector.reason(gone, now))
        for back in sorted(reachable - self.reachable):
            self.log.info("node %d reachable", back)
        self.reachable = reachable
        if now - self._started >= t.join_time:
            reports = {p: r for p, r in self.reports.items() if p in reachable}
            new = self.views.decide(reachable, reports, now)
            if new is not None:
                self._install(new)
        self._update_quorum(now)
        self._check_clocks(now)
        self._resend_pending(now)
        self._request_gaps(now)

    def _send_heartbeats(self) -> None:
        self._last_hb = self.clock()
        cur = self.views.current
        body: dict[str, Any] = {
            "t": "hb",
            "v": cur.to_wire() if cur else None,
            "r": sorted(self.reachable),
        }
        if cur is not None and cur.id.coord == self.node.id:
            body["o"] = self._sequencer.high
        self._hb_body = body
        for peer in self.peers:
            self._send_all_links(peer.id, body)

    def _keep_alive(self) -> None:
        """Thread: while the event loop is busy (a long computation of a layer above, a slow
        disk), keep sending its last heartbeat, so that peers do not read a busy daemon as
        a dead one. Only for ``loop_grace`` seconds: a wedged loop must still be found out.
        Starvation of the whole process is not covered (the thread starves too)."""
        interval = self.cfg.timing.heartbeat_interval
        grace = self.cfg.timing.loop_grace
        sent = 0.0
        # Checked twice per interval: a loop that missed one and a half intervals is busy,
        # and peers hear from us again at most ~0.2 s after its last heartbeat (the
        # margin dead_time needs; bench.dc_loop shows the worst silence seen).
        while not self._keeper_stop.wait(interval / 2):
            now = self.clock()
            busy = now - self._last_tick
            body = self._hb_body
            if body is None or busy < 1.5 * interval or busy > grace or now - sent < interval:
                continue
            sent = now
            self.counters["keeper_heartbeats"] += 1
            for peer in self.peers:
                self._send_all_links(peer.id, body)

    def _install(self, view: View) -> None:
        old = set(self._membership.members)
        members = view.member_ids
        self._membership = Membership(
            str(view.id), members,
            tuple(sorted(set(members) - old)), tuple(sorted(old - set(members))),
        )
        self.counters["views_installed"] += 1
        self.log.info("view %s: members %s (joined %s, left %s)", view.id, list(members),
                      list(self._membership.joined), list(self._membership.left))
        self._sequencer = Sequencer()
        self._receiver = Receiver(self._delivered)
        self._seq_high_seen = 0
        self._send_heartbeats()
        for cb in self._cb_membership:
            try:
                cb(self._membership)
            except Exception:
                self.log.exception("membership callback failed")
        early = self._early.pop((view.id.seq, view.id.coord), [])
        self._early = {k: v for k, v in self._early.items() if k[0] > view.id.seq}
        for msg in early:
            self._accept(msg)
        now = self.clock()
        for uid, (payload, raw, _) in list(self._outbox.items()):
            self._outbox[uid] = (payload, raw, now)
            self._submit(uid, payload, raw, every_link=True)

    def _update_quorum(self, now: float) -> None:
        before = self.tracker.state
        members = frozenset(self._membership.members)
        state = self.tracker.update(members, now)
        if state != before:
            self.log.info("quorum: %s (votes %d/%d, need %d)",
                          "quorate" if state.quorate else "NOT quorate",
                          state.total_votes, state.expected_votes, state.quorum)
            for cb in self._cb_quorum:
                try:
                    cb(state)
                except Exception:
                    self.log.exception("quorum callback failed")

    def _check_clocks(self, now: float) -> None:
        """Say in the log, at most every CLOCK_LOG_EVERY seconds per peer, that a peer's
        packets are being refused because its clock is too far from ours: without this line
        a skewed node just stays out of the membership with no explanation."""
        for peer in self.peers:
            refused = self.codec.stale_from.get(peer.id, 0)
            logged, at = self._skew_logged.get(peer.id, (0, -CLOCK_LOG_EVERY))
            if refused == logged or now - at < CLOCK_LOG_EVERY:
                continue
            self._skew_logged[peer.id] = (refused, now)
            offset = self.codec.offset(peer.id)
            if offset is None or abs(offset) <= self.codec.max_offset:
                continue
            self.log.error(
                "refusing packets from node %d (%s): its clock is %.1f s %s ours, more than"
                " max_clock_offset = %.1f s; synchronise the clocks (NTP)",
                peer.id, peer.name, abs(offset), "ahead of" if offset > 0 else "behind",
                self.codec.max_offset)

    def clock_offsets(self) -> dict[int, float | None]:
        """Per peer, how far (seconds) its clock is ahead of ours, measured from its packets."""
        return {p.id: self.codec.offset(p.id) for p in self.peers}

    def _resend_pending(self, now: float) -> None:
        for uid, (payload, raw, sent) in list(self._outbox.items()):
            if now - sent >= RESEND_AFTER:
                self._outbox[uid] = (payload, raw, now)
                cur = self.views.current
                if cur is not None and cur.id.coord != self.node.id:
                    self._batcher.lossy(cur.id.coord)
                self._submit(uid, payload, raw, every_link=True)

    def _request_gaps(self, now: float) -> None:
        cur = self.views.current
        if cur is None or cur.id.coord == self.node.id or now - self._last_nack < RESEND_AFTER / 2:
            return
        gap = self._receiver.missing(self._seq_high_seen)
        if gap is None:
            return
        self._last_nack = now
        self.counters["retransmit_requests"] += 1
        body = {"t": "nack", "v": [cur.id.seq, cur.id.coord], "a": gap[0], "b": gap[1]}
        self._send_all_links(cur.id.coord, body)

    # -- introspection ----------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        now = self.clock()
        cur = self.views.current
        reports = {p: r for p, r in self.reports.items() if p in self.reachable}
        return {
            "node_id": self.node.id,
            "incarnation": self.incarnation,
            "pid": os.getpid(),
            "view": str(cur.id) if cur else None,
            "members": list(self._membership.members),
            "agreed": self.views.agreed(reports),
            "reachable": sorted(self.reachable),
            "peers": {
                str(p.id): {"links": self.detector.links_up(p.id, now),
                            "clock_offset_ms": _ms(self.codec.offset(p.id))}
                for p in self.peers
            },
            "quorum": self.tracker.state.to_dict(),
        }
