"""Durable CIB storage: atomic writes, a checksum, a bounded series of backups.

``cib.xml`` holds the XML followed by a trailer comment with its SHA-256 and length, so a
truncated or altered file is recognised (and the file is still valid XML for humans).
Before a new copy replaces ``cib.xml``, the old one is hard-linked into ``cib-backups/``.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from defib.cluster.cibxml import CibCopy
from defib.errors import CibParseError

TRAILER = re.compile(r"\n<!-- defib-checksum sha256=([0-9a-f]{64}) length=(\d+) -->\n\Z")
KEEP_BACKUPS = 10


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def render(copy: CibCopy) -> bytes:
    body = copy.xml.encode()
    digest = hashlib.sha256(body).hexdigest()
    return body + f"\n<!-- defib-checksum sha256={digest} length={len(body)} -->\n".encode()


def verify(data: bytes) -> CibCopy:
    """Return the stored copy, or raise CibParseError saying what is wrong with it."""
    try:
        text = data.decode()
    except UnicodeDecodeError as exc:
        raise CibParseError(f"not UTF-8: {exc}") from exc
    match = TRAILER.search(text)
    if match is None:
        raise CibParseError("checksum trailer missing (truncated or foreign file)")
    body = text[: match.start()].encode()
    if len(body) != int(match.group(2)):
        raise CibParseError(f"length {len(body)} != recorded {match.group(2)}")
    if hashlib.sha256(body).hexdigest() != match.group(1):
        raise CibParseError("checksum mismatch (file altered or corrupt)")
    return CibCopy.of(body.decode())


@dataclass
class LoadReport:
    copy: CibCopy | None
    source: Path | None
    problems: list[str] = field(default_factory=list)


class CibStore:
    def __init__(self, directory: Path, log: logging.LoggerAdapter[logging.Logger]) -> None:
        self.dir = directory
        self.path = directory / "cib.xml"
        self.backups = directory / "cib-backups"
        self.log = log
        # Test fault (the control op ``debug_disk_full``, DEFIB_DEBUG_OPS only): every write
        # fails as on a full disk, where a real one cannot be made (not root).
        self.fault_full = False

    def _backup_files(self) -> list[Path]:
        if not self.backups.is_dir():
            return []
        files = [p for p in self.backups.glob("cib-*.xml") if p.stem[4:].isdigit()]
        return sorted(files, key=lambda p: int(p.stem[4:]), reverse=True)

    def load(self) -> LoadReport:
        """The newest valid copy among cib.xml and its backups; problems are logged loudly."""
        report = LoadReport(None, None)
        candidates = ([self.path] if self.path.exists() else []) + self._backup_files()
        for path in candidates:
            try:
                copy = verify(path.read_bytes())
            except (OSError, CibParseError) as exc:
                report.problems.append(f"{path}: {exc}")
                continue
            if report.copy is None or copy.version > report.copy.version:
                report.copy, report.source = copy, path
        for problem in report.problems:
            self.log.error("CORRUPT CIB COPY %s", problem)
        if report.problems and self.path.exists() and report.source != self.path:
            aside = self.path.with_name(f"cib.xml.corrupt-{int(time.time())}")
            os.replace(self.path, aside)
            self.log.error("moved the corrupt cib.xml aside to %s", aside.name)
        if report.copy is not None and report.source != self.path:
            self.log.error(
                "USING BACKUP %s (version %s) because cib.xml is missing or corrupt;"
                " a newer copy from a peer will replace it",
                report.source, ".".join(map(str, report.copy.version)),
            )
        return report

    def save(self, copy: CibCopy) -> None:
        if self.fault_full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name("cib.xml.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            data = render(copy)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if self.path.exists():
            self.backups.mkdir(exist_ok=True)
            existing = self._backup_files()
            number = int(existing[0].stem[4:]) + 1 if existing else 1
            os.link(self.path, self.backups / f"cib-{number}.xml")
            for old in existing[KEEP_BACKUPS - 1:]:
                old.unlink(missing_ok=True)
            _fsync_dir(self.backups)
        os.replace(tmp, self.path)
        _fsync_dir(self.dir)
