"""The DC's fencing policy (back-off, stonith-max-attempts, give-up) on a fake clock."""

from __future__ import annotations

from defib.controller.fencing import FencingPolicy, describe_target


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_back_off_doubles_up_to_its_cap_then_gives_up_at_the_limit() -> None:
    clock = Clock()
    policy = FencingPolicy(clock=clock, wall=clock)
    waits = []
    for attempt in range(1, 7):
        state = policy.failed("n3", "no fence device can fence n3", 6)
        assert state.attempts == attempt
        waits.append(policy.wait_s("n3"))
        clock.t += waits[-1]
    assert waits[:5] == [1.0, 2.0, 4.0, 8.0, 10.0]
    assert policy.gave_up("n3") is not None and policy.gave_up("other") is None


def test_success_and_reset_forget_failures() -> None:
    clock = Clock()
    policy = FencingPolicy(clock=clock, wall=clock)
    policy.failed("a", "x", 10)
    policy.failed("b", "y", 1)
    assert policy.gave_up("b") is not None
    policy.succeeded("a")
    assert policy.wait_s("a") == 0.0
    assert policy.reset() == ["b"]
    assert policy.describe() == {}


def test_status_lines_say_why_and_until_when() -> None:
    clock = Clock()
    policy = FencingPolicy(clock=clock, wall=clock)
    policy.failed("n3", "no fence device can fence n3", 3)
    info = policy.describe()["n3"]
    assert describe_target("n3", info, clock.t) == (
        "n3: UNCLEAN, waiting for fencing (1 of 3 attempts failed, next attempt in 1s):"
        " no fence device can fence n3")
    policy.failed("n3", "no fence device can fence n3", 3)
    policy.failed("n3", "no fence device can fence n3", 3)
    line = describe_target("n3", policy.describe()["n3"], clock.t)
    assert line.startswith("n3: UNCLEAN, fencing failed: gave up after 3 attempts"
                           " (stonith-max-attempts=3): no fence device can fence n3")
    assert "defib node fence n3 --confirm" in line
