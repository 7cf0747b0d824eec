"""What the controller is given rather than builds: its parts, as small protocols.

``Controller(node, parts)`` takes a ``ClusterNode`` (messaging layer and replicated CIB) and
``Parts``: the clock, the fencer, the executor that runs this node's agents, the store of
the ``pe-input``/``pe-graph`` series, the worker that runs the scheduler off the event loop,
where the DC's recovery state is published, and the history hook (``history.hooks``).
``real_parts`` wires the daemon's; ``defib.controller.inmemory`` has the fakes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from defib.clock import Clock, RealClock
from defib.cluster.client import SOCKET_NAME
from defib.cluster.config import ClusterConfig
from defib.controller.fenceexec import FencePlan
from defib.controller.fencing import local_power_off_cleanup
from defib.controller.isolate import Scheduler
from defib.controller.lrm import NodeExecutor
from defib.controller.transitions import PeStore
from defib.executor.runner import AgentExecutor
from defib.fencing.fencer import FenceResult, LocalFencer
from defib.history.hooks import TransitionObserver
from defib.history.series import PeSeries
from defib.model.cib import Cib
from defib.model.resources import walk
from defib.scheduler import Transition, schedule

T = TypeVar("T")


class ClusterFencer(Protocol):
    """Runs the fencing of ``target`` with ``plan`` (the devices this node has, the levels,
    the timeout) on node ``me``; never raises for device trouble (a failed result says
    why)."""

    async def fence(self, plan: FencePlan, target: str, action: str, me: str) -> FenceResult:
        ...

    def confirmed(self, target: str) -> None:
        """An administrator said ``target`` is down (no device was run)."""


class Worker(Protocol):
    """Runs a pure function away from the event loop (a thread in the daemon)."""

    async def __call__(self, fn: Callable[..., T], /, *args: Any) -> T: ...


class DeviceFencer:
    """Fences with the configured devices on this node, as the DC always did."""

    def __init__(self, cfg: ClusterConfig) -> None:
        self.cfg = cfg

    async def fence(self, plan: FencePlan, target: str, action: str, me: str) -> FenceResult:
        fencer = LocalFencer(plan.devices, plan.levels, node_name=me,
                             default_timeout_s=plan.timeout_s)
        result = await fencer.fence(target, action)
        if result.ok:
            self.confirmed(target)
        return result

    def confirmed(self, target: str) -> None:
        # A local node fenced or confirmed down: its run-time state goes, as in a power cut.
        local_power_off_cleanup(self.cfg.node_state_dir(target) / "run")


class StateFile:
    """``controller.json`` in the DC's state dir: what `defib` tools show about recovery."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, state: dict[str, Any]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        os.replace(tmp, self.path)


async def thread_worker(fn: Callable[..., T], /, *args: Any) -> T:
    return await asyncio.to_thread(fn, *args)


@dataclass
class Parts:
    clock: Clock
    fencer: ClusterFencer
    executor: AgentExecutor
    series: PeStore
    worker: Worker
    publish_state: Callable[[dict[str, Any]], None]
    # What only the DC knows (transitions, failed fencing), for defib.history's recorder.
    history: TransitionObserver | None = None
    # The scheduler the DC runs (a failing one for tests: ``debug_scheduler``).
    scheduler: Scheduler = schedule


def debug_scheduler() -> Scheduler:
    """The scheduler, or (test fault, only with DEFIB_DEBUG_OPS=1) one that raises on every
    CIB holding the resource DEFIB_DEBUG_SCHEDULER_FAIL names, as a scheduler defect would."""
    culprit = os.environ.get("DEFIB_DEBUG_SCHEDULER_FAIL", "")
    if os.environ.get("DEFIB_DEBUG_OPS") != "1" or not culprit:
        return schedule

    def failing(cib: Cib, now: dt.datetime) -> Transition:
        if any(r.id == culprit for r in walk(cib.resources)):
            raise IndexError(f"TEST FAULT: the scheduler fails on resource {culprit}")
        return schedule(cib, now)

    return failing


def real_parts(cfg: ClusterConfig, node_name: str, state_dir: Path) -> Parts:
    """The daemon's parts: real time, real agents and devices, files in the state dir."""
    socket = state_dir / SOCKET_NAME
    executor = NodeExecutor.for_node(node_name, state_dir / "run", socket)
    return Parts(clock=RealClock(), fencer=DeviceFencer(cfg), executor=executor,
                 series=PeSeries(state_dir / "pengine"), worker=thread_worker,
                 publish_state=StateFile(state_dir / "controller.json"),
                 scheduler=debug_scheduler())
