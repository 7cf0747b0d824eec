"""Time as the live parts see it: one small protocol, the real clock, and a fake one.

The controller and its parts never read ``time`` or sleep on the event loop directly: they
are given a ``Clock``. The daemon gives them ``RealClock``; unit tests give them a
``FakeClock`` whose time only moves when the test says so (``advance``) or when the test
waits for a condition (``run_until``: it lets the event loop run until nothing is ready,
then jumps to the next timer). A whole DC thus runs minutes of cluster time in
milliseconds, deterministically.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

T = TypeVar("T")


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (intervals, deadlines)."""

    def time(self) -> float:
        """Wall-clock seconds since the epoch (what people and the CIB read)."""

    async def sleep(self, seconds: float) -> None: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` on the event loop after ``delay`` seconds; cancellable."""

    async def wait_for(self, aw: Awaitable[T], timeout: float) -> T:
        """``aw``'s result, or TimeoutError (and ``aw`` cancelled) after ``timeout``."""


class RealClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(delay, callback)

    async def wait_for(self, aw: Awaitable[T], timeout: float) -> T:
        return await asyncio.wait_for(aw, timeout)


class _FakeTimer:
    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock for tests: time stands still until ``advance``/``run_until`` move it."""

    def __init__(self, start: float = 1000.0, wall: float = 1_800_000_000.0) -> None:
        self.now = start
        self._wall_offset = wall - start
        self._timers: list[tuple[float, int, _FakeTimer]] = []
        self._seq = itertools.count()

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now + self._wall_offset

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = _FakeTimer(self.now + max(0.0, delay), callback)
        heapq.heappush(self._timers, (timer.when, next(self._seq), timer))
        return timer

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        timer = self.call_later(seconds, wake)
        try:
            await future
        finally:
            timer.cancel()

    async def wait_for(self, aw: Awaitable[T], timeout: float) -> T:
        task = asyncio.ensure_future(aw)
        expired = False

        def expire() -> None:
            nonlocal expired
            if not task.done():
                expired = True
                task.cancel()

        timer = self.call_later(timeout, expire)
        try:
            return await task
        except asyncio.CancelledError:
            if expired:
                raise TimeoutError from None
            raise
        finally:
            timer.cancel()

    # -- what tests call --------------------------------------------------------------------
    def next_due(self) -> float | None:
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, firing every timer due on the way, in order."""
        end = self.now + seconds
        while (due := self.next_due()) is not None and due <= end:
            _, _, timer = heapq.heappop(self._timers)
            self.now = max(self.now, timer.when)
            timer.callback()
        self.now = end

    async def run_for(self, seconds: float) -> None:
        """Let ``seconds`` of fake time pass, the event loop running between timers."""
        end = self.now + seconds
        while True:
            await settle()
            due = self.next_due()
            if due is None or due > end:
                break
            self.advance(due - self.now)
        self.advance(end - self.now)
        await settle()

    async def run_until(self, condition: Callable[[], bool], within: float,
                        what: str = "the condition") -> float:
        """Run the loop until ``condition()`` holds; time jumps from timer to timer while
        nothing else is ready. Returns the fake time it took; TimeoutError past ``within``."""
        start = self.now
        deadline = start + within
        while True:
            await settle()
            if condition():
                return self.now - start
            due = self.next_due()
            if due is None or due > deadline:
                raise TimeoutError(f"{what} not reached within {within}s of fake time"
                                   f" (next timer {'none' if due is None else due - start})")
            self.advance(due - self.now)


async def settle(max_turns: int = 100_000) -> None:
    """Let the event loop run until no callback is ready (everything waits for a timer,
    a message or I/O). Only meaningful when nothing runs in other threads."""
    loop = asyncio.get_running_loop()
    for _ in range(max_turns):
        await asyncio.sleep(0)
        # The ready queue is not public API; without it, a fixed number of turns is used.
        ready = getattr(loop, "_ready", None)
        if ready is not None and not ready:
            return
    if getattr(loop, "_ready", None) is not None:
        raise RuntimeError(f"the event loop never became idle in {max_turns} turns")
