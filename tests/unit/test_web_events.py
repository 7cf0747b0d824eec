"""The status watcher: one probe loop for every page, only while a page watches; a new
status pushed when the probe's key changes, never the same status twice."""

from __future__ import annotations

import asyncio
import contextlib
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from defib.web import events
from defib.web.events import StatusWatcher


class FakeWatcher(StatusWatcher):
    def __init__(self) -> None:
        super().__init__(Path("/nonexistent"), None, ThreadPoolExecutor(2))
        self.key = 1
        self.snapshots = 0

    def _probe(self) -> Any:
        return self.key

    def _snapshot(self) -> dict[str, Any]:
        self.snapshots += 1
        return {"ok": True, "key": self.key}


def decode(event: bytes) -> dict[str, Any]:
    kind, data = event.decode().strip().split("\n")
    assert kind == "event: status"
    return dict(json.loads(data.removeprefix("data: ")))


async def scenario(monkey_probe_s: float) -> dict[str, Any]:
    watcher = FakeWatcher()
    watcher.start()
    await asyncio.sleep(10 * monkey_probe_s)
    idle_probes = watcher.probes
    got = []
    async with contextlib.aclosing(watcher.subscribe()) as stream:
        got.append(decode(await anext(stream)))
        assert watcher.subscribers == 1
        watcher.key = 2
        got.append(decode(await asyncio.wait_for(anext(stream), 5)))
        snapshots = watcher.snapshots
    await asyncio.sleep(5 * monkey_probe_s)
    after = watcher.probes
    await asyncio.sleep(10 * monkey_probe_s)
    result = {"idle_probes": idle_probes, "got": got, "snapshots": snapshots,
              "subscribers": watcher.subscribers, "probes_after_close": watcher.probes - after}
    await watcher.stop()
    return result


def test_watcher_probes_only_while_watched_and_pushes_changes(monkeypatch: Any) -> None:
    monkeypatch.setattr(events, "PROBE_S", 0.01)
    with ThreadPoolExecutor(1) as pool:  # not on a loop a browser session may hold
        result = pool.submit(asyncio.run, scenario(0.01)).result()
    assert result["idle_probes"] == 0
    assert [g["key"] for g in result["got"]] == [1, 2]
    assert result["got"][1]["seq"] > result["got"][0]["seq"]
    assert result["snapshots"] == 2       # unchanged keys cost a probe, not a snapshot
    assert result["subscribers"] == 0 and result["probes_after_close"] == 0
