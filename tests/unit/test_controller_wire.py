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
    wire.OpSpec("node2", "web", "ocf", "Dummy", "heartbeat", "start", 0, 20000, {"a": "1"},
                {"on_node": "node2"}, "3:7:0:u"),
    wire.OpResult("node2", "web", "3:7:0:u", "web_start_0", "start", 0, 0, 0, "", False,
                  '<lrm_resource id="web"/>'),
    wire.OpResult("node2", "web", None, "web_monitor_10000", "monitor", 10000, 7, 0,
                  "not running", True, '<lrm_resource id="web"/>'),
    wire.ShutdownRequest("node2", 1_800_000_000.5), wire.Exit("node2"),
    wire.FenceExec("node1:1", "node2", "node3", "reboot", {"devices": [], "levels": [],
                                                           "timeout": 60.0}),
    wire.FenceExecDone("node1:1", "node2", "node3", "reboot", True, "", ["f1"], 80),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_round_trip_through_json(message: wire.Message) -> None:
    raw = json.loads(json.dumps(message.to_wire()))
    assert wire.decode(raw) == message


def test_unknown_and_malformed_payloads() -> None:
    assert wire.decode({"t": "crmd-res", "node": "n"}) is None  # no resource, no entry
    assert wire.decode({"t": wire.ATTR, "node": "n"}) is None  # no name
    assert wire.decode({}) is None


def test_which_failed_results_count() -> None:
    def result(action: str, interval: int, rc: int, failed: bool) -> wire.OpResult:
        return wire.OpResult("n", "r", None, "k", action, interval, rc, 0, "", failed, "")

    assert result("monitor", 10000, 7, True).counts_as_failure
    assert result("start", 0, 1, True).counts_as_failure
    assert not result("start", 0, 0, False).counts_as_failure
    # A probe that finds the resource stopped, running or promoted: information.
    assert not any(result("monitor", 0, rc, True).counts_as_failure for rc in (0, 7, 8))
    assert result("monitor", 0, 1, True).counts_as_failure
