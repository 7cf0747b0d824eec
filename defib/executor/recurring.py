"""Recurring operations of one node: run each every interval, report what changes.

As Pacemaker's executor: a recurring operation runs at once when started, then
``interval`` after each completion; the first result is reported, afterwards only a
result whose rc or execution status differs from the previous one. Operations are
identified by (resource, action, interval), so a restart of the same monitor replaces it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from defib.executor.runner import AgentExecutor
from defib.executor.types import ExecStatus, Operation, OpResult

log = logging.getLogger(__name__)

RecurringKey = tuple[str, str, int]  # (rsc_id, action, interval_ms)
Reporter = Callable[[OpResult], Awaitable[None] | None]


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def time(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass
class _Entry:
    op: Operation
    due: float
    last: tuple[int, ExecStatus] | None = None
    last_change: float | None = None
    running: asyncio.Task[None] | None = field(default=None, repr=False)
    generation: int = 0


class RecurringScheduler:
    """Per-node scheduler of recurring operations, driven by an injected clock."""

    def __init__(
        self,
        executor: AgentExecutor,
        report: Reporter,
        clock: Clock | None = None,
        node_name: str = "",
    ) -> None:
        self._executor = executor
        self._report = report
        self._clock = clock or RealClock()
        self._node = node_name
        self._entries: dict[RecurringKey, _Entry] = {}
        self._wake = asyncio.Event()
        self._generation = 0

    @staticmethod
    def key_of(op: Operation) -> RecurringKey:
        return (op.rsc.rsc_id, op.action, op.interval_ms)

    def start(self, op: Operation) -> RecurringKey:
        """Start (or replace) a recurring operation; its first run is due now."""
        if op.interval_ms <= 0:
            raise ValueError(f"{op.key} is not recurring")
        key = self.key_of(op)
        self.cancel(*key)
        self._generation += 1
        self._entries[key] = _Entry(op, self._clock.monotonic(), generation=self._generation)
        log.info("[%s] recurring %s started", self._node, op.key)
        self._wake.set()
        return key

    def cancel(self, rsc_id: str, action: str, interval_ms: int) -> bool:
        """Stop a recurring operation. A run in progress finishes; its result is dropped."""
        entry = self._entries.pop((rsc_id, action, interval_ms), None)
        if entry is None:
            return False
        log.info("[%s] recurring %s cancelled", self._node, entry.op.key)
        self._wake.set()
        return True

    def cancel_resource(self, rsc_id: str) -> int:
        keys = [k for k in self._entries if k[0] == rsc_id]
        for key in keys:
            self.cancel(*key)
        return len(keys)

    def active(self) -> list[Operation]:
        return [e.op for e in self._entries.values()]

    def next_due(self) -> float | None:
        idle = [e.due for e in self._entries.values() if e.running is None]
        return min(idle) if idle else None

    async def run_due(self) -> list[asyncio.Task[None]]:
        """Start every operation that is due now; returns their tasks."""
        now = self._clock.monotonic()
        tasks = []
        for key, entry in list(self._entries.items()):
            if entry.running is None and entry.due <= now:
                entry.running = asyncio.create_task(self._run_one(key, entry))
                tasks.append(entry.running)
        return tasks

    async def _run_one(self, key: RecurringKey, entry: _Entry) -> None:
        try:
            result = await self._executor.run(entry.op)
        except Exception:  # the executor should not raise; a bug must not stop monitoring
            log.exception("[%s] recurring %s raised", self._node, entry.op.key)
            result = OpResult(entry.op, 1, ExecStatus.ERROR, "executor raised")
        finally:
            entry.running = None
        current = self._entries.get(key)
        if current is not entry:
            return  # cancelled or replaced meanwhile: nobody wants this result
        entry.due = self._clock.monotonic() + entry.op.interval_ms / 1000
        outcome = (result.rc, result.status)
        self._wake.set()
        if outcome == entry.last:
            return
        first = entry.last is None
        entry.last = outcome
        entry.last_change = self._clock.time() if not first else result.started
        reported = dataclasses.replace(result, last_rc_change=entry.last_change)
        log.log(logging.INFO if not result.failed else logging.WARNING,
                "[%s] recurring %s: %s", self._node,
                "first result" if first else "result changed", reported.describe())
        maybe = self._report(reported)
        if inspect.isawaitable(maybe):
            await maybe

    async def run_forever(self) -> None:
        """Drive the schedule until cancelled."""
        try:
            while True:
                self._wake.clear()
                await self.run_due()
                due = self.next_due()
                delay = None if due is None else max(due - self._clock.monotonic(), 0.0)
                waiter = asyncio.create_task(self._wake.wait())
                sleeper = asyncio.create_task(self._clock.sleep(delay)) if delay is not None \
                    else None
                waits = {waiter} | ({sleeper} if sleeper else set())
                try:
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for task in waits:
                        task.cancel()
        finally:
            await self.close()

    async def close(self) -> None:
        """Cancel everything and wait for runs in progress (their agents get killed)."""
        running = [e.running for e in self._entries.values() if e.running is not None]
        self._entries.clear()
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
