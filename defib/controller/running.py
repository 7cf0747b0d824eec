"""The DC's transition running: numbering and saving a plan, executing its graph with the
nodes' executors (operations out, results back), aborting it, and holding back a failed
transition whose input did not change (``RetryGate``) so it is not run again in a loop.

``TransitionRunner`` belongs to a ``Controller`` (its host): what an action does beyond an
operation (fencing, fail-count clearing, letting a node go) is the host's.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from defib.cib.options import ClusterOptions
from defib.clock import Timer
from defib.controller import wire
from defib.controller.transitions import NEVER, PeRecorder, Plan, RetryGate
from defib.executor.types import OcfRc
from defib.graph.executor import ActionOutcome, GraphExecutor, GraphReport, OutcomeStatus
from defib.graph.model import GraphAction, TransitionGraph
from defib.scheduler.unpack import WorkingSet

if TYPE_CHECKING:
    from defib.controller.dc import Controller

@dataclass(frozen=True)
class NoResult:
    """What an operation got instead of a result: its node left ("lost") or it took longer
    than its timeout plus ``cluster-delay`` ("timeout")."""

    why: str


Answer = wire.OpResult | NoResult


class TransitionRunner:
    def __init__(self, host: Controller) -> None:
        self.host = host
        self.clock = host.clock
        self.recorder = PeRecorder(host.parts.series)
        self.gate = RetryGate()
        self.transition_id = -1
        # Transition key -> (node, future of its result): the operations in flight.
        self.waiting: dict[str, tuple[str, asyncio.Future[Answer]]] = {}
        self._retry: Timer | None = None
        self._executor: GraphExecutor | None = None
        self._aborting = asyncio.Event()  # set when the running transition is aborted

    def close(self) -> None:
        if self._retry is not None:
            self._retry.cancel()

    def abort(self, why: str) -> None:
        if self._executor is not None and not self._executor.aborted:
            self._executor.abort(why)
            self._aborting.set()

    # -- results ----------------------------------------------------------------------------
    def answer(self, result: wire.OpResult) -> bool:
        """Give a result to the action waiting for it; False when none waits."""
        waiter = self.waiting.get(result.key) if result.key else None
        if waiter is None or waiter[1].done():
            return False
        waiter[1].set_result(result)
        return True

    def members_now(self, names: Iterable[str]) -> None:
        """Operations on nodes no longer members will never answer: they are lost."""
        names = set(names)
        for node, future in list(self.waiting.values()):
            if node not in names and not future.done():
                future.set_result(NoResult("lost"))

    async def remote_op(self, spec: wire.OpSpec) -> Answer:
        """Send one operation to its node; the recorded result (or why there is none)."""
        key = str(spec.transition_key)
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self.waiting[key] = (spec.node, future)
        try:
            if spec.node not in self.host.member_names():
                return NoResult("lost")
            self.host.layer.send_ordered(spec.to_wire())
            # Pacemaker's transition timer: the action's timeout plus cluster-delay.
            return await self.clock.wait_for(future, spec.timeout_ms / 1000
                                             + self.host.options.cluster_delay_s)
        except TimeoutError:
            return NoResult("timeout")
        finally:
            self.waiting.pop(key, None)

    async def wait_unless_aborted(self, seconds: float) -> bool:
        """Sleep ``seconds``; False as soon as the running transition is aborted."""
        try:
            await self.clock.wait_for(self._aborting.wait(), seconds)
        except TimeoutError:
            return True
        return False

    # -- the retry gate ---------------------------------------------------------------------
    def held_back(self, key: str) -> bool:
        """True when the last transition failed on this same input and its retry is not
        due: running it again now would only fail the same way, in a loop."""
        remaining = self.gate.remaining(key, self.clock.monotonic())
        if remaining <= 0:
            return False
        if self._retry is None and remaining != NEVER:
            self.host.log(logging.INFO, "input unchanged since the failed transition: run"
                          " again in %.1fs (or on the next change)", remaining)
            self._retry = self.clock.call_later(remaining, self._retry_due)
        return True

    def _retry_due(self) -> None:
        self._retry = None
        self.host.kick("retry of the failed transition", abort=False)

    def _after(self, key: str, report: GraphReport | None) -> None:
        """Remember how the transition of input ``key`` ended, for ``held_back``."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        failed = [] if report is None else list(report.failed)
        # A fencing given up on fails the same way until something changes.
        retryable = not all(r.action.operation == "stonith"
                            and self.host.fencing.gave_up(r.action.node_uname or "")
                            for r in failed)
        self.gate.ended(key, bool(failed), retryable, self.clock.monotonic(),
                        complete=report is None or report.complete)

    # -- running ----------------------------------------------------------------------------
    async def execute(self, plan: Plan, why: str) -> bool:
        """Number, save and run ``plan``; True when the DC must look again (something ran
        or the transition was aborted)."""
        host, key = self.host, plan.key
        graph = self.recorder.number(plan)
        number = self.transition_id = graph.transition_id
        if self._only_exits(graph):
            # Nothing to do but wait for nodes already told to leave.
            host.log(logging.INFO, "idle (nothing to do; cause: %s) pe-input-%d", why, number)
            host.publish_state(None)
            self._after(key, None)
            return False
        host.log(logging.INFO, "transition %d: %d actions (cause: %s), pe-input-%d:\n%s",
                 number, len(graph), why, number, "\n".join(plan.transition.summary))
        if host.history is not None:
            host.history.transition_started(number, why, plan.transition.summary, len(graph))
        delay = host.options.transition_delay_s
        if delay > 0:
            # transition-delay: let further events arrive; one that does replaces this graph.
            await self.clock.sleep(delay)
            if host.events_pending():
                host.log(logging.INFO, "transition %d dropped: new events during the"
                         " transition-delay of %.1fs", number, delay)
                return True
        started = self.clock.monotonic()
        self._aborting.clear()
        self._executor = GraphExecutor(graph, DcHandlers(host, self, number),
                                       name="transition",
                                       node_limit=node_action_limit(plan.transition.working_set))
        try:
            report = await self._executor.run()
        finally:
            self._executor = None
        self._after(key, report)
        host.log(logging.INFO, "transition %d %s in %.3fs: %d run, %d failed, %d not run%s",
                 number, "complete" if report.complete else "aborted",
                 self.clock.monotonic() - started, len(report.runs), len(report.failed),
                 len(report.not_run),
                 f" ({report.abort_reason})" if report.abort_reason else "")
        host.publish_state(report)
        if host.history is not None:
            host.history.transition_ended(number, report.complete, len(report.runs), [
                r.action.describe() + ": " + r.outcome.message for r in report.failed],
                report.abort_reason)
        return bool(report.runs) or report.aborted

    def _only_exits(self, graph: TransitionGraph) -> bool:
        return all(syn.action.operation == "do_shutdown"
                   and syn.action.node_uname in self.host.exiting for syn in graph)

    def op_spec(self, action: GraphAction, transition_id: int) -> wire.OpSpec:
        attrs = action.attrs
        given = attrs.get("CRM_meta_op_target_rc")
        target_rc = int(given) if given else role_target_rc(self.host.last_ws, action)
        params = {k: v for k, v in attrs.items() if not k.startswith("CRM_meta_")}
        skip = {"timeout", "interval", "name", "op_target_rc"}
        meta = {k[len("CRM_meta_"):]: v for k, v in attrs.items()
                if k.startswith("CRM_meta_") and k[len("CRM_meta_"):] not in skip}
        timeout = int(attrs.get("CRM_meta_timeout", "20000") or 20000)
        return wire.OpSpec(
            action.node_uname or "", action.rsc_id or "", action.rsc_class or "",
            action.rsc_type or "", action.rsc_provider, action.operation, action.interval_ms,
            timeout, params, meta,
            f"{action.id}:{transition_id}:{target_rc}:{self.host.uuid}",
        )


