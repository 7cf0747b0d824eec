"""Whole DCs on the in-memory layer with a fake clock, fake agents and a scripted fencer:
crashes, fencing failures, operation failures, a DC change and a configuration change in
the middle of a transition. No daemon, socket or file; each test takes milliseconds of real
time while the cluster lives through seconds or minutes of fake time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from defib.controller.harness import cib_xml, fence_device, primitive
from defib.controller.inmemory import MemoryCluster
from defib.controller.observe import node_attributes
from defib.executor.types import OcfRc


def dummy(rsc: str, monitor: str | None = "10s") -> str:
    return primitive(rsc, "ocf", "Dummy", "heartbeat", monitor=monitor)


def prefer(rsc: str, node: str, score: int = 100) -> str:
    return f'<rsc_location id="loc-{rsc}-{node}" rsc="{rsc}" node="{node}" score="{score}"/>'


def run(cluster: MemoryCluster, scenario: Callable[[MemoryCluster], Awaitable[None]]) -> None:
    async def main() -> None:
        await cluster.start()
        try:
            await scenario(cluster)
        finally:
            await cluster.stop()

    asyncio.run(main())


def index(cluster: MemoryCluster, node: str, what: str) -> int:
    """Where in the world's history ``what`` happened on ``node`` (first time)."""
    return next(i for i, e in enumerate(cluster.world.events)
                if e.node == node and e.what == what)


def test_node_crash_is_fenced_then_recovered() -> None:
    async def scenario(c: MemoryCluster) -> None:
        assert c.dc == "node1"
        await c.load(cib_xml(fence_device() + dummy("d1"), prefer("d1", "node3")))
        await c.clock.run_until(lambda: c.settled({"d1": "node3"}), 30, "d1 on node3")
        await c.crash("node3")
        took = await c.clock.run_until(
            lambda: c.world.where("d1") in (["node1"], ["node2"])
            and c.status_locations()["d1"] == c.world.where("d1"), 30, "d1 recovered")
        survivor = c.world.where("d1")[0]
        # Fenced first (which powered node3 and d1 off), only then started elsewhere.
        assert index(c, "node1", "fence node3") < index(c, survivor, "start d1")
        assert c.fencer.attempts == [(c.fencer.attempts[0][0], "node1", "node3")]
        assert took < 1.0  # fake seconds: nothing waited for a timer
        state = c.states["node1"]
        assert "node3" in state["fenced"] and state["fencing"] == {}
        assert c.observers["node1"].fencing_failures == []
        # Every transition was saved, input and graph, numbered in order.
        series = c.series["node1"].files
        numbers = sorted(n for kind, n in series if kind == "input")
        assert numbers == list(range(len(numbers))) and len(numbers) >= 2
        assert all(("graph", n) in series for n in numbers)

    run(MemoryCluster(3), scenario)


def test_fencing_failure_backs_off_then_success_recovers() -> None:
    async def scenario(c: MemoryCluster) -> None:
        await c.load(cib_xml(fence_device() + dummy("d1"), prefer("d1", "node3")))
        await c.clock.run_until(lambda: c.settled({"d1": "node3"}), 30, "d1 on node3")
        runs_before = c.controllers["node1"].scheduler_runs
        await c.crash("node3")
        await c.clock.run_until(lambda: len(c.fencer.attempts) == 2, 30, "two attempts")
        # While fencing fails, every node shows why, and d1 runs nowhere else.
        for name in ("node1", "node2"):
            view = c.controllers[name].fencing.view["node3"]
            assert view["attempts"] == 1 or view["attempts"] == 2
            assert "no device can fence node3" in view["reason"] and not view["gave_up"]
        assert c.world.where("d1") == ["node3"]
        await c.clock.run_until(lambda: c.world.where("d1") in (["node1"], ["node2"]), 60,
                                "d1 recovered")
        times = [t for t, _, _ in c.fencer.attempts]
        gaps = [round(b - a, 2) for a, b in zip(times, times[1:], strict=False)]
        assert len(times) == 4 and gaps == [1.0, 2.0, 4.0]  # the back-off, on the fake clock
        assert index(c, "node1", "fence node3") < index(c, c.world.where("d1")[0], "start d1")
        assert c.controllers["node2"].fencing.view == {}  # the success was published
        # The history hook heard of each failed attempt, with its reason.
        assert c.observers["node1"].fencing_failures == [
            ("node3", "no device can fence node3")] * 3
        # Retries happen inside the transition: no scheduler run per attempt.
        assert c.controllers["node1"].scheduler_runs - runs_before < 10

    run(MemoryCluster(3, fence_failures=3), scenario)


