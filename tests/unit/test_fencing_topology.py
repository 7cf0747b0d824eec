"""Fencer decisions with a fake agent runner: which devices, levels, remapped reboots,
host maps, merged requests."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from defib.fencing import AgentRun, FenceDevice, FencingLevel, LocalFencer


class FakeRunner:
    def __init__(self, failing: frozenset[str] | set[str] = frozenset(),
                 delay: float = 0.0) -> None:
        self.failing = failing
        self.delay = delay
        self.calls: list[tuple[str, str, str | None, float]] = []

    async def run(self, agent: str, action: str, params: Mapping[str, str], timeout_s: float,
                  target: str | None = None, plug: str | None = None) -> AgentRun:
        self.calls.append((params.get("id", agent), action, plug, timeout_s))
        if self.delay:
            await asyncio.sleep(self.delay)
        rc = 1 if params.get("id") in self.failing else 0
        return AgentRun(agent, action, rc, False, "", "Failed: nope" if rc else "", 1)


def dev(name: str, **params: str) -> FenceDevice:
    return FenceDevice(name, "fence_fake", {"id": name, **params})


def test_no_topology_tries_capable_devices_by_priority() -> None:
    runner = FakeRunner(failing={"hi"})
    devices = [dev("lo"), dev("hi", priority="10"), dev("other", pcmk_host_list="n7"),
               dev("mapped", pcmk_host_map="n1:port-1;n2:port-2", pcmk_off_timeout="7s")]
    fencer = LocalFencer(devices, runner=runner, default_timeout_s=30)
    result = asyncio.run(fencer.fence("n1", "off"))
    assert result.ok and result.devices == ("lo",)
    assert [c[0] for c in runner.calls] == ["hi", "lo"]
    runner.calls.clear()
    fencer.devices.pop("lo")
    result = asyncio.run(fencer.fence("n1", "off"))
    assert result.ok and result.devices == ("mapped",)
    assert runner.calls[-1] == ("mapped", "off", "port-1", 7.0)
    # n7: "hi" (no host list: any node) fails, then "other" lists n7; "mapped" cannot.
    assert asyncio.run(fencer.fence("n7", "off")).devices == ("other",)


def test_levels_in_order_all_devices_must_succeed() -> None:
    runner = FakeRunner(failing={"b"})
    levels = [FencingLevel("n1", 1, ("a", "b")), FencingLevel("n1", 2, ("c",)),
              FencingLevel("", 1, ("d",), target_pattern=r"web-\d+")]
    fencer = LocalFencer([dev("a"), dev("b"), dev("c"), dev("d")], levels, runner=runner)
    result = asyncio.run(fencer.fence("n1", "off"))
    assert result.ok and result.level == 2 and result.devices == ("c",)
    assert [c[0] for c in runner.calls] == ["a", "b", "c"]
    assert asyncio.run(fencer.fence("web-3", "off")).devices == ("d",)


def test_all_levels_failing_says_why() -> None:
    fencer = LocalFencer([dev("a")], [FencingLevel("n1", 1, ("a",)),
                                      FencingLevel("n1", 2, ("ghost",))],
                         runner=FakeRunner(failing={"a"}))
    result = asyncio.run(fencer.fence("n1", "reboot"))
    assert not result.ok
    assert "level 1: a: fence_fake reboot exited 1" in result.reason
    assert "level 2: no device ghost" in result.reason


def test_reboot_over_several_devices_is_off_all_then_on_all() -> None:
    runner = FakeRunner()
    fencer = LocalFencer([dev("psu1"), dev("psu2", pcmk_reboot_action="reboot",
                                                pcmk_off_action="power-off")],
                         [FencingLevel("n1", 1, ("psu1", "psu2"))], runner=runner)
    assert asyncio.run(fencer.fence("n1", "reboot")).ok
    assert [(c[0], c[1]) for c in runner.calls] == [
        ("psu1", "off"), ("psu2", "power-off"), ("psu1", "on"), ("psu2", "on")]


def test_identical_concurrent_requests_are_merged() -> None:
    runner = FakeRunner(delay=0.05)
    fencer = LocalFencer([dev("a")], runner=runner)

    async def scenario():  # type: ignore[no-untyped-def]
        return await asyncio.gather(fencer.fence("n1", "off"), fencer.fence("n1", "off"),
                                    fencer.fence("n2", "off"))

    one, two, other = asyncio.run(scenario())
    assert one is two and one.ok and other.ok
    assert len(runner.calls) == 2


def test_unknown_action_and_no_device() -> None:
    fencer = LocalFencer([dev("a", pcmk_host_list="n1")], runner=FakeRunner())
    assert "unknown fence action" in asyncio.run(fencer.fence("n1", "explode")).reason
    assert "no fence device can fence n2" in asyncio.run(fencer.fence("n2", "off")).reason
