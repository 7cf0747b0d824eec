"""The one transition-graph executor, shared by the live controller and the simulator.

Who runs an action is injected (`ActionHandlers`); this module only decides *when*: an action
starts once every action it waits for has completed, at most ``limit`` at a time. The graph is
scanned in synapse-id order and a completion is applied the moment it is seen, so handlers that
finish at once (the simulator's) give the same order as Pacemaker's graph consumer, which fires
every ready synapse in id order, pass after pass.

A failure aborts the transition as Pacemaker's controller does: nothing new starts, actions
already running are awaited, and the report says what ran and what never did. The caller then
computes a new transition from the new cluster state.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from dataclasses import dataclass
from typing import Protocol

from defib.graph.model import GraphAction, TransitionGraph

log = logging.getLogger(__name__)


class OutcomeStatus(enum.Enum):
    OK = "ok"
    FAILED = "failed"
    TIMED_OUT = "timed-out"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class ActionOutcome:
    status: OutcomeStatus
    rc: int = 0
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status is OutcomeStatus.OK

    @classmethod
    def success(cls, rc: int = 0) -> ActionOutcome:
        return cls(OutcomeStatus.OK, rc)

    @classmethod
    def failure(cls, rc: int = 1, message: str = "") -> ActionOutcome:
        return cls(OutcomeStatus.FAILED, rc, message)


class ActionHandlers(Protocol):
    """Runs one graph action (resource op, pseudo event or cluster event) to completion."""

    async def execute(self, action: GraphAction) -> ActionOutcome: ...


@dataclass(frozen=True)
class ActionRun:
    action: GraphAction
    outcome: ActionOutcome


@dataclass(frozen=True)
class GraphReport:
    """What one execution of a graph did; ``started`` is in the order actions were started."""

    started: tuple[GraphAction, ...]
    runs: tuple[ActionRun, ...]  # in completion order
    not_run: tuple[GraphAction, ...]
    aborted: bool
    abort_reason: str | None = None

    @property
    def complete(self) -> bool:
        return not self.aborted and not self.not_run and all(r.outcome.ok for r in self.runs)

    @property
    def failed(self) -> tuple[ActionRun, ...]:
        return tuple(r for r in self.runs if not r.outcome.ok)


class GraphExecutor:
    """Executes one transition graph; ``abort()`` stops it from starting anything new."""

    def __init__(self, graph: TransitionGraph, handlers: ActionHandlers, limit: int = 0,
                 name: str = "transition") -> None:
        self.graph = graph
        self.handlers = handlers
        # 0 means no limit, as the graph's batch-limit does in Pacemaker.
        self.limit = limit if limit > 0 else graph.batch_limit
        self.name = name
        self._abort_reason: str | None = None
        self._wake = asyncio.Event()

    def abort(self, reason: str) -> None:
        if self._abort_reason is None:
            self._abort_reason = reason
            log.info("%s %d: aborted: %s", self.name, self.graph.transition_id, reason)
        self._wake.set()

    @property
    def aborted(self) -> bool:
        return self._abort_reason is not None

    async def run(self) -> GraphReport:
        graph = self.graph
        waiting: dict[int, set[int]] = {s.action.id: set(s.inputs) for s in graph}
        done: set[int] = set()
        started: list[GraphAction] = []
        runs: list[ActionRun] = []
        in_flight: dict[asyncio.Task[ActionOutcome], GraphAction] = {}

        def finish(task: asyncio.Task[ActionOutcome]) -> None:
            action = in_flight.pop(task)
            outcome = _outcome_of(task)
            runs.append(ActionRun(action, outcome))
            done.add(action.id)
            if outcome.ok:
                for inputs in waiting.values():
                    inputs.discard(action.id)
            else:
                self.abort(f"{action.describe()} {outcome.status.value} (rc={outcome.rc})")

        def harvest() -> None:
            for task in [t for t in in_flight if t.done()]:
                finish(task)

        try:
            while True:
                progressed = False
                for synapse in graph:
                    if self.aborted:
                        break
                    if self.limit and len(in_flight) >= self.limit:
                        break
                    aid = synapse.action.id
                    if aid in done or aid not in waiting or waiting[aid]:
                        continue
                    del waiting[aid]
                    started.append(synapse.action)
                    task = asyncio.ensure_future(self._execute(synapse.action))
                    task.add_done_callback(lambda _t: self._wake.set())
                    in_flight[task] = synapse.action
                    progressed = True
                    # One turn of the loop lets a handler that needs no I/O finish now, so
                    # later synapses of this same pass already see it complete.
                    await asyncio.sleep(0)
                    harvest()
                if progressed:
                    continue
                if not in_flight:
                    break
                self._wake.clear()
                harvest()
                if not any(t.done() for t in in_flight) and not self._wake.is_set():
                    await self._wake.wait()
                harvest()
        except asyncio.CancelledError:
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
            raise

        never = tuple(s.action for s in graph if s.action.id in waiting)
        if never and not self.aborted:
            # Inputs that can never complete: a graph bug, reported rather than hung on.
            self._abort_reason = "actions wait for inputs that never completed"
        return GraphReport(tuple(started), tuple(runs), never, self.aborted, self._abort_reason)

    async def _execute(self, action: GraphAction) -> ActionOutcome:
        try:
            return await self.handlers.execute(action)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a handler bug must fail the action, not the executor
            log.exception("%s %d: handler for %s raised", self.name, self.graph.transition_id,
                          action.describe())
            return ActionOutcome(OutcomeStatus.FAILED, 1, f"handler raised: {exc}")


def _outcome_of(task: asyncio.Task[ActionOutcome]) -> ActionOutcome:
    if task.cancelled():
        return ActionOutcome(OutcomeStatus.CANCELLED, 1, "cancelled")
    return task.result()


async def execute_graph(graph: TransitionGraph, handlers: ActionHandlers,
                        limit: int = 0) -> GraphReport:
    """Run ``graph`` to completion (or abort) with ``handlers``."""
    return await GraphExecutor(graph, handlers, limit).run()