def test_fencing_that_never_works_gives_up_at_a_bounded_rate() -> None:
    async def scenario(c: MemoryCluster) -> None:
        await c.load(cib_xml(fence_device() + dummy("d1"), prefer("d1", "node3"),
                             {"stonith-max-attempts": "3"}))
        await c.clock.run_until(lambda: c.settled({"d1": "node3"}), 30, "d1 on node3")
        await c.crash("node3")
        await c.clock.run_until(lambda: c.fencing_gave_up("node3"), 60, "the give-up")
        runs = c.controllers["node1"].scheduler_runs
        await c.clock.run_for(600.0)  # ten quiet minutes later
        assert len(c.fencer.attempts) == 3
        assert c.controllers["node1"].scheduler_runs - runs <= 2  # a recheck, no loop
        view = c.controllers["node2"].fencing.view["node3"]
        assert view["gave_up"] and view["max_attempts"] == 3
        assert c.world.where("d1") == ["node3"]  # never started twice

    run(MemoryCluster(3, fence_failures=99), scenario)


def test_monitor_failure_is_recovered_in_place_and_counted() -> None:
    async def scenario(c: MemoryCluster) -> None:
        await c.load(cib_xml(fence_device() + dummy("d1"), prefer("d1", "node2")))
        await c.clock.run_until(lambda: c.settled({"d1": "node2"}), 30, "d1 on node2")
        c.world.failures[("node2", "d1", "monitor")] = int(OcfRc.NOT_RUNNING)
        took = await c.clock.run_until(
            lambda: len([e for e in c.world.events if e.what == "start d1"]) == 2
            and c.settled({"d1": "node2"}), 30, "d1 restarted")
        assert 9.0 <= took <= 11.0  # found by the next 10 s monitor, restarted at once
        assert index(c, "node2", "stop d1") > index(c, "node2", "start d1")
        attrs = node_attributes(c.node().cib.copy.xml)["node2"]
        assert attrs["fail-count-d1#monitor_10000"] == "1"
        assert c.fencer.attempts == []

    run(MemoryCluster(3), scenario)


def test_dc_crash_mid_transition_new_dc_finishes_the_work() -> None:
    async def scenario(c: MemoryCluster) -> None:
        c.world.durations["start"] = 2.0
        resources = fence_device() + dummy("d1") + dummy("d2") + dummy("d3")
        await c.load(cib_xml(resources, prefer("d1", "node1") + prefer("d2", "node2")
                             + prefer("d3", "node3")))
        await c.clock.run_until(lambda: any(k for k in c.controllers["node1"].waiting),
                                30, "starts in flight")
        await c.crash("node1")
        await c.clock.run_until(lambda: c.dc == "node2", 10, "node2 DC")
        await c.clock.run_until(
            lambda: c.settled({"d2": "node2", "d3": "node3"})
            and c.world.where("d1") in (["node2"], ["node3"]), 60, "all running")
        assert any(target == "node1" and fencer == "node2"
                   for _, fencer, target in c.fencer.attempts)
        assert c.world.where("fence-local") in (["node2"], ["node3"])
        assert c.controllers["node2"].transition_id >= 0

    run(MemoryCluster(3), scenario)


def test_configuration_change_during_a_transition_aborts_it_and_is_honoured() -> None:
    async def scenario(c: MemoryCluster) -> None:
        c.world.durations["start"] = 1.0
        await c.load(cib_xml(fence_device() + dummy("d1") + dummy("d2"),
                             prefer("d1", "node2") + prefer("d2", "node2")))
        await c.clock.run_until(lambda: bool(c.controllers["node1"].waiting), 30,
                                "starts in flight")
        moved = cib_xml(fence_device() + dummy("d1") + dummy("d2"),
                        prefer("d1", "node3") + prefer("d2", "node2"))
        await c.change({"op": "replace", "xml": moved})
        await c.clock.run_until(lambda: c.settled({"d1": "node3", "d2": "node2"}), 60,
                                "the new placement")
        ended = c.observers["node1"].ended
        assert any(not complete for _, complete in ended)  # the old graph was aborted
        assert [e.what for e in c.world.events].count("start d2") == 1

    run(MemoryCluster(3), scenario)