def role_target_rc(ws: WorkingSet | None, action: GraphAction) -> int:
    """rc 8 for a recurring monitor of the Promoted role (when the graph says nothing)."""
    if ws is None or action.operation != "monitor" or action.interval_ms <= 0:
        return 0
    for prim in ws.all_primitives():
        if prim.id not in (action.rsc_long_id, action.rsc_id):
            continue
        for op in prim.operations:
            if op.name == "monitor" and op.interval_ms == action.interval_ms and (
                    op.role in ("Promoted", "Master")):
                return int(OcfRc.RUNNING_PROMOTED)
    return 0


def node_action_limit(ws: WorkingSet) -> int:
    """``node-action-limit``: resource actions in flight per node; by default, as in
    Pacemaker, twice the number of cores (every node is assumed to have the DC's)."""
    limit = ClusterOptions.read(ws.config.properties).node_action_limit
    return limit if limit > 0 else 2 * (os.cpu_count() or 1)


class DcHandlers:
    """``ActionHandlers`` for live transitions."""

    def __init__(self, host: Controller, runner: TransitionRunner, transition_id: int) -> None:
        self.host = host
        self.runner = runner
        self.tid = transition_id

    async def execute(self, action: GraphAction) -> ActionOutcome:
        if action.kind == "pseudo_event":
            return ActionOutcome.success()
        if action.kind == "crm_event":
            return await self._controller_action(action)
        if action.operation == "delete" and action.rsc_id and action.node_uname:
            # Not an agent action: the node forgets the (orphaned) resource's history.
            self.host.layer.send_ordered(wire.Forget(action.node_uname,
                                                     action.rsc_id).to_wire())
            return ActionOutcome.success()
        spec = self.runner.op_spec(action, self.tid)
        t0 = self.runner.clock.monotonic()
        match await self.runner.remote_op(spec):
            case NoResult("lost"):
                return ActionOutcome(OutcomeStatus.CANCELLED, 1,
                                     f"{spec.node} left the cluster")
            case NoResult():
                return ActionOutcome(OutcomeStatus.TIMED_OUT, 1, "no result from the node")
            case wire.OpResult() as result:
                self.host.log(logging.INFO, "%s on %s: rc=%d (%.0fms)",
                              action.operation_key, spec.node, result.rc,
                              (self.runner.clock.monotonic() - t0) * 1000)
                if result.failed:
                    return ActionOutcome.failure(result.rc, result.reason)
                return ActionOutcome.success(result.rc)

    async def _controller_action(self, action: GraphAction) -> ActionOutcome:
        node, rsc = action.node_uname, action.rsc_id
        if action.operation == "stonith":
            return await self.host.fence_in_transition(
                node or "", action.attrs.get("CRM_meta_stonith_action", "reboot"))
        if action.operation == "clear_failcount" and rsc and node:
            await self.host.status.clear_failcount(rsc, node)
        elif action.operation == "lrm_delete" and rsc and node:
            self.host.layer.send_ordered(wire.Forget(node, rsc).to_wire())
        elif action.operation == "do_shutdown" and node:
            await self.host.let_go(node)  # what it ran has stopped
        return ActionOutcome.success()
