"""The one transition-graph executor, shared by the live controller and the simulator.

Who runs an action is injected (`ActionHandlers`); this module only decides *when*: an action
starts once every action it waits for has completed, within two limits counted as Pacemaker's
controller counts them: ``limit`` (``batch-limit``) actions in flight at once, pseudo actions
not counted (they complete as they fire), and ``node_limit`` (``node-action-limit``) resource
actions in flight per node, a migration counting on both its nodes. An action held back by its
node's limit does not hold back the ready actions of other nodes. The graph is
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
import heapq
import logging
from collections.abc import Callable
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
                 name: str = "transition", node_limit: int = 0,
                 after_abort: Callable[[GraphAction], bool] | None = None) -> None:
        self.graph = graph
        # Pacemaker's rules after a failure, as its simulator shows them (crm_simulate
        # --op-fail), when given which synapses have the abort's priority (INFINITY: clone
        # pseudo actions, notifications): only those count a failed input as done, and once
        # aborted, pseudo actions and those still fire. None: nothing fires after an abort.
        self.after_abort = after_abort
        self.handlers = handlers
        # 0 means no limit, as the graph's batch-limit does in Pacemaker.
        self.limit = limit if limit > 0 else graph.batch_limit
        self.node_limit = node_limit
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
        synapses = self.graph.synapses
        # Pacemaker's consumer fires ready synapses in id order, pass after pass; a synapse
        # made ready by a completion fires in the same pass when it lies ahead of the last
        # one fired, else in the next pass. Heaps of positions give that order without
        # rescanning the whole graph on every pass.
        missing = [len(set(s.inputs)) for s in synapses]
        users: dict[int, list[int]] = {}
        for n, synapse in enumerate(synapses):
            for needed in set(synapse.inputs):
                users.setdefault(needed, []).append(n)
        ready = [n for n, count in enumerate(missing) if count == 0]
        heapq.heapify(ready)
        deferred: list[int] = []
        unstarted = set(range(len(synapses)))
        cursor = -1
        started: list[GraphAction] = []
        runs: list[ActionRun] = []
        in_flight: dict[asyncio.Task[ActionOutcome], GraphAction] = {}
        pending = 0  # in flight and counted against batch-limit
        jobs: dict[str, int] = {}  # resource actions in flight per node

        def finish(task: asyncio.Task[ActionOutcome]) -> None:
            nonlocal pending
            action = in_flight.pop(task)
            pending -= action.kind != "pseudo_event"
            for node in _job_nodes(action):
                jobs[node] -= 1
            outcome = _outcome_of(task)
            runs.append(ActionRun(action, outcome))
            if not outcome.ok:
                self.abort(f"{action.describe()} {outcome.status.value} (rc={outcome.rc})")
                if self.after_abort is None:
                    return
            for n in users.get(action.id, ()):
                if not outcome.ok and not (self.after_abort
                                           and self.after_abort(synapses[n].action)):
                    continue
                missing[n] -= 1
                if missing[n] == 0:
                    heapq.heappush(ready if n > cursor else deferred, n)

        def harvest() -> None:
            for task in [t for t in in_flight if t.done()]:
                finish(task)

        def full() -> bool:
            return bool(self.limit) and pending >= self.limit

        def node_full(action: GraphAction) -> bool:
            return bool(self.node_limit) and any(jobs.get(node, 0) >= self.node_limit
                                                 for node in _job_nodes(action))

        try:
            while True:
                progressed = False
                held: list[int] = []
                while ready and not full() and (not self.aborted or self.after_abort):
                    n = heapq.heappop(ready)
                    action = synapses[n].action
                    if self.aborted and not (action.kind == "pseudo_event" or (
                            self.after_abort and self.after_abort(action))):
                        continue  # never runs in this transition
                    if node_full(action):
                        held.append(n)
                        continue
                    cursor = n
                    unstarted.discard(cursor)
                    started.append(action)
                    pending += action.kind != "pseudo_event"
                    for node in _job_nodes(action):
                        jobs[node] = jobs.get(node, 0) + 1
                    task = asyncio.ensure_future(self._execute(action))
                    task.add_done_callback(lambda _t: self._wake.set())
                    in_flight[task] = action
                    progressed = True
                    # One turn of the loop lets a handler that needs no I/O finish now, so
                    # later synapses of this same pass already see it complete.
                    await asyncio.sleep(0)
                    harvest()
                if not progressed:
                    if not in_flight:
                        break
                    self._wake.clear()
                    harvest()
                    if not any(t.done() for t in in_flight) and not self._wake.is_set():
                        await self._wake.wait()
                    harvest()
                # A new pass starts from the first synapse.
                for n in held + deferred:
                    heapq.heappush(ready, n)
                deferred.clear()
                cursor = -1
        except asyncio.CancelledError:
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)
            raise

        never = tuple(synapses[n].action for n in sorted(unstarted))
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


def _job_nodes(action: GraphAction) -> tuple[str, ...]:
    """The nodes a resource action counts against (``node-action-limit``): its own, and
    for a migration both ends. Pseudo actions and cluster events count nowhere."""
    if action.kind != "rsc_op" or not action.node_uname:
        return ()
    if action.operation in ("migrate_to", "migrate_from"):
        attrs = action.attrs
        ends = {attrs.get("CRM_meta_migrate_source"), attrs.get("CRM_meta_migrate_target")}
        return tuple(sorted(n for n in ends if n)) or (action.node_uname,)
    return (action.node_uname,)


def _outcome_of(task: asyncio.Task[ActionOutcome]) -> ActionOutcome:
    if task.cancelled():
        return ActionOutcome(OutcomeStatus.CANCELLED, 1, "cancelled")
    return task.result()


async def execute_graph(graph: TransitionGraph, handlers: ActionHandlers,
                        limit: int = 0) -> GraphReport:
    """Run ``graph`` to completion (or abort) with ``handlers``."""
    return await GraphExecutor(graph, handlers, limit).run()
