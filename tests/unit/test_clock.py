"""The fake clock the controller's unit tests run on: timers in order, sleeps and timeouts
on fake time, and ``run_until`` jumping from timer to timer while the loop is idle."""

from __future__ import annotations

import asyncio

import pytest

from defib.clock import FakeClock, RealClock


def test_timers_fire_in_order_and_cancelled_ones_never() -> None:
    clock = FakeClock(start=10.0)
    fired: list[tuple[str, float]] = []
    clock.call_later(2.0, lambda: fired.append(("b", clock.monotonic())))
    clock.call_later(1.0, lambda: fired.append(("a", clock.monotonic())))
    clock.call_later(1.5, lambda: fired.append(("x", clock.monotonic()))).cancel()
    clock.advance(1.0)
    assert fired == [("a", 11.0)]
    clock.advance(5.0)
    assert fired == [("a", 11.0), ("b", 12.0)] and clock.monotonic() == 16.0
    assert clock.time() == 1_800_000_000.0 + 6.0  # the wall clock moves with it


def test_sleep_wait_for_and_run_until_on_fake_time() -> None:
    async def main() -> None:
        clock = FakeClock(start=0.0)
        woke: list[float] = []

        async def sleeper() -> None:
            await clock.sleep(3.0)
            woke.append(clock.monotonic())

        task = asyncio.create_task(sleeper())
        took = await clock.run_until(lambda: bool(woke), 10.0)
        assert took == 3.0 and woke == [3.0] and task.done()
        never: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        waiter = asyncio.create_task(clock.wait_for(never, 5.0))
        await clock.run_until(waiter.done, 10.0)
        assert clock.monotonic() == 8.0 and never.cancelled()
        with pytest.raises(TimeoutError):
            waiter.result()
        soon: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        clock.call_later(1.0, lambda: soon.set_result(7))
        answer = asyncio.create_task(clock.wait_for(soon, 5.0))
        await clock.run_until(answer.done, 10.0)
        assert answer.result() == 7 and clock.monotonic() == 9.0
        with pytest.raises(TimeoutError, match="not reached"):
            await clock.run_until(lambda: False, 1.0)

    asyncio.run(main())


def test_real_clock_is_the_system_one() -> None:
    async def main() -> None:
        clock = RealClock()
        assert await clock.wait_for(asyncio.sleep(0, result=5), 1.0) == 5
        with pytest.raises(TimeoutError):
            await clock.wait_for(asyncio.sleep(1.0), 0.001)

    asyncio.run(main())
