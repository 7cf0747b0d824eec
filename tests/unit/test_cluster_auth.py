from __future__ import annotations

import os
from pathlib import Path

import pytest

from defib.cluster.auth import PacketCodec, keygen, load_key
from defib.errors import AuthError

KEY = os.urandom(64)


def pair(encrypt: bool = False) -> tuple[PacketCodec, PacketCodec]:
    return (PacketCodec(KEY, 1, {1, 2}, encrypt), PacketCodec(KEY, 2, {1, 2}, encrypt))


def test_round_trip_plain_and_encrypted() -> None:
    for encrypt in (False, True):
        a, b = pair(encrypt)
        opened = b.open(a.seal(b"hello"))
        assert opened is not None and opened.sender == 1 and opened.body == b"hello"
        packet = a.seal(b"secret")
        assert (b"secret" in packet) is not encrypt


def test_wrong_key_and_tampering_are_counted() -> None:
    a, b = pair()
    stranger = PacketCodec(os.urandom(64), 1, {1, 2})
    assert b.open(stranger.seal(b"x")) is None
    packet = bytearray(a.seal(b"payload"))
    packet[-40] ^= 0xFF
    assert b.open(bytes(packet)) is None
    assert b.open(b"garbage") is None
    assert b.stats["rx_bad_auth"] == 2 and b.stats["rx_malformed"] == 1


def test_replay_unknown_sender_and_stale_are_counted() -> None:
    a, b = pair()
    packet = a.seal(b"once")
    assert b.open(packet) is not None
    assert b.open(packet) is None
    outsider = PacketCodec(KEY, 7, {1, 2, 7})
    assert b.open(outsider.seal(b"x")) is None
    old = PacketCodec(KEY, 1, {1, 2}, clock=lambda: 1000.0)
    assert b.open(old.seal(b"x")) is None
    assert b.stats["rx_replayed"] == 1
    assert b.stats["rx_unknown_sender"] == 1
    assert b.stats["rx_stale"] == 1


def test_reordered_packets_within_window_are_accepted() -> None:
    a, b = pair()
    first, second = a.seal(b"1"), a.seal(b"2")
    assert b.open(second) is not None and b.open(first) is not None


def test_plaintext_refused_when_encryption_is_configured() -> None:
    plain = PacketCodec(KEY, 1, {1, 2})
    secure = PacketCodec(KEY, 2, {1, 2}, encrypt=True)
    assert secure.open(plain.seal(b"x")) is None
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
