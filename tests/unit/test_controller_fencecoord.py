"""The DC's fencing coordinator on a fake clock: failures then success, give-up, a new
device, a node's return, an abort during the back-off (milliseconds, no daemons)."""

from __future__ import annotations

import asyncio
from typing import Any

from defib.controller import wire
from defib.controller.cibinput import parse_input
from defib.controller.fencecoord import FencingCoordinator
from defib.controller.fencing import FencingPolicy
from defib.controller.harness import cib_xml, fence_device
from defib.graph.executor import OutcomeStatus
from defib.scheduler.pipeline import unpack


class World:
    """A fake clock, a fencer that fails a given number of times, and what was broadcast."""

    def __init__(self, failures: int) -> None:
        self.now = 1000.0
        self.failures = failures
        self.attempts: list[float] = []
        self.sent: list[dict[str, Any]] = []
        self.logged: list[str] = []
        self.policy = FencingPolicy(clock=lambda: self.now, wall=lambda: self.now)
        self.coord = FencingCoordinator("node1", self.sent.append, self._log, self.policy)

    def _log(self, level: int, msg: str, *args: object) -> None:
        self.logged.append(msg % args)

    async def attempt(self) -> tuple[bool, str]:
        self.attempts.append(self.now)
        if len(self.attempts) <= self.failures:
            return False, "no fence device can fence node3"
        return True, ""

    async def wait(self, seconds: float) -> bool:
        self.now += seconds
        return True


def run(world: World, limit: int = 10) -> Any:
    return asyncio.run(world.coord.fence("node3", world.attempt, world.wait, limit))


def test_failures_are_retried_with_back_off_until_success() -> None:
    world = World(failures=3)
    outcome = run(world)
    assert outcome.ok
    assert [t - 1000.0 for t in world.attempts] == [0.0, 1.0, 3.0, 7.0]
    assert world.sent[-1] == {"t": wire.FENCING, "dc": "node1", "state": {}}
    assert world.coord.view == {} and world.coord.reasons() == {}
    assert "FENCING OF node3 FAILED (attempt 3 of 10)" in world.logged[2]


def test_give_up_after_the_limit_then_a_new_device_gives_a_new_chance() -> None:
    world = World(failures=99)
    outcome = run(world, limit=3)
    assert not outcome.ok and len(world.attempts) == 3
    assert world.coord.gave_up("node3")
    assert world.coord.view["node3"]["gave_up"] is True
    assert "GIVING UP" in world.logged[-1]
    again = run(world, limit=3)  # a new transition: no attempt at all
    assert not again.ok and "gave up fencing node3 after 3 attempts" in again.message
    assert len(world.attempts) == 3
    ws_without = unpack(parse_input(cib_xml("")), None)
    ws_with = unpack(parse_input(cib_xml(fence_device())), None)
    assert world.coord.configuration(ws_without) == []
    assert world.coord.configuration(ws_with) == ["node3"]
    assert not world.coord.gave_up("node3") and world.coord.view == {}


def test_a_node_back_forgets_its_failures() -> None:
    world = World(failures=99)
    run(world, limit=1)
    assert world.coord.nodes_back(["node1", "node3"]) == ["node3"]
    assert world.coord.view == {} and not world.coord.gave_up("node3")


def test_an_abort_during_the_back_off_cancels_without_an_attempt() -> None:
    world = World(failures=99)

    async def aborted(seconds: float) -> bool:
        return False

    async def scenario() -> Any:
        await world.coord.fence("node3", world.attempt, aborted, 10)  # fails once, waits
        return world

    asyncio.run(scenario())
    assert len(world.attempts) == 1
    outcome = asyncio.run(world.coord.fence("node3", world.attempt, aborted, 10))
    assert outcome.status is OutcomeStatus.CANCELLED and len(world.attempts) == 1


def test_every_node_shows_the_dc_broadcast() -> None:
    world = World(failures=99)
    run(world, limit=2)
    other = FencingCoordinator("node2", lambda _m: None, lambda *_a: None)
    message = wire.decode(world.sent[-1])
    assert isinstance(message, wire.FencingState) and message.dc == "node1"
    other.received(message.state)
    assert other.reasons() == {"node3": "no fence device can fence node3"}
