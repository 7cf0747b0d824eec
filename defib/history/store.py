"""The node's event history: an embedded SQLite database in its state dir (mode 0600).

One row per event, oldest first; bounded by retention: at most ``max_events`` rows and
nothing older than ``max_age_s`` (the oldest go first). Writes are batched, one transaction
per batch, without fsync: history is an aid, not state the cluster depends on.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from defib.cluster.private import FILE_MODE

DB_NAME = "history.sqlite"
DEFAULT_MAX_EVENTS = 100_000
DEFAULT_MAX_AGE_S = 30 * 24 * 3600
PRUNE_EVERY = 200  # inserts between two retention passes

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    rsc TEXT,
    node TEXT,
    transition INTEGER,
    user TEXT,
    origin TEXT,
    summary TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
CREATE INDEX IF NOT EXISTS events_rsc ON events (rsc, ts);
CREATE INDEX IF NOT EXISTS events_transition ON events (transition);
"""


@dataclass
class HistoryEvent:
    """One thing that happened. ``kind``: membership, quorum, dc, node, fencing, config,
    operation, transition. ``node`` is the node it concerns, ``origin`` the recorder's."""

    ts: float
    kind: str
    summary: str
    rsc: str | None = None
    node: str | None = None
    transition: int | None = None
    user: str | None = None
    origin: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class HistoryStore:
    def __init__(self, path: Path, max_events: int = DEFAULT_MAX_EVENTS,
                 max_age_s: float = DEFAULT_MAX_AGE_S, reader: bool = False) -> None:
        self.path = path
        self.max_events = max_events
        self.max_age_s = max_age_s
        self._since_prune = 0
        if reader:
            # Reading beside the writer (WAL: neither waits for the other); no schema work.
            self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            return
        if not path.exists():
            # Private from its creation: it holds who changed what (SQLite's journal files
            # take the database's mode).
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE))
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.executescript(_SCHEMA)

    @classmethod
    def open_readonly(cls, path: Path) -> HistoryStore:
        if not path.is_file():
            from defib.errors import NotConnectedError

            raise NotConnectedError(f"no history database at {path}", str(path))
        return cls(path, reader=True)

    def close(self) -> None:
        self.db.close()

    def add(self, events: Iterable[HistoryEvent]) -> int:
        rows = [(e.ts, e.kind, e.rsc, e.node, e.transition, e.user, e.origin, e.summary,
                 json.dumps(e.detail, sort_keys=True)) for e in events]
        if not rows:
            return 0
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT INTO events (ts, kind, rsc, node, transition, user, origin, summary,"
                " detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self._since_prune += len(rows)
        if self._since_prune >= PRUNE_EVERY:
            self.prune(max(r[0] for r in rows))
        return len(rows)

    def prune(self, now: float) -> int:
        """Apply retention: the newest ``max_events`` rows younger than ``max_age_s``."""
        self._since_prune = 0
        before = self.count()
        with self.db:
            self.db.execute("BEGIN")
            if self.max_age_s > 0:
                self.db.execute("DELETE FROM events WHERE ts < ?", (now - self.max_age_s,))
            if self.max_events >= 0:
                self.db.execute(
                    "DELETE FROM events WHERE id <= (SELECT COALESCE(MAX(id), 0) FROM events)"
                    " - ?", (self.max_events,))
        return before - self.count()

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def query(self, rsc: str | list[str] | None = None, node: str | None = None,
              since: float | None = None, until: float | None = None,
              kinds: Iterable[str] | None = None, transition: int | None = None,
              limit: int | None = None) -> list[HistoryEvent]:
        where: list[str] = []
        args: list[Any] = []
        names = [rsc] if isinstance(rsc, str) else list(rsc or [])
        if names:
            # A clone's instances ("web:1") are found by the clone's name, a group's members
            # when the caller lists them; membership, quorum, fencing and transitions
            # concern every resource.
            match = " OR ".join("rsc = ? OR rsc LIKE ?" for _ in names)
            where.append(f"({match} OR rsc IS NULL AND kind IN"
                         " ('transition', 'fencing', 'membership', 'node', 'quorum'))")
            for name in names:
                args += [name, f"{name}:%"]
        if node is not None:
            where.append("(node = ? OR node IS NULL)")
            args.append(node)
        if since is not None:
            where.append("ts >= ?")
            args.append(since)
        if until is not None:
            where.append("ts <= ?")
            args.append(until)
        kind_list = list(kinds or [])
        if kind_list:
            where.append(f"kind IN ({', '.join('?' for _ in kind_list)})")
            args += kind_list
        if transition is not None:
            where.append("transition = ?")
            args.append(transition)
        sql = ("SELECT id, ts, kind, rsc, node, transition, user, origin, summary, detail"
               " FROM events")
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY ts, id"
        if limit is not None:
            sql = f"SELECT * FROM ({sql[:-len(' ORDER BY ts, id')]} ORDER BY ts DESC, id DESC" \
                  f" LIMIT {int(limit)}) ORDER BY ts, id"
        found = [HistoryEvent(ts=r[1], kind=r[2], rsc=r[3], node=r[4], transition=r[5],
                              user=r[6], origin=r[7], summary=r[8], detail=json.loads(r[9]),
                              id=r[0])
                 for r in self.db.execute(sql, args)]
        return _concerning(found, names) if names else found


def _concerning(events: list[HistoryEvent], names: list[str]) -> list[HistoryEvent]:
    """Of the transitions, only those that acted on one of ``names`` (its operations name
    them, or the scheduler's summary does)."""
    def mine(name: str | None) -> bool:
        return name is not None and name.split(":", 1)[0] in names

    numbers = {e.transition for e in events if e.kind == "operation" and mine(e.rsc)}
    for e in events:
        if e.kind == "transition" and any(
                mine(word) for line in e.detail.get("summary", []) for word in line.split()):
            numbers.add(e.transition)
    return [e for e in events if e.kind != "transition" or e.transition in numbers]
