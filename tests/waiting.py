"""Waiting on a condition in asyncio tests: polled, failing after a deadline (never a sleep
followed by an assertion)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(condition: Callable[[], object], description: str = "the condition",
                timeout: float = 30.0, step: float = 0.01) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {description}"
        await asyncio.sleep(step)
