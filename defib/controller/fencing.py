"""The DC's fencing: devices and levels from the CIB, run by a ``LocalFencer``, and the
policy that decides when a failed fencing is tried again.

Pacemaker's controller counts failed fencing attempts per target and, past
``stonith-max-attempts`` (10 by default), stops trying: the node stays UNCLEAN until
something changes. defib does the same, with a back-off between attempts (a device that
cannot answer now is unlikely to answer a millisecond later, and an immediate retry only
burns the DC's CPU). What ends a give-up: a change of the fence devices or levels, a
manual confirmation that the node is down, or the node coming back.

In a local cluster (``DEFIB_LOCAL_NODE`` set) a successful fence also empties the target's
run-time directory, as powering a machine off empties its ``/run``.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from defib.cib.options import ClusterOptions
from defib.fencing.fencer import FenceDevice, FencingLevel
from defib.scheduler.unpack import WorkingSet

log = logging.getLogger("defib.controller")

DEFAULT_MAX_ATTEMPTS = 10  # Pacemaker's stonith-max-attempts default
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 10.0


def devices_of(ws: WorkingSet) -> list[FenceDevice]:
    """The configured devices: one removed from the configuration (an orphan still
    active somewhere) no longer fences, as Pacemaker's fencer unregisters it."""
    return [FenceDevice(p.id, p.type or "", dict(p.params))
            for p in ws.all_primitives() if p.rsc_class == "stonith" and not p.orphan]


def levels_of(ws: WorkingSet) -> list[FencingLevel]:
    out = []
    for lv in ws.cib.fencing_levels:
        if lv.target is None and lv.target_pattern is None:
            continue  # attribute-based targets: not supported, ignored with the level
        out.append(FencingLevel(lv.target or "", lv.index, lv.devices, lv.target_pattern))
    return out


def fencing_signature(ws: WorkingSet) -> str:
    """What the fencer would use: a change of it gives a target that was given up on a
    new chance."""
    devices = sorted((d.device_id, d.agent, sorted(d.params.items())) for d in devices_of(ws))
    levels = sorted((lv.target, lv.index, tuple(lv.devices), lv.target_pattern or "")
                    for lv in levels_of(ws))
    return repr((devices, levels))


def stonith_timeout_s(ws: WorkingSet) -> float:
    return ClusterOptions.read(ws.config.properties).stonith_timeout_s


def max_attempts(ws: WorkingSet | None) -> int:
    """``stonith-max-attempts``: how many failures in a row before giving up on a target."""
    if ws is None:
        return DEFAULT_MAX_ATTEMPTS
    return ClusterOptions.read(ws.config.properties).stonith_max_attempts


@dataclass
class TargetFencing:
    """Failed attempts to fence one node since its last success (or reset)."""

    attempts: int
    reason: str
    last_failed: float  # wall clock, for people
    retry_at: float  # the policy's clock
    gave_up: bool

    def to_dict(self, now: float, wall: float, limit: int) -> dict[str, Any]:
        """As the DC broadcasts it: times on the wall clock, readable on any node."""
        return {"attempts": self.attempts, "max_attempts": limit, "reason": self.reason,
                "last_failed": self.last_failed, "gave_up": self.gave_up,
                "next_attempt": None if self.gave_up
                else round(wall + max(0.0, self.retry_at - now), 3)}


class FencingPolicy:
    """Counts failures per target, spaces attempts out, and gives up past the limit."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time, first_s: float = BACKOFF_FIRST_S,
                 max_s: float = BACKOFF_MAX_S) -> None:
        self.clock = clock
        self.wall = wall
        self.first_s = first_s
        self.max_s = max_s
        self.limit = DEFAULT_MAX_ATTEMPTS
        self.targets: dict[str, TargetFencing] = {}

    def delay(self, attempts: int) -> float:
        """The wait after ``attempts`` failures in a row: 1 s, 2 s, 4 s ... at most 10 s."""
        return float(min(self.max_s, self.first_s * 2 ** max(0, attempts - 1)))

    def wait_s(self, target: str) -> float:
        """How long to wait before the next attempt on ``target`` (0: now)."""
        state = self.targets.get(target)
        return 0.0 if state is None else max(0.0, state.retry_at - self.clock())

    def gave_up(self, target: str) -> TargetFencing | None:
        state = self.targets.get(target)
        return state if state is not None and state.gave_up else None

    def failed(self, target: str, reason: str, limit: int) -> TargetFencing:
        self.limit = limit
        before = self.targets.get(target)
        attempts = (before.attempts if before else 0) + 1
        state = TargetFencing(attempts, reason, self.wall(),
                              self.clock() + self.delay(attempts), attempts >= limit)
        self.targets[target] = state
        return state

    def succeeded(self, target: str) -> None:
        self.targets.pop(target, None)

    def reset(self, target: str | None = None) -> list[str]:
        """Forget the failures of ``target`` (or of every target); the targets forgotten."""
        names = [t for t in self.targets if target is None or t == target]
        for name in names:
            del self.targets[name]
        return names

    def describe(self) -> dict[str, dict[str, Any]]:
        now, wall = self.clock(), self.wall()
        return {t: s.to_dict(now, wall, self.limit) for t, s in sorted(self.targets.items())}


def describe_target(target: str, info: dict[str, Any], now: float) -> str:
    """One line for ``defib status``: why a node waits for fencing, and until when
    (``now`` on the wall clock)."""
    attempts, limit = info.get("attempts", 0), info.get("max_attempts", DEFAULT_MAX_ATTEMPTS)
    reason = info.get("reason") or "unknown reason"
    if info.get("gave_up"):
        return (f"{target}: UNCLEAN, fencing failed: gave up after {attempts} attempts"
                f" (stonith-max-attempts={limit}): {reason}; waiting for a fence device"
                f" change, a manual confirmation (defib node fence {target} --confirm) or"
                f" the node's return")
    retry = info.get("next_attempt")
    when = f", next attempt in {max(0.0, retry - now):.0f}s" \
        if isinstance(retry, int | float) else ""
    return (f"{target}: UNCLEAN, waiting for fencing ({attempts} of {limit} attempts"
            f" failed{when}): {reason}")


def local_power_off_cleanup(target_run_dir: Path) -> None:
    """After fencing a local node: its run-time state is gone, as after a power cut."""
    if os.environ.get("DEFIB_LOCAL_NODE") and target_run_dir.is_dir():
        shutil.rmtree(target_run_dir, ignore_errors=True)
        log.info("emptied %s (the fenced local node's run-time directory)", target_run_dir)
