"""The bounded series of scheduler inputs and graphs, as Pacemaker's ``pe-input-N`` files.

``<dir>/pe-input-N.xml`` is the exact CIB the scheduler ran on (replay it with
``defib simulate -x``); ``<dir>/pe-graph-N.xml`` the transition graph it produced. N grows
across daemon restarts (the highest number on disk is the start); only the newest
``keep`` of each kind are kept.
"""

from __future__ import annotations

import re
from pathlib import Path

from defib.cluster.private import private_dir, write_private

_NAME = re.compile(r"pe-(input|graph)-(\d+)\.xml\Z")
DEFAULT_KEEP = 500


class PeSeries:
    def __init__(self, directory: Path, keep: int = DEFAULT_KEEP) -> None:
        self.dir = directory
        self.keep = keep
        # The inputs hold the whole CIB, passwords in resource parameters included.
        private_dir(self.dir)
        self._next = max((n for _, n in self._files()), default=-1) + 1

    def _files(self) -> list[tuple[Path, int]]:
        out = []
        for path in self.dir.iterdir():
            match = _NAME.match(path.name)
            if match:
                out.append((path, int(match.group(2))))
        return out

    def next_number(self) -> int:
        number = self._next
        self._next += 1
        return number

    def path(self, kind: str, number: int) -> Path:
        return self.dir / f"pe-{kind}-{number}.xml"

    def save(self, kind: str, number: int, text: str) -> Path:
        path = self.path(kind, number)
        write_private(path, text)
        self._prune(kind, number)
        return path

    def _prune(self, kind: str, newest: int) -> None:
        floor = newest - self.keep
        if floor < 0:
            return
        for path, number in self._files():
            if number <= floor and path.name.startswith(f"pe-{kind}-"):
                path.unlink(missing_ok=True)

    def latest(self, kind: str = "input") -> Path | None:
        files = [(n, p) for p, n in self._files() if p.name.startswith(f"pe-{kind}-")]
        return max(files)[1] if files else None
