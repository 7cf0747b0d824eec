"""Bodies of the messaging layer's packets: JSON, compressed above a size, several per packet.

A body is ``J`` + JSON or ``Z`` + zlib(JSON). A packet carries one body, or a batch:
``B`` + (u32 length + body) for each. The layer batches what it sends to one peer during
one turn of its event loop, so a burst of ordered messages (operation results, CIB diffs,
acks) costs one packet, one HMAC and one ``send`` per peer instead of one per message.
"""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import zlib
from collections.abc import Callable
from typing import Any

# Below this, compressing costs more CPU than the bytes it saves (loopback and LAN links).
COMPRESS_ABOVE = 4000
# Level 1: most of the gain on XML and JSON text for a fraction of level 6's time.
COMPRESS_LEVEL = 1
# One batch stays within a UDP datagram (65,507 bytes) with the packet header and MAC.
PACKET_BUDGET = 60000
_LEN = struct.Struct("!I")


def encode(body: dict[str, Any]) -> bytes:
    return _frame(json.dumps(body, separators=(",", ":")).encode())


def encode_with_payload(head: dict[str, Any], payload: bytes) -> bytes:
    """``encode({**head, "p": payload as JSON})`` from the payload's JSON text, so that a
    message already encoded once (its size checked) is not encoded again."""
    text = json.dumps(head, separators=(",", ":")).encode()
    return _frame(text[:-1] + (b',"p":' if len(text) > 2 else b'"p":') + payload + b"}")


def _frame(raw: bytes) -> bytes:
    if len(raw) > COMPRESS_ABOVE:
        return b"Z" + zlib.compress(raw, COMPRESS_LEVEL)
    return b"J" + raw


def decode(data: bytes) -> dict[str, Any] | None:
    try:
        if data[:1] == b"Z":
            data = b"J" + zlib.decompress(data[1:])
        if data[:1] != b"J":
            return None
        value = json.loads(data[1:])
    except (zlib.error, ValueError):
        return None
    return value if isinstance(value, dict) else None


def pack(bodies: list[bytes]) -> list[bytes]:
    """Packet bodies for ``bodies``, in order: batches of at most PACKET_BUDGET bytes; a
    body alone in its packet goes as it is."""
    packets: list[bytes] = []
    batch: list[bytes] = []
    size = 1
    for body in bodies:
        if batch and size + _LEN.size + len(body) > PACKET_BUDGET:
            packets.append(_batch(batch))
            batch, size = [], 1
        batch.append(body)
        size += _LEN.size + len(body)
    if batch:
        packets.append(_batch(batch))
    return packets


def _batch(bodies: list[bytes]) -> bytes:
    if len(bodies) == 1:
        return bodies[0]
    return b"B" + b"".join(_LEN.pack(len(b)) + b for b in bodies)


def unpack(data: bytes) -> list[bytes] | None:
    """The bodies of one packet; None when a batch is cut short (malformed)."""
    if data[:1] != b"B":
        return [data]
    bodies = []
    at = 1
    while at < len(data):
        if at + _LEN.size > len(data):
            return None
        (length,) = _LEN.unpack_from(data, at)
        at += _LEN.size
        if at + length > len(data):
            return None
        bodies.append(data[at:at + length])
        at += length
    return bodies


# After a peer showed loss (it asked for a retransmission, or ours went unanswered), the
# ordered stream to it goes on every link for this long.
LOSSY_FOR = 2.0


class Batcher:
    """The ordered stream's sending side: bodies posted for a peer during one turn of the
    event loop leave as one batch (one HMAC, one send), on the peer's preferred link, or on
    every link for a retransmission or while the peer shows loss. A body lost on one link is
    asked for again (``nack``) as soon as a gap, or the sequencer's number in a heartbeat,
    shows it."""

    def __init__(self, send: Callable[[int, int | None, bytes], None],
                 preferred_link: Callable[[int, float], int | None],
                 clock: Callable[[], float]) -> None:
        self._send = send  # (peer, link or None for every link, packet)
        self._preferred = preferred_link
        self._clock = clock
        self._out: dict[tuple[int, bool], list[bytes]] = {}
        self._handle: asyncio.Handle | None = None
        self._lossy: dict[int, float] = {}
        self.bodies = 0
        self.packets = 0

    def post(self, peer: int, body: bytes, every_link: bool = False) -> None:
        self._out.setdefault((peer, every_link), []).append(body)
        self.bodies += 1
        if self._handle is None:
            self._handle = asyncio.get_running_loop().call_soon(self.flush)

    def lossy(self, peer: int) -> None:
        self._lossy[peer] = self._clock() + LOSSY_FOR

    def flush(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        out, self._out = self._out, {}
        now = self._clock()
        for (peer, every_link), bodies in out.items():
            redundant = every_link or self._lossy.get(peer, 0.0) > now
            link = None if redundant else self._preferred(peer, now)
            for packet in pack(bodies):
                self.packets += 1
                self._send(peer, link, packet)


# Ordered payloads larger than this (compressed) travel as fragments, each its own message.
FRAGMENT = 40000
MAX_MESSAGE = 64 << 20


def fragments(raw: bytes, fid: str) -> list[dict[str, Any]] | None:
    """The ``_frag`` messages carrying ``raw`` (a payload's JSON) when it is too large for
    one message; None when it fits in one. ``fid`` names the whole."""
    if len(raw) <= FRAGMENT:  # small enough uncompressed: no need to compress to know
        return None
    packed = zlib.compress(raw, COMPRESS_LEVEL)
    if len(packed) <= FRAGMENT:
        return None
    if len(packed) > MAX_MESSAGE:
        raise ValueError(f"message of {len(packed)} bytes is too large")
    chunks = [packed[i:i + FRAGMENT] for i in range(0, len(packed), FRAGMENT)]
    return [{"t": "_frag", "f": fid, "k": k, "n": len(chunks),
             "d": base64.b64encode(chunk).decode()} for k, chunk in enumerate(chunks)]


class Reassembler:
    """Puts fragmented payloads back together, per sender (at most 64 partial ones)."""

    def __init__(self) -> None:
        self._parts: dict[tuple[int, str], dict[int, bytes]] = {}

    def add(self, origin: int, frag: dict[str, Any]) -> dict[str, Any] | None:
        """The whole payload once ``frag`` completes it, else None."""
        key = (origin, str(frag["f"]))
        parts = self._parts.setdefault(key, {})
        parts[int(frag["k"])] = base64.b64decode(frag["d"])
        if len(parts) < int(frag["n"]):
            while len(self._parts) > 64:
                self._parts.pop(next(iter(self._parts)))
            return None
        del self._parts[key]
        value = json.loads(zlib.decompress(b"".join(parts[k] for k in sorted(parts))))
        return value if isinstance(value, dict) else None
