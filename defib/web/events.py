"""The live status, watched once and pushed to every open page (server-sent events).

One task asks a node, every ``PROBE_S``, for its membership answer (cheap: no CIB parse):
the CIB version (epoch, num_updates), the membership view, the DC and quorum. Only when
that changes (or every ``REFRESH_S``, for what lives outside the CIB, such as fencing
attempts) is the full status computed, once, in the thread pool, and the same encoded
event written to every subscriber. A page therefore sees a change within about
``PROBE_S`` plus one status computation, however many pages are open.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncGenerator
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from defib.errors import DefibError

log = logging.getLogger("defib.web")
PROBE_S = 0.15
REFRESH_S = 5.0
KEEPALIVE_S = 15.0


def encode(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


class StatusWatcher:
    def __init__(self, directory: Path, node: str | None, pool: Executor) -> None:
        self.directory = directory
        self.node = node
        self.pool = pool
        self.latest: bytes | None = None
        self.version = 0
        self._changed = asyncio.Event()
        self._wanted = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_snapshot: str | None = None
        self.subscribers = 0
        self.probes = 0

    def start(self) -> None:
        if self._task is None:
            self._changed = asyncio.Event()
            self._wanted = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    # -- watching ---------------------------------------------------------------------------
    def _probe(self) -> Any:
        from defib.commands.connection import Connection

        try:
            status = Connection(self.directory, self.node, timeout=3.0).status()
        except DefibError as exc:
            return ("down", str(exc))
        nodes = tuple((n.get("name"), n.get("member"), tuple(n.get("links") or ()))
                      for n in status.get("nodes", []))
        return (tuple(status.get("cib", {}).get("version", ())), status.get("view"),
                json.dumps(status.get("dc")), json.dumps(status.get("quorum")), nodes)

    def _snapshot(self) -> dict[str, Any]:
        from defib.commands.env import open_env
        from defib.web.api.status import snapshot

        try:
            return snapshot(open_env(directory=self.directory, node=self.node))
        except DefibError as exc:
            return {"ok": False, "error": str(exc)}

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        key: Any = None
        refreshed = 0.0
        while True:
            if not self.subscribers:
                # Nobody watches: no requests to the cluster at all (every daemon may serve
                # the interface). The next page gets a fresh status, not a stale one.
                self._wanted.clear()
                await self._wanted.wait()
                key, self.latest, self._last_snapshot = None, None, None
            try:
                self.probes += 1
                now_key = await loop.run_in_executor(self.pool, self._probe)
                if now_key != key or time.monotonic() - refreshed > REFRESH_S:
                    key, refreshed = now_key, time.monotonic()
                    data = await loop.run_in_executor(self.pool, self._snapshot)
                    self.publish(data)
            except Exception:  # a bug must not end the watching: logged, tried again
                log.exception("the status watcher failed; retrying")
                await asyncio.sleep(1.0)
            await asyncio.sleep(PROBE_S)

    def publish(self, data: dict[str, Any]) -> None:
        """Push ``data`` to the subscribers, if it differs from what they have."""
        text = json.dumps(data, sort_keys=True)
        if text == self._last_snapshot:
            return
        self._last_snapshot = text
        self.version += 1
        self.latest = encode("status", {**data, "seq": self.version, "at": time.time()})
        self._changed.set()
        self._changed = asyncio.Event()

    async def subscribe(self) -> AsyncGenerator[bytes, None]:
        """The latest status at once, then each new one; a comment now and then keeps
        proxies from closing an idle stream."""
        seen = 0
        self.subscribers += 1
        self._wanted.set()
        try:
            while True:
                if self.latest is not None and self.version != seen:
                    seen = self.version
                    yield self.latest
                    continue
                changed = self._changed
                try:
                    await asyncio.wait_for(changed.wait(), KEEPALIVE_S)
                except TimeoutError:
                    yield b": keepalive\n\n"
        finally:
            self.subscribers -= 1