def test_a_peer_fences_when_the_dc_cannot_reach_the_device() -> None:
    async def scenario(c: MemoryCluster) -> None:
        await c.load(cib_xml(fence_device() + dummy("d1"),
                             prefer("d1", "node3") + prefer("fence-local", "node1", -1000000)))
        await c.clock.run_until(lambda: c.settled({"d1": "node3"}), 30, "d1 on node3")
        await c.crash("node3")
        await c.clock.run_until(lambda: c.world.where("d1") in (["node1"], ["node2"]), 30,
                                "d1 recovered")
        # The DC (node1) has no cable to the device: node2 ran it, the DC recorded it.
        assert [(me, target) for _, me, target in c.fencer.attempts] == [("node2", "node3")]
        assert index(c, "node2", "fence node3") < index(c, c.world.where("d1")[0], "start d1")
        assert "node3" in c.states["node1"]["fenced"]

    run(MemoryCluster(3), scenario)


def test_no_member_with_a_device_for_the_target_fails_and_says_why() -> None:
    async def scenario(c: MemoryCluster) -> None:
        banned = prefer("fence-local", "node1", -1000000) + prefer("fence-local", "node2",
                                                                   -1000000)
        await c.load(cib_xml(fence_device() + dummy("d1"), prefer("d1", "node3") + banned))
        await c.clock.run_until(lambda: c.settled({"d1": "node3"}), 30, "d1 on node3")
        await c.crash("node3")
        await c.clock.run_until(lambda: "node3" in c.controllers["node2"].fencing.view, 30,
                                "a failed attempt")
        view = c.controllers["node2"].fencing.view["node3"]
        assert "no fence device can fence node3" in view["reason"]
        assert c.fencer.attempts[0][1:] == ("node1", "node3")  # the DC tried, with nothing
        assert c.world.where("d1") == ["node3"]

    run(MemoryCluster(3), scenario)


def test_a_failing_device_on_the_dc_then_a_peer_device_in_the_same_attempt() -> None:
    async def scenario(c: MemoryCluster) -> None:
        c.fencer.broken.add("f-dc")
        devices = fence_device("f-dc") + fence_device("f-peer")
        only = (prefer("f-dc", "node2", -1000000) + prefer("f-dc", "node3", -1000000)
                + prefer("f-peer", "node1", -1000000) + prefer("f-peer", "node3", -1000000))
        await c.load(cib_xml(devices + dummy("d1"), prefer("d1", "node3") + only))
        await c.clock.run_until(lambda: c.settled({"d1": "node3"}), 30, "d1 on node3")
        await c.crash("node3")
        await c.clock.run_until(lambda: c.world.where("d1") in (["node1"], ["node2"]), 30,
                                "d1 recovered")
        (t1, first, _), (t2, second, _) = c.fencer.attempts
        assert (first, second) == ("node1", "node2") and t1 == t2  # no back-off between
        assert c.controllers["node1"].fencing.policy.targets == {}  # not a failed attempt

    run(MemoryCluster(3), scenario)


def test_manual_fencing_and_a_transient_attribute_through_the_dc() -> None:
    async def scenario(c: MemoryCluster) -> None:
        await c.load(cib_xml(fence_device() + dummy("d1"), prefer("d1", "node2")))
        await c.clock.run_until(lambda: c.settled({"d1": "node2"}), 30, "d1 on node2")
        # Any node asks the DC; the attribute is written by the DC and moves d1.
        c.controllers["node3"].request_attribute("node2", "standby", "on")
        await c.clock.run_until(lambda: c.world.where("d1") in (["node1"], ["node3"]), 30,
                                "d1 moved off the standby node")
        assert node_attributes(c.node().cib.copy.xml)["node2"]["standby"] == "on"
        where = c.world.where("d1")[0]
        # stonith_admin --fence from a node that is not the DC: the DC runs it, answers.
        answer = asyncio.ensure_future(c.controllers["node3"].request_fencing("node2"))
        await c.clock.run_until(answer.done, 30, "the answer")
        assert answer.result() == {"message": "node2 fenced (reboot) by the DC node1"}
        assert c.fencer.attempts[-1][1:] == ("node1", "node2")
        assert c.world.where("d1") == [where]  # nothing ran on node2

    run(MemoryCluster(3), scenario)


