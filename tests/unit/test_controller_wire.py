"""Typed controller messages: every one survives the wire, malformed ones are refused."""

from __future__ import annotations

import json

import pytest

from defib.controller import wire

MESSAGES: list[wire.Message] = [
    wire.LrmReport("node2", "<lrm/>"), wire.Forget("node2", "web"), wire.Forget("node3"),
    wire.CleanupRequest("web", None), wire.CleanupRequest(),
    wire.AttrRequest("node1", "standby", "on"), wire.AttrRequest("node1", "standby", None),
    wire.FenceRequest("node3", "confirm", "node1:7:u"),
    wire.FenceAnswer("node1:7:u", False, "node3 is a member of the cluster", "node1"),
    wire.FencingState("node1", {"node3": {"attempts": 2, "gave_up": False}}),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_round_trip_through_json(message: wire.Message) -> None:
    raw = json.loads(json.dumps(message.to_wire()))
    assert wire.decode(raw) == message


def test_unknown_and_malformed_payloads() -> None:
    assert wire.decode({"t": "crmd-res", "node": "n"}) is None  # not typed here (yet)
    assert wire.decode({"t": wire.ATTR, "node": "n"}) is None  # no name
    assert wire.decode({}) is None
