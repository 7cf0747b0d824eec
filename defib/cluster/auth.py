"""Cluster key and packet protection: HMAC-SHA256 on every packet, optional AES-GCM, replay guard.

Wire format (big endian)::

    magic "DFB1" | flags u8 | sender u32 | seq u64 | timestamp f64 | body ... | hmac[32]

``seq`` starts at the sender's boot time in microseconds and only grows, so a restarted
daemon is not mistaken for a replay. The HMAC covers everything before it. With encryption
the body is ``nonce[12] | AES-GCM(body)`` with the header as associated data.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import struct
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from defib.errors import AuthError

MAGIC = b"DFB1"
HEADER = struct.Struct("!4sBIQd")
MAC_LEN = 32
FLAG_ENCRYPTED = 1
KEY_BYTES = 64
REPLAY_WINDOW_S = 30.0
SEQ_WINDOW = 1024


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
    """Seals outgoing packets and opens incoming ones, counting what it drops."""

    def __init__(
        self,
        key: bytes,
        local_id: int,
        known: set[int],
        encrypt: bool = False,
        clock: object = time.time,
    ) -> None:
        self._mac_key = _derive(key, b"mac")
        self._aead = AESGCM(_derive(key, b"enc")) if encrypt else None
        self._local = local_id
        self._known = known
        self._clock = clock
        self._seq = int(time.time() * 1_000_000)
        # Per sender: highest seq seen and the recent seqs (packets on several links reorder).
        self._high: dict[int, int] = {}
        self._recent: dict[int, set[int]] = {}
        self.stats: Counter[str] = Counter()

    def _now(self) -> float:
        return float(self._clock())  # type: ignore[operator]

    def seal(self, body: bytes) -> bytes:
        self._seq += 1
        flags = FLAG_ENCRYPTED if self._aead else 0
        header = HEADER.pack(MAGIC, flags, self._local, self._seq, self._now())
        if self._aead is not None:
            nonce = os.urandom(12)
            body = nonce + self._aead.encrypt(nonce, body, header)
        packet = header + body
        self.stats["tx_packets"] += 1
        return packet + hmac.new(self._mac_key, packet, hashlib.sha256).digest()

    def open(self, packet: bytes) -> Opened | None:
        """Return the checked packet, or None (and count why) when it must be dropped."""
        if len(packet) < HEADER.size + MAC_LEN or packet[:4] != MAGIC:
            self.stats["rx_malformed"] += 1
            return None
        data, mac = packet[:-MAC_LEN], packet[-MAC_LEN:]
        magic, flags, sender, seq, ts = HEADER.unpack_from(data)
        if not hmac.compare_digest(mac, hmac.new(self._mac_key, data, hashlib.sha256).digest()):
            self.stats["rx_bad_auth"] += 1
            return None
        if sender not in self._known or sender == self._local:
            self.stats["rx_unknown_sender"] += 1
            return None
        if abs(self._now() - ts) > REPLAY_WINDOW_S:
            self.stats["rx_stale"] += 1
            return None
        if not self._fresh(sender, seq):
            self.stats["rx_replayed"] += 1
            return None
        body = data[HEADER.size:]
        if flags & FLAG_ENCRYPTED:
            if self._aead is None:
                self.stats["rx_unexpected_encryption"] += 1
                return None
            try:
                body = self._aead.decrypt(body[:12], body[12:], data[: HEADER.size])
            except InvalidTag:
                self.stats["rx_bad_auth"] += 1
                return None
        elif self._aead is not None:
            self.stats["rx_unencrypted"] += 1
            return None
        self.stats["rx_packets"] += 1
        return Opened(sender, seq, ts, body)

    def _fresh(self, sender: int, seq: int) -> bool:
        high = self._high.get(sender, 0)
        recent = self._recent.setdefault(sender, set())
        if seq <= high - SEQ_WINDOW or seq in recent:
            return False
        recent.add(seq)
        if seq > high:
            self._high[sender] = seq
            if len(recent) > 2 * SEQ_WINDOW:
                floor = seq - SEQ_WINDOW
                self._recent[sender] = {s for s in recent if s > floor}
        return True