def test_fencing_the_dc_on_request_is_run_by_a_peer() -> None:
    async def scenario(c: MemoryCluster) -> None:
        await c.load(cib_xml(fence_device() + dummy("d1"), prefer("d1", "node1")))
        await c.clock.run_until(lambda: c.settled({"d1": "node1"}), 30, "d1 on node1")
        assert c.dc == "node1"
        # stonith_admin --fence <the DC>: as Pacemaker's fencer, a peer runs it and answers.
        answer = asyncio.ensure_future(c.controllers["node3"].request_fencing("node1"))
        await c.clock.run_until(answer.done, 30, "the answer")
        assert answer.result() == {"message": "node1 fenced (reboot) by node2"}
        assert c.fencer.attempts[-1][1:] == ("node2", "node1")
        assert c.world.where("d1") == []  # powered off with its node
        await c.crash("node1")  # what the power cut does to its daemon
        await c.clock.run_until(lambda: c.dc in ("node2", "node3")
                                and c.world.where("d1") in (["node2"], ["node3"]), 60,
                                "a new DC recovered d1")

    run(MemoryCluster(3), scenario)


def test_a_failed_start_moves_the_resource_and_bans_the_node() -> None:
    async def scenario(c: MemoryCluster) -> None:
        c.world.failures[("node2", "d1", "start")] = int(OcfRc.UNKNOWN_ERROR)
        await c.load(cib_xml(fence_device() + dummy("d1"), prefer("d1", "node2")))
        await c.clock.run_until(lambda: c.world.where("d1") in (["node1"], ["node3"])
                                and c.status_locations()["d1"] == c.world.where("d1"), 30,
                                "d1 started elsewhere")
        # start-failure-is-fatal: the fail count is INFINITY, the failed start is stopped.
        attrs = node_attributes(c.node().cib.copy.xml)["node2"]
        assert attrs["fail-count-d1#start_0"] == "INFINITY"
        assert index(c, "node2", "start d1 rc=1") < index(c, "node2", "stop d1")
        first_number, complete = c.observers["node1"].ended[0]
        assert not complete  # the transition with the failed start was aborted
        assert c.states["node1"]["transition"] > first_number

    run(MemoryCluster(3), scenario)


def test_a_fenced_node_restarts_rejoins_is_probed_and_takes_its_resource_back() -> None:
    async def scenario(c: MemoryCluster) -> None:
        await c.load(cib_xml(fence_device() + dummy("d1"), prefer("d1", "node3")))
        await c.clock.run_until(lambda: c.settled({"d1": "node3"}), 30, "d1 on node3")
        await c.crash("node3")
        await c.clock.run_until(lambda: c.world.where("d1") in (["node1"], ["node2"]), 30,
                                "d1 recovered")
        saved = c.stores["node3"].saved
        assert saved is not None and 'rsc="d1"' in saved.xml  # its CIB survived the crash
        await c.restart("node3")
        await c.clock.run_until(lambda: c.formed() and c.settled({"d1": "node3"}), 30,
                                "d1 back on node3")
        restarted = index(c, "node3", "restarted")
        # Probed after the restart (it has no history), then d1 moved back: stop first.
        probe = next(i for i, e in enumerate(c.world.events)
                     if i > restarted and e.node == "node3" and e.what == "monitor d1 rc=7")
        stops = [i for i, e in enumerate(c.world.events) if e.what == "stop d1"]
        assert probe < stops[-1] < len(c.world.events) - 1
        assert (c.world.events[-1].node, c.world.events[-1].what) == ("node3", "start d1")
        assert c.fencer.attempts[-1][2] == "node3" and len(c.fencer.attempts) == 1

    run(MemoryCluster(3), scenario)
