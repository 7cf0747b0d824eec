"""Recurring operations: first result and changes only, cancel, replace (fake executor
and clock: pure scheduling logic)."""

from __future__ import annotations

import asyncio

import pytest

from defib.executor import ExecStatus, Operation, OpResult, RecurringScheduler, ResourceInfo

RSC = ResourceInfo("r1", "ocf", "Dummy", "heartbeat")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return 1_700_000_000 + self.now

    async def sleep(self, seconds: float) -> None:
        await asyncio.Event().wait()  # the tests drive run_due() themselves


class ScriptedExecutor:
    """Returns the next scripted rc for each run and counts the runs."""

    def __init__(self, rcs: list[int]) -> None:
        self.rcs = rcs
        self.runs: list[Operation] = []

    async def run(self, op: Operation) -> OpResult:
        self.runs.append(op)
        rc = self.rcs[min(len(self.runs) - 1, len(self.rcs) - 1)]
        return OpResult(op, rc, ExecStatus.DONE, call_id=len(self.runs), started=5.0)

    async def metadata(self, rsc: ResourceInfo):  # type: ignore[no-untyped-def]
        raise NotImplementedError


async def _tick(sched: RecurringScheduler) -> int:
    tasks = await sched.run_due()
    await asyncio.gather(*tasks)
    return len(tasks)


def test_reports_first_result_then_changes_only() -> None:
    async def scenario() -> tuple[list[OpResult], ScriptedExecutor]:
        clock, ex, reports = FakeClock(), ScriptedExecutor([0, 0, 0, 7, 7, 0]), []
        sched = RecurringScheduler(ex, reports.append, clock)
        sched.start(Operation(RSC, "monitor", 10000))
        assert await _tick(sched) == 1  # runs at once
        assert await _tick(sched) == 0  # not due yet
        clock.now += 9.9
        assert await _tick(sched) == 0
        for _ in range(5):
            clock.now += 10
            assert await _tick(sched) == 1
        return reports, ex

    reports, ex = asyncio.run(scenario())
    assert len(ex.runs) == 6
    assert [r.rc for r in reports] == [0, 7, 0]
    assert reports[0].last_rc_change == 5.0  # the first result: when it ran
    assert reports[1].last_rc_change == pytest.approx(1_700_001_039.9)  # when rc changed


def test_interval_counts_from_completion_and_cancel_stops() -> None:
    async def scenario() -> tuple[list[OpResult], ScriptedExecutor, RecurringScheduler]:
        clock, ex, reports = FakeClock(), ScriptedExecutor([0]), []
        sched = RecurringScheduler(ex, reports.append, clock)
        sched.start(Operation(RSC, "monitor", 5000))
        sched.start(Operation(RSC, "monitor", 60000, timeout_ms=30000))
        assert sched.next_due() == clock.now
        assert await _tick(sched) == 2
        assert sched.next_due() == clock.now + 5
        assert sched.cancel("r1", "monitor", 5000)
        assert not sched.cancel("r1", "monitor", 5000)
        clock.now += 30
        assert await _tick(sched) == 0
        clock.now += 30
        assert await _tick(sched) == 1
        # Restarting the same (rsc, op, interval) replaces it and runs it again at once.
        sched.start(Operation(RSC, "monitor", 60000, timeout_ms=40000))
        assert await _tick(sched) == 1
        assert sched.cancel_resource("r1") == 1
        assert sched.active() == []
        return reports, ex, sched

    reports, ex, _ = asyncio.run(scenario())
    assert [op.interval_ms for op in ex.runs] == [5000, 60000, 60000, 60000]
    # A replaced operation is new: its first result is reported again.
    assert [(r.op.interval_ms, r.op.timeout_ms) for r in reports] == [
        (5000, 20000), (60000, 30000), (60000, 40000)]


def test_result_of_a_cancelled_run_is_dropped() -> None:
    async def scenario() -> list[OpResult]:
        gate = asyncio.Event()

        class Slow(ScriptedExecutor):
            async def run(self, op: Operation) -> OpResult:
                await gate.wait()
                return await super().run(op)

        reports: list[OpResult] = []
        sched = RecurringScheduler(Slow([0]), reports.append, FakeClock())
        sched.start(Operation(RSC, "monitor", 1000))
        tasks = await sched.run_due()
        sched.cancel("r1", "monitor", 1000)
        gate.set()
        await asyncio.gather(*tasks)
        return reports

    assert asyncio.run(scenario()) == []


def test_non_recurring_is_refused() -> None:
    async def scenario() -> None:
        sched = RecurringScheduler(ScriptedExecutor([0]), lambda r: None, FakeClock())
        with pytest.raises(ValueError):
            sched.start(Operation(RSC, "monitor", 0))

    asyncio.run(scenario())


def test_async_reporter_and_run_forever_shutdown() -> None:
    async def scenario() -> list[int]:
        got: list[int] = []

        async def report(result: OpResult) -> None:
            got.append(result.rc)

        sched = RecurringScheduler(ScriptedExecutor([0]), report, FakeClock())
        loop = asyncio.create_task(sched.run_forever())
        sched.start(Operation(RSC, "monitor", 1000))
        for _ in range(20):
            await asyncio.sleep(0)
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
        assert sched.active() == []
        return got

    assert asyncio.run(scenario()) == [0]
