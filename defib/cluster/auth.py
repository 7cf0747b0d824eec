"""Cluster key and packet protection: HMAC-SHA256 on every packet, optional AES-GCM, replay guard.

Wire format (big endian)::

    magic "DFB2" | flags u8 | sender u32 | receiver u32 | link u8 | seq u64 | timestamp f64
    | body ... | hmac[32]

The header binds the packet to one sender, one receiver and one link: a packet captured on its
way to one node is refused by every other node (``rx_misdirected``), and one captured on one
link cannot be injected on another (which would make a dead link look alive). ``seq`` counts
per (sender, receiver) pair, so each receiver sees one dense sequence space from each sender;
it starts at the sender's boot time in microseconds and only grows, so a restarted daemon is
not mistaken for a replay. The HMAC covers everything before it. With encryption the body is
``nonce[12] | AES-GCM(body)`` with the header as associated data.

The timestamp doubles as a clock probe: every authenticated packet tells how far the sender's
wall clock is from ours (minus the one-way delay, which is why the largest recent sample is
kept). Packets whose timestamp is more than ``max_offset`` away are refused (``rx_stale``):
that bounds how long a captured packet can be replayed to a receiver that restarted, and a
node whose clock is that far off is told so in the log by the layer above.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import stat
import struct
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from defib.errors import AuthError

MAGIC = b"DFB2"
HEADER = struct.Struct("!4sBIIBQd")
MAC_LEN = 32
FLAG_ENCRYPTED = 1
KEY_BYTES = 64
REPLAY_WINDOW_S = 30.0
SEQ_WINDOW = 1024
# Clock samples kept per sender (a few seconds of heartbeats on every link).
OFFSET_SAMPLES = 32


def keygen(path: Path, overwrite: bool = False) -> Path:
    """Create a random cluster key, mode 0600 (like corosync-keygen)."""
    if path.exists() and not overwrite:
        raise AuthError(f"key file {path} already exists", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, os.urandom(KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def load_key(path: Path) -> bytes:
    """Read the key; refuse it when group or others may read it."""
    try:
        st = path.stat()
    except OSError as exc:
        raise AuthError(f"cannot read key file {path}: {exc}", str(path)) from exc
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AuthError(
            f"key file {path} is accessible by group/others (mode {stat.S_IMODE(st.st_mode):o});"
            " run chmod 600",
            str(path),
        )
    data = path.read_bytes()
    if len(data) < 32:
        raise AuthError(f"key file {path} is too short ({len(data)} bytes, need >= 32)", str(path))
    return data


def _derive(key: bytes, label: bytes) -> bytes:
    return hmac.new(key, b"defib-cluster-" + label, hashlib.sha256).digest()


@dataclass
class Opened:
    sender: int
    seq: int
    timestamp: float
    body: bytes


class PacketCodec:
    """Seals outgoing packets and opens incoming ones, counting what it drops.

    ``clock`` is the wall clock stamped into packets and compared with theirs.
    """

    def __init__(
        self,
        key: bytes,
        local_id: int,
        known: set[int],
        encrypt: bool = False,
        clock: Callable[[], float] = time.time,
        max_offset: float = REPLAY_WINDOW_S,
    ) -> None:
        self._mac_key = _derive(key, b"mac")
        self._aead = AESGCM(_derive(key, b"enc")) if encrypt else None
        self._local = local_id
        self._known = known
        self._clock = clock
        self.max_offset = max_offset
        self._boot_seq = int(time.time() * 1_000_000)
        # Sending: the last seq per receiver. Receiving: per sender (the receiver being us, so
        # per pair) the highest seq seen and the recent seqs (several links reorder packets).
        self._seq: dict[int, int] = {}
        self._high: dict[int, int] = {}
        self._recent: dict[int, set[int]] = {}
        self._offsets: dict[int, deque[float]] = {}
        self.stale_from: Counter[int] = Counter()
        self.stats: Counter[str] = Counter()

    def seal(self, body: bytes, receiver: int, link: int) -> bytes:
        seq = self._seq.get(receiver, self._boot_seq) + 1
        self._seq[receiver] = seq
        flags = FLAG_ENCRYPTED if self._aead else 0
        header = HEADER.pack(MAGIC, flags, self._local, receiver, link, seq, self._clock())
        if self._aead is not None:
            nonce = os.urandom(12)
            body = nonce + self._aead.encrypt(nonce, body, header)
        packet = header + body
        self.stats["tx_packets"] += 1
        return packet + hmac.new(self._mac_key, packet, hashlib.sha256).digest()

    def open(self, packet: bytes, link: int) -> Opened | None:
        """Return the checked packet that arrived on ``link``, or None (and count why) when it
        must be dropped."""
        if len(packet) < HEADER.size + MAC_LEN or packet[:4] != MAGIC:
            self.stats["rx_malformed"] += 1
            return None
        data, mac = packet[:-MAC_LEN], packet[-MAC_LEN:]
        _magic, flags, sender, receiver, on_link, seq, ts = HEADER.unpack_from(data)
        if not hmac.compare_digest(mac, hmac.new(self._mac_key, data, hashlib.sha256).digest()):
            self.stats["rx_bad_auth"] += 1
            return None
        if sender not in self._known or sender == self._local:
            self.stats["rx_unknown_sender"] += 1
            return None
        if receiver != self._local or on_link != link:
            self.stats["rx_misdirected"] += 1
            return None
        # A replay is refused before its timestamp is read as a clock sample.
        if not self._fresh(sender, seq):
            self.stats["rx_replayed"] += 1
            return None
        if not self._clock_ok(sender, ts):
            return None
        self._remember(sender, seq)
        body = self._body(flags, data)
        if body is None:
            return None
        self.stats["rx_packets"] += 1
        return Opened(sender, seq, ts, body)

    def _body(self, flags: int, data: bytes) -> bytes | None:
        body = data[HEADER.size:]
        if flags & FLAG_ENCRYPTED:
            if self._aead is None:
                self.stats["rx_unexpected_encryption"] += 1
                return None
            try:
                return self._aead.decrypt(body[:12], body[12:], data[: HEADER.size])
            except InvalidTag:
                self.stats["rx_bad_auth"] += 1
                return None
        if self._aead is not None:
            self.stats["rx_unencrypted"] += 1
            return None
        return body

    def _clock_ok(self, sender: int, ts: float) -> bool:
        if not math.isfinite(ts):
            self.stats["rx_malformed"] += 1
            return False
        offset = ts - self._clock()
        samples = self._offsets.setdefault(sender, deque(maxlen=OFFSET_SAMPLES))
        samples.append(offset)
        if abs(offset) > self.max_offset:
            self.stats["rx_stale"] += 1
            self.stale_from[sender] += 1
            return False
        return True

    def offset(self, sender: int) -> float | None:
        """How far (seconds) the sender's clock is ahead of ours, from its recent packets.

        Each sample is the true offset minus the packet's delay, so the largest is the best."""
        samples = self._offsets.get(sender)
        return max(samples) if samples else None

    def _fresh(self, sender: int, seq: int) -> bool:
        high = self._high.get(sender, 0)
        return not (seq <= high - SEQ_WINDOW or seq in self._recent.get(sender, ()))

    def _remember(self, sender: int, seq: int) -> None:
        high = self._high.get(sender, 0)
        recent = self._recent.setdefault(sender, set())
        recent.add(seq)
        if seq > high:
            self._high[sender] = seq
            if len(recent) > 2 * SEQ_WINDOW:
                floor = seq - SEQ_WINDOW
                self._recent[sender] = {s for s in recent if s > floor}
