from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from defib.cluster.auth import PacketCodec, keygen, load_key
from defib.errors import AuthError

KEY = os.urandom(64)


def pair(encrypt: bool = False) -> tuple[PacketCodec, PacketCodec]:
    return (PacketCodec(KEY, 1, {1, 2}, encrypt), PacketCodec(KEY, 2, {1, 2}, encrypt))


def to2(codec: PacketCodec, body: bytes, link: int = 0) -> bytes:
    return codec.seal(body, 2, link)


def test_round_trip_plain_and_encrypted() -> None:
    for encrypt in (False, True):
        a, b = pair(encrypt)
        opened = b.open(to2(a, b"hello"), 0)
        assert opened is not None and opened.sender == 1 and opened.body == b"hello"
        packet = to2(a, b"secret")
        assert (b"secret" in packet) is not encrypt


def test_wrong_key_and_tampering_are_counted() -> None:
    a, b = pair()
    stranger = PacketCodec(os.urandom(64), 1, {1, 2})
    assert b.open(to2(stranger, b"x"), 0) is None
    packet = bytearray(to2(a, b"payload"))
    packet[-40] ^= 0xFF
    assert b.open(bytes(packet), 0) is None
    assert b.open(b"garbage", 0) is None
    assert b.stats["rx_bad_auth"] == 2 and b.stats["rx_malformed"] == 1


def test_replay_unknown_sender_and_stale_are_counted() -> None:
    a, b = pair()
    packet = to2(a, b"once")
    assert b.open(packet, 0) is not None
    assert b.open(packet, 0) is None
    outsider = PacketCodec(KEY, 7, {1, 2, 7})
    assert b.open(to2(outsider, b"x"), 0) is None
    old = PacketCodec(KEY, 1, {1, 2}, clock=lambda: 1000.0)
    assert b.open(to2(old, b"x"), 0) is None
    assert b.stats["rx_replayed"] == 1
    assert b.stats["rx_unknown_sender"] == 1
    assert b.stats["rx_stale"] == 1


def test_reordered_packets_within_window_are_accepted() -> None:
    a, b = pair()
    first, second = to2(a, b"1"), to2(a, b"2")
    assert b.open(second, 0) is not None and b.open(first, 0) is not None


def test_plaintext_refused_when_encryption_is_configured() -> None:
    plain = PacketCodec(KEY, 1, {1, 2})
    secure = PacketCodec(KEY, 2, {1, 2}, encrypt=True)
    assert secure.open(to2(plain, b"x"), 0) is None
    assert secure.stats["rx_unencrypted"] == 1


def test_keygen_mode_and_unsafe_key_refused(tmp_path: Path) -> None:
    path = keygen(tmp_path / "authkey")
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(load_key(path)) == 64
    with pytest.raises(AuthError, match="already exists"):
        keygen(path)
    path.chmod(0o640)
    with pytest.raises(AuthError, match="group/others"):
        load_key(path)
    with pytest.raises(AuthError, match="cannot read"):
        load_key(tmp_path / "missing")


def test_packet_for_one_node_is_refused_by_another_and_on_another_link() -> None:
    known = {1, 2, 3}
    a, b, c = (PacketCodec(KEY, i, known) for i in (1, 2, 3))
    packet = a.seal(b"to two on link0", 2, 0)
    assert c.open(packet, 0) is None, "captured on its way to node2, replayed to node3"
    assert b.open(packet, 1) is None, "captured on link0, injected on link1"
    assert c.stats["rx_misdirected"] == 1 and b.stats["rx_misdirected"] == 1
    assert b.open(packet, 0) is not None, "the genuine delivery still works"
    # Flipping the receiver byte breaks the HMAC: the binding cannot be edited away.
    forged = bytearray(packet)
    forged[12] = 3
    assert c.open(bytes(forged), 0) is None and c.stats["rx_bad_auth"] == 1


def test_one_sequence_space_per_sender_receiver_pair() -> None:
    known = {1, 2, 3}
    a, b = PacketCodec(KEY, 1, known), PacketCodec(KEY, 2, known)
    first = b.open(a.seal(b"x", 2, 0), 0)
    for _ in range(3 * 1024):  # much traffic to node3 leaves node2's sequence dense
        a.seal(b"y", 3, 0)
    second = b.open(a.seal(b"x", 2, 1), 1)
    assert first is not None and second is not None and second.seq == first.seq + 1


def test_clock_offset_is_measured_and_a_node_too_far_off_is_refused() -> None:
    known = {1, 2, 3}
    local = PacketCodec(KEY, 2, known, max_offset=30.0)
    ahead = PacketCodec(KEY, 1, known, clock=lambda: time.time() + 5.0)
    behind = PacketCodec(KEY, 3, known, clock=lambda: time.time() - 60.0)
    assert local.open(ahead.seal(b"x", 2, 0), 0) is not None
    offset = local.offset(1)
    assert offset is not None and 4.9 < offset <= 5.0
    assert local.open(behind.seal(b"x", 2, 0), 0) is None
    far = local.offset(3)
    assert far is not None and -60.1 < far < -59.9
    assert local.stats["rx_stale"] == 1 and local.stale_from[3] == 1
    assert local.offset(99) is None


def test_non_finite_timestamp_and_replays_do_not_count_as_clock_samples() -> None:
    a, b = pair()
    nan = PacketCodec(KEY, 1, {1, 2}, clock=lambda: float("nan"))
    assert b.open(nan.seal(b"x", 2, 0), 0) is None and b.stats["rx_malformed"] == 1
    assert b.offset(1) is None
    packet = a.seal(b"x", 2, 0)
    assert b.open(packet, 0) is not None
    assert b.open(packet, 0) is None and b.stats["rx_replayed"] == 1
    assert b.stale_from[1] == 0
