"""The node's history recorder: an observer, not a participant.

It watches what the node already publishes — CIB changes, membership, quorum and DC events —
and derives events from the difference between successive CIBs (``derive``). On the DC the
controller also tells it about transitions and failed fencing (``TransitionObserver``, the
one hook). It answers the control-socket ops ``history`` (query) and ``history_report``
(every member's files, gathered over the cluster's messaging layer: no SSH).
"""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import logging
import os
import sqlite3
import tarfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

from defib.history.derive import cib_events
from defib.history.store import DB_NAME, HistoryEvent, HistoryStore

if TYPE_CHECKING:
    from defib.cluster.layer import Delivery
    from defib.cluster.node import ClusterNode

REPORT_TIMEOUT_S = 15.0
REPORT_PE_FILES = 200  # newest pe-input/pe-graph files each node sends
REPORT_LOG_BYTES = 4 << 20  # the end of each node's log
REPORT_TIMELINE_EVENTS = 5000  # the newest events as text (the database has them all)


class HistoryRecorder:
    def __init__(self, node: ClusterNode, store: HistoryStore) -> None:
        self.node = node
        self.store = store
        self.name = node.node.name
        self.log = logging.LoggerAdapter(logging.getLogger("defib.history"),
                                         {"node": self.name})
        self._last: ET.Element | None = None
        self._pending: asyncio.Handle | None = None
        self._quorate: bool | None = None
        self._reports: dict[str, tuple[set[str], dict[str, str], asyncio.Future[None]]] = {}
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def attach(cls, node: ClusterNode) -> HistoryRecorder | None:
        """Start recording for ``node``; None (and a warning) when its database cannot be
        opened: a node without history still runs its resources."""
        try:
            store = HistoryStore(node.state_dir / DB_NAME)
        except (OSError, sqlite3.Error) as exc:
            logging.getLogger("defib.history").warning(
                "no history on %s: cannot open %s: %s", node.node.name,
                node.state_dir / DB_NAME, exc)
            return None
        recorder = cls(node, store)
        recorder._last = node.cib.copy.root
        node.subscribe(recorder.on_event)
        node.layer.on_deliver(recorder.on_deliver)
        node.register_op("history", recorder.serve_query)
        node.register_op("history_report", recorder.serve_report)
        node.register_op("history_pe_input", recorder.serve_pe_input)
        return recorder

    def add(self, *events: HistoryEvent) -> None:
        for event in events:
            event.origin = event.origin or self.name
        try:
            self.store.add(events)
        except Exception as exc:  # noqa: BLE001 - history must never stop the node
            self.log.warning("history not recorded: %s", exc)

    # -- what the node publishes ----------------------------------------------------------

    def on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        now = time.time()
        if kind == "cib":
            if self._pending is None:
                # Changes of one loop iteration are diffed once (copy-on-write makes a diff
                # cost what changed), dated when they happened.
                self._pending = asyncio.get_running_loop().call_soon(self._diff, now)
        elif kind == "membership":
            names = [self.node.name_of(int(i)) or str(i) for i in event.get("members", [])]
            joined = [self.node.name_of(int(i)) or str(i) for i in event.get("joined", [])]
            left = [self.node.name_of(int(i)) or str(i) for i in event.get("left", [])]
            parts = [f"+{n}" for n in joined] + [f"-{n}" for n in left]
            self.add(HistoryEvent(
                ts=now, kind="membership",
                summary=f"membership: {', '.join(names)} ({' '.join(parts) or 'no change'})",
                detail={"view": event.get("view"), "members": names, "joined": joined,
                        "left": left}))
        elif kind == "quorum":
            quorate = bool(event.get("quorate"))
            if quorate != self._quorate:
                self._quorate = quorate
                self.add(HistoryEvent(ts=now, kind="quorum", summary="quorum gained"
                                      if quorate else "quorum LOST", detail=dict(event)))
        elif kind == "dc":
            dc = event.get("dc")
            name = self.node.name_of(int(dc)) if dc is not None else None
            self.add(HistoryEvent(ts=now, kind="dc", node=name,
                                  summary=f"DC is {name}" if name else "no DC"))

    def _diff(self, when: float) -> None:
        self._pending = None
        root = self.node.cib.copy.root
        previous, self._last = self._last, root
        try:
            events = cib_events(previous, root, when, self.name)
        except Exception as exc:  # noqa: BLE001 - a CIB we cannot read is no reason to stop
            self.log.warning("history: cannot compare CIBs: %s", exc)
            return
        if any(e.kind == "config" and e.detail.get("section") == "crm_config" for e in events):
            self._retention(root)
        self.add(*events)

    def _retention(self, root: ET.Element) -> None:
        from defib.cib.timespec import parse_ms

        props = {p.get("name"): p.get("value") for p in root.iterfind(
            "configuration/crm_config/cluster_property_set/nvpair")}
        try:
            if props.get("history-max-events") is not None:
                self.store.max_events = int(str(props["history-max-events"]))
            age = parse_ms(props.get("history-max-age"), None)
            if age is not None:
                self.store.max_age_s = age / 1000
        except ValueError:
            self.log.warning("history: unreadable retention option ignored")

    # -- the DC's hook (TransitionObserver) ---------------------------------------------

    def transition_started(self, number: int, cause: str, summary: list[str],
                           actions: int) -> None:
        self.add(HistoryEvent(
            ts=time.time(), kind="transition", transition=number,
            summary=f"transition {number} (pe-input-{number}): {actions} actions; "
                    f"cause: {cause}",
            detail={"cause": cause, "summary": [s.strip() for s in summary],
                    "pe_input": f"pe-input-{number}.xml", "dc": self.name}))

    def transition_ended(self, number: int, complete: bool, run: int, failed: list[str],
                         reason: str | None) -> None:
        state = "complete" if complete else f"aborted ({reason})" if reason else "aborted"
        self.add(HistoryEvent(
            ts=time.time(), kind="transition", transition=number,
            summary=f"transition {number} {state}: {run} run, {len(failed)} failed",
            detail={"complete": complete, "failed": failed, "abort_reason": reason}))

    def fencing_failed(self, target: str, action: str, reason: str) -> None:
        self.add(HistoryEvent(ts=time.time(), kind="fencing", node=target,
                              summary=f"fencing of {target} ({action}) FAILED: {reason}"))

    # -- control-socket ops ---------------------------------------------------------------

    async def serve_query(self, request: dict[str, Any]) -> dict[str, Any]:
        def num(name: str) -> float | None:
            value = request.get(name)
            return float(value) if value is not None else None

        transition = request.get("transition")
        query = {"rsc": request.get("rsc"), "node": request.get("node"),
                 "since": num("since"), "until": num("until"), "kinds": request.get("kinds"),
                 "transition": int(transition) if transition is not None else None,
                 "limit": int(request["limit"]) if request.get("limit") is not None else None}
        # A large history takes seconds to read: not on the loop that sends heartbeats.
        events = await asyncio.to_thread(_read, self.store.path, query)
        return {"node": self.name, "events": events}

    async def serve_pe_input(self, request: dict[str, Any]) -> dict[str, Any]:
        """The saved scheduler input N (and N-1, to say what changed), if this node has it."""
        number = int(request["number"])
        out: dict[str, Any] = {"node": self.name}
        for key, n in (("xml", number), ("previous", number - 1)):
            path = self.node.state_dir / "pengine" / f"pe-input-{n}.xml"
            out[key] = path.read_text(encoding="utf-8") if path.is_file() else None
        return out

    async def serve_report(self, request: dict[str, Any]) -> dict[str, Any]:
        """Ask every member for its files over the messaging layer; wait for them all."""
        req = f"{self.name}:{os.getpid()}:{next(self._ids)}"
        members = {self.node.name_of(m) or str(m) for m in self.node.members}
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._reports[req] = (members, {}, done)
        self.node.layer.send_ordered({"t": "hist-report-req", "r": req,
                                      "since": request.get("since")})
        try:
            await asyncio.wait_for(asyncio.shield(done), REPORT_TIMEOUT_S)
        except TimeoutError:
            pass
        _, files, _ = self._reports.pop(req)
        return {"nodes": files, "missing": sorted(members - set(files))}

    def on_deliver(self, d: Delivery) -> None:
        kind = d.payload.get("t")
        if kind == "hist-report-req":
            task = asyncio.get_running_loop().create_task(
                self._send_bundle(str(d.payload.get("r"))))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif kind == "hist-report":
            waiting = self._reports.get(str(d.payload.get("r")))
            if waiting is None:
                return
            members, files, done = waiting
            files[str(d.payload.get("from"))] = str(d.payload.get("tgz", ""))
            if members <= set(files) and not done.done():
                done.set_result(None)

    async def _send_bundle(self, req: str) -> None:
        cib = str(self.node.get_cib()["xml"])
        try:
            data = await asyncio.to_thread(self.bundle, cib)
        except Exception as exc:  # noqa: BLE001 - the asker learns the node sent nothing
            self.log.warning("report: cannot gather this node's files: %s", exc)
            return
        self.node.layer.send_ordered({"t": "hist-report", "r": req, "from": self.name,
                                      "tgz": base64.b64encode(data).decode()})

    def bundle(self, cib: str) -> bytes:
        """This node's part of a report (built in a worker thread): CIB, a copy of the
        history database and its newest events as text, the log's end, newest pe files."""
        from defib.history.render import timeline

        state = self.node.state_dir
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            _add(tar, "cib.xml", cib.encode())
            _add(tar, DB_NAME, _snapshot(self.store.path))
            reader = HistoryStore(self.store.path, reader=True)
            try:
                newest = reader.query(limit=REPORT_TIMELINE_EVENTS)
            finally:
                reader.close()
            _add(tar, "history.txt", (timeline(newest) + "\n").encode())
            log = state / "daemon.log"
            if log.is_file():
                with log.open("rb") as f:
                    f.seek(max(0, log.stat().st_size - REPORT_LOG_BYTES))
                    _add(tar, "daemon.log", f.read())
            for extra in ("controller.json",):
                if (state / extra).is_file():
                    _add(tar, extra, (state / extra).read_bytes())
            for path in _newest_pe_files(state / "pengine", REPORT_PE_FILES):
                _add(tar, f"pengine/{path.name}", path.read_bytes())
        return buf.getvalue()


def _read(path: Path, query: dict[str, Any]) -> list[dict[str, Any]]:
    """A query on a connection of its own (worker threads do not share the node's)."""
    store = HistoryStore(path, reader=True)
    try:
        return [e.as_dict() for e in store.query(**query)]
    finally:
        store.close()


def _snapshot(path: Path) -> bytes:
    """A consistent copy of the database (what the WAL holds included), as file bytes."""
    source = sqlite3.connect(str(path))
    copy = sqlite3.connect(":memory:")
    try:
        source.backup(copy)
        return copy.serialize()
    finally:
        copy.close()
        source.close()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


def _newest_pe_files(directory: Path, count: int) -> list[Path]:
    if not directory.is_dir():
        return []
    def number(path: Path) -> int:
        digits = path.stem.rsplit("-", 1)[-1]
        return int(digits) if digits.isdigit() else -1

    files = [p for p in directory.iterdir() if p.name.startswith("pe-")]
    numbers = sorted({number(p) for p in files}, reverse=True)[:count]
    keep = set(numbers)
    return sorted((p for p in files if number(p) in keep), key=number)
