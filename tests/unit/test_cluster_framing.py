"""Packet bodies: one JSON encoding per message, batches within a datagram."""

from __future__ import annotations

import asyncio
import json

from defib.cluster.framing import (
    COMPRESS_ABOVE,
    LOSSY_FOR,
    PACKET_BUDGET,
    Batcher,
    Reassembler,
    decode,
    encode,
    encode_with_payload,
    fragments,
    pack,
    unpack,
)


def test_a_spliced_payload_decodes_as_the_whole_message() -> None:
    payload = {"t": "cib-req", "r": "1:2:3", "c": {"op": "patch_status", "xml": "<a/>"}}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    head = {"t": "ord", "v": [4, 1], "s": 7, "o": 2, "u": "2:9:1", "i": 99}
    assert decode(encode_with_payload(head, raw)) == {**head, "p": payload}
    assert decode(encode_with_payload({}, raw)) == {"p": payload}


def test_small_bodies_are_not_compressed_large_ones_are() -> None:
    small = encode({"t": "hb", "r": [1, 2]})
    large = encode({"x": "<lrm_resource/>" * (COMPRESS_ABOVE // 10)})
    assert small[:1] == b"J" and large[:1] == b"Z"
    assert len(large) < COMPRESS_ABOVE
    assert decode(large) == {"x": "<lrm_resource/>" * (COMPRESS_ABOVE // 10)}


def test_bodies_are_batched_in_order_within_the_packet_budget() -> None:
    bodies = [encode({"n": i, "pad": "x" * 3000}) for i in range(50)]
    packets = pack(bodies)
    assert 1 < len(packets) < len(bodies)
    assert all(len(p) <= PACKET_BUDGET for p in packets)
    out = [body for p in packets for body in unpack(p) or []]
    assert out == bodies
    # A lone body travels as it is (what every older peer reads too).
    assert pack([bodies[0]]) == [bodies[0]]
    assert unpack(bodies[0]) == [bodies[0]]


def test_a_batch_cut_short_is_malformed() -> None:
    packet = pack([encode({"a": 1}), encode({"b": 2})])[0]
    assert unpack(packet[:-3]) is None
    assert unpack(packet[:3]) is None
    assert decode(b"Znot zlib") is None and decode(b"Q{}") is None


def test_the_batcher_sends_one_packet_per_peer_and_turn_on_the_preferred_link() -> None:
    sent: list[tuple[int, int | None, list[bytes] | None]] = []
    now = [0.0]
    batcher = Batcher(lambda peer, link, packet: sent.append((peer, link, unpack(packet))),
                      lambda peer, at: 0, lambda: now[0])

    async def scenario() -> None:
        for i in range(5):
            batcher.post(2, encode({"n": i}))
        batcher.post(3, encode({"n": 9}), every_link=True)
        assert not sent, "nothing leaves before the end of the loop's turn"
        await asyncio.sleep(0)
        assert [(peer, link, len(bodies or [])) for peer, link, bodies in sent] == [
            (2, 0, 5), (3, None, 1)]
        # A peer that showed loss gets the stream on every link for a while.
        sent.clear()
        batcher.lossy(2)
        batcher.post(2, encode({"n": 10}))
        await asyncio.sleep(0)
        now[0] += LOSSY_FOR + 0.1
        batcher.post(2, encode({"n": 11}))
        await asyncio.sleep(0)
        assert [(peer, link) for peer, link, _ in sent] == [(2, None), (2, 0)]
        assert batcher.bodies == 8 and batcher.packets == 4

    asyncio.run(scenario())


def test_a_large_payload_travels_as_fragments_and_is_put_back_together() -> None:
    import os
    payload = {"t": "cib-full", "x": os.urandom(60000).hex()}  # incompressible: 120 kB
    raw = json.dumps(payload, separators=(",", ":")).encode()
    parts = fragments(raw, "7:1")
    assert parts is not None and len(parts) >= 2
    assert fragments(json.dumps({"small": 1}).encode(), "7:2") is None
    again = Reassembler()
    assert all(again.add(2, part) is None for part in reversed(parts[1:]))
    assert again.add(2, parts[0]) == payload
