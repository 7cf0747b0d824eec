"""A scheduler that fails on an input must not stop the scheduling of everything else.

When ``schedule`` raises on the whole CIB (a defect no validation caught), the DC looks for
the top-level resources whose presence makes it fail: starting from the input without any
resource (which must schedule), halves, quarters ... of them are put back as long as the
input still schedules. Those
resources are left out of this run *and* out of the status it reads (so they are neither
started nor stopped as orphans: left as they are), everything else is scheduled, and the
failure is reported with the resources skipped (``defib status`` shows both).

Pure: no I/O, no clock; about 2·log2(n) extra scheduler runs per culprit among n.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import traceback
from collections.abc import Callable, Sequence

from defib.model.cib import Cib
from defib.model.resources import walk
from defib.scheduler import Transition

Scheduler = Callable[[Cib, dt.datetime], Transition]


class SchedulerFailure(Exception):
    """The scheduler fails on the input even without any resource: nothing to isolate."""


def describe(exc: BaseException) -> str:
    """The error and the scheduler phase (module) it came from."""
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if "/scheduler/" in frame.filename:
            module = frame.filename.rsplit("/scheduler/", 1)[1].removesuffix(".py")
            where = f" in scheduler phase {module.replace('/', '.')} (line {frame.lineno})"
    return f"{type(exc).__name__}: {exc}{where}"


def without(cib: Cib, top_ids: set[str]) -> Cib:
    """``cib`` without the top-level resources ``top_ids``, their descendants and their
    recorded history (clone instances ``id:N`` included)."""
    gone_top = tuple(r for r in cib.resources if r.id in top_ids)
    gone = {r.id for r in walk(gone_top)}
    kept_states = tuple(
        dataclasses.replace(state, lrm_resources=tuple(
            lrm for lrm in state.lrm_resources if lrm.id.split(":", 1)[0] not in gone))
        for state in cib.node_states)
    return dataclasses.replace(cib, resources=tuple(r for r in cib.resources
                                                    if r.id not in top_ids),
                               node_states=kept_states)


def schedule_isolating(cib: Cib, now: dt.datetime, scheduler: Scheduler
                       ) -> tuple[Transition, tuple[str, ...], str]:
    """(transition, skipped top-level resource ids, error) — error "" when the whole input
    scheduled. Raises ``SchedulerFailure`` when it fails without any resource too."""
    try:
        return scheduler(cib, now), (), ""
    except Exception as exc:  # noqa: BLE001 - a scheduler defect, reported not raised
        error = describe(exc)
    ids = [r.id for r in cib.resources]

    def works(skip: Sequence[str]) -> Transition | None:
        try:
            return scheduler(without(cib, set(skip)), now)
        except Exception:  # noqa: BLE001 - still failing without these
            return None

    if works(ids) is None:
        raise SchedulerFailure(error)

    def put_back(removed: list[str], chunk: list[str]) -> list[str]:
        """``removed`` (a set that works) with as much of ``chunk`` put back as works."""
        rest = [x for x in removed if x not in chunk]
        if works(rest) is not None:
            return rest
        if len(chunk) == 1:
            return removed
        half = len(chunk) // 2
        return put_back(put_back(removed, chunk[:half]), chunk[half:])

    half = len(ids) // 2
    suspects = put_back(put_back(ids, ids[:half]), ids[half:])
    transition = works(suspects)
    assert transition is not None  # put_back keeps only sets that work
    return transition, tuple(suspects), error


class SchedulerHealth:
    """The DC's record of a failing scheduler, for ``defib status`` (``crm_status``)."""

    def __init__(self) -> None:
        self.error = ""
        self.skipped: tuple[str, ...] | None = ()  # None: nothing could be scheduled
        self.since: float | None = None
        self.failures = 0

    def record(self, error: str, skipped: tuple[str, ...] | None, now: float) -> bool:
        """One scheduler run's outcome; True when it is news (a new error, or cured)."""
        if not error:
            news = bool(self.error)
            self.error, self.skipped, self.since, self.failures = "", (), None, 0
            return news
        news = error != self.error or skipped != self.skipped
        if news:
            self.since = now
        self.error, self.skipped = error, skipped
        self.failures += 1
        return news

    def to_dict(self) -> dict[str, object] | None:
        if not self.error:
            return None
        return {"error": self.error, "since": self.since, "failures": self.failures,
                "skipped": None if self.skipped is None else list(self.skipped)}
