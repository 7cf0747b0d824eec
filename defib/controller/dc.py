"""The controller: on the DC, turns every relevant event into a scheduler run and a transition.

Every node runs one ``Controller``; only the DC's acts. Events (membership, quorum, a DC
change, a configuration change, an unexpected operation result, a node's history) wake the
loop, which then:

1. writes the membership of every node and the history the nodes announced into the status
   section (``StatusWriter``: the DC is the only writer of the status; nodes own their
   history);
2. probes every configured resource on every member that has no history of it
   (``Prober``: how a restarted daemon finds the resources it left running);
3. runs the scheduler on the CIB (quorum and DC stamped in) in the worker, and has the
   ``TransitionRunner`` save input and graph in the bounded ``pe-input``/``pe-graph``
   series and execute the graph;
4. a failed action or a new event aborts the transition; the loop then computes a new one.

Fencing is the ``FencingCoordinator``'s policy (retries, back-off, give-up) around
``fence_node`` here. Every other part (clock, fencer, executor, series, worker, where the
state is published, the history hook) is given in ``Parts``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
import xml.etree.ElementTree as ET
from typing import Any

from defib.cib.options import ClusterOptions
from defib.clock import Clock, Timer
from defib.cluster.client import SOCKET_NAME
from defib.cluster.layer import Delivery
from defib.cluster.node import ClusterNode
from defib.controller import shutdown as sd
from defib.controller import status as st
from defib.controller import wire
from defib.controller.fencecoord import FencingCoordinator
from defib.controller.fenceexec import FencePlan, PeerFencing, executors, may_fence
from defib.controller.fencing import FencingPolicy, max_attempts
from defib.controller.isolate import SchedulerFailure, SchedulerHealth
from defib.controller.lrm import LrmService
from defib.controller.parts import Parts
from defib.controller.probing import Prober
from defib.controller.running import Answer, TransitionRunner
from defib.controller.statuswriter import Reports, StatusWriter
from defib.controller.transitions import Plan, make_plan, undated, written_properties
from defib.errors import ClusterError
from defib.fencing.fencer import FenceResult
from defib.graph.build import lrm_id
from defib.graph.executor import ActionOutcome, GraphReport
from defib.history.hooks import TransitionObserver
from defib.scheduler.unpack import WorkingSet

log = logging.getLogger("defib.controller")
REPORT_WAIT_S = 3.0  # how long the DC waits for members to announce their history
JOIN_SETTLE_S = 0.5
FENCE_REQUEST_TIMEOUT_S = 120.0


class Controller:
    """One node's controller over its ``ClusterNode``; every other part is given (``Parts``:
    ``parts.real_parts`` in the daemon, ``inmemory`` fakes in unit tests)."""

    def __init__(self, node: ClusterNode, parts: Parts) -> None:
        self.node = node
        self.parts = parts
        self.clock: Clock = parts.clock
        self.layer = node.layer
        # The cluster options as the DC last read them (defaults until it has a CIB).
        self.options = ClusterOptions.read({})
        self.name = node.node.name
        self.id = str(node.node.id)
        self.uuid = str(uuid.uuid4())
        self.lrm = LrmService(node.layer, node.node.id, self.name, parts.executor, self.clock)
        self.series = parts.series
        # Every node keeps every node's announced history: whoever becomes DC has it.
        self.reports = Reports()
        self.incarnations: dict[str, str] = {}  # node -> its executor's, as it announced
        self._seen: set[str] = set()  # nodes that were members since this daemon started
        self.fenced: dict[str, list[float]] = {}
        self.fencing = FencingCoordinator(self.name, self.layer.send_ordered, self.log,
                                          FencingPolicy(self.clock.monotonic, self.clock.time))
        self.runner = TransitionRunner(self)
        self.status = StatusWriter(node, self.clock, self.log, self.kick, self.runner.answer,
                                   self._start_failure_fatal)
        self.prober = Prober(self)
        self.peers = PeerFencing(self.name, self.layer.send_ordered, self.clock,
                                 self._run_fence_plan, self.log)
        self.scheduler_runs = 0
        self.scheduler_health = SchedulerHealth()
        # defib.history's recorder (given, or set by attach_controller).
        self.history: TransitionObserver | None = parts.history
        self.last_ws: WorkingSet | None = None
        # Nodes told they may leave (their shutdown is complete).
        self.exiting: set[str] = set()
        self._wake = asyncio.Event()
        self._why: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._epoch: tuple[int, int] | None = None
        self._started = self.clock.monotonic()
        self._view_since = self.clock.monotonic()
        self._settle_until = 0.0
        self._request_ids = itertools.count(1)
        self._fence_requests: dict[str, asyncio.Future[wire.FenceAnswer]] = {}
        # Fenced while still in the view (a manual fence): dead, though not yet detected.
        self._fenced_in_view: set[str] = set()
        self._recheck: Timer | None = None
        self.shutdown = sd.ShutdownRequest(
            self.layer.send_ordered, self.name, node.state_dir / SOCKET_NAME,
            lambda: self.layer.node_id in self.layer.membership().members, self.clock)
        self._read_options({})
        node.subscribe(self._on_event)
        self.layer.on_deliver(self._on_deliver)

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        await self.lrm.start()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._recheck is not None:
            self._recheck.cancel()
        self.runner.close()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        for task in list(self._tasks):
            task.cancel()
        self.status.close()
        self.peers.close()
        await self.lrm.stop()

    @property
    def is_dc(self) -> bool:
        return self.node.cib.dc == self.node.node.id

    @property
    def transition_id(self) -> int:
        return self.runner.transition_id

    @property
    def waiting(self) -> dict[str, tuple[str, asyncio.Future[Answer]]]:
        """The operations in flight (transition key -> node and future of the result)."""
        return self.runner.waiting

    def log(self, level: int, msg: str, *args: object) -> None:
        log.log(level, "[%s t%d] " + msg, self.name, self.runner.transition_id, *args)

    def kick(self, why: str, abort: bool = True) -> None:
        self._why.append(why)
        self._wake.set()
        if abort:
            self.runner.abort(why)

    def events_pending(self) -> bool:
        """Something woke the loop since the current cycle began."""
        return self._wake.is_set()

    def member_names(self) -> set[str]:
        return {self._name(m) for m in self.layer.membership().members}

    @property
    def fence_failures(self) -> dict[str, str]:
        return self.fencing.reasons()

    def publish_state(self, report: GraphReport | None) -> None:
        """What `defib` tools show about recovery (``controller.json`` in the daemon)."""
        self.parts.publish_state({
            "dc": self.name, "transition": self.transition_id, "time": self.clock.time(),
            "fence_failures": self.fence_failures, "fenced": self.fenced,
            "fencing": self.fencing.view,
            "last": None if report is None else {
                "complete": report.complete, "abort_reason": report.abort_reason,
                "failed": [r.action.describe() + ": " + r.outcome.message
                           for r in report.failed],
            },
        })

    def _arm_recheck(self, ws: WorkingSet) -> None:
        """Run the scheduler again when a failure expires (``failure-timeout``), and at
        least every ``cluster-recheck-interval`` (15 min by default), as Pacemaker does."""
        interval = self.options.cluster_recheck_interval_s
        delays = [interval] if interval > 0 else []
        timeouts = {lrm_id(p): p.failure_timeout_s for p in ws.all_primitives()
                    if p.failure_timeout_s > 0}
        now = self.clock.time()
        for state in ws.cib.node_states:
            for nvset in state.transient_attributes:
                for name, value in nvset.pairs:
                    if not name.startswith("last-failure-") or not value.isdigit():
                        continue
                    timeout = timeouts.get(name[len("last-failure-"):].rpartition("#")[0])
                    if timeout and int(value) + timeout + 1 > now:
                        delays.append(int(value) + timeout + 1 - now)
        if self._recheck is not None:
            self._recheck.cancel()
            self._recheck = None
        if not delays:
            return  # cluster-recheck-interval=0 and no failure to expire
        self._recheck = self.clock.call_later(min(delays), self._recheck_due)

    def _recheck_due(self) -> None:
        self._recheck = None
        self.runner.gate.force()  # the input may be the same: time alone changes the answer
        self.kick("recheck (failure expiry or recheck interval)", abort=False)

    def _read_options(self, properties: dict[str, str]) -> None:
        """Take the cluster options of the CIB; every problem with them is logged once."""
        options = ClusterOptions.read(properties)
        for why in options.problems:
            if why not in self.options.problems:
                self.log(logging.WARNING, "cluster option: %s", why)
        self.options = options
        keep = options.pe_input_series_max
        self.series.keep = keep if keep >= 0 else 1 << 62  # -1: keep every input

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- events -----------------------------------------------------------------------------
    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "membership":
            self._view_since = self.clock.monotonic()
            self.exiting &= {self._name(m) for m in self.layer.membership().members}
            self._fenced_in_view.clear()
            if event.get("joined") and event.get("left"):
                # A join that evicts someone is often the layer re-forming: let it settle
                # before anyone is declared lost (and fenced).
                self._settle_until = self.clock.monotonic() + JOIN_SETTLE_S
            members = set(self.layer.membership().members)
            names = {self._name(m) for m in members}
            self._seen.update(names)
            if self.is_dc:
                self.fencing.nodes_back(names)
            self.runner.members_now(names)
            self.peers.members_now(names)
            self.kick(f"membership {event.get('members')} (left {event.get('left')})")
        elif kind == "quorum":
            self.kick(f"quorum {'gained' if event.get('quorate') else 'lost'}")
        elif kind == "dc":
            self.kick(f"DC is node {event.get('dc')}")
        elif kind == "cib":
            version = event.get("version") or [0, 0, 0]
            epoch = (int(version[0]), int(version[1]))
            if self._epoch is not None and epoch != self._epoch:
                self.kick(f"configuration changed ({event.get('why')})")
            self._epoch = epoch

    def describe(self) -> dict[str, Any]:
        return {"node": self.name, "is_dc": self.is_dc, "dc": self._name(self.node.cib.dc)
                if self.node.cib.dc is not None else None,
                "transition": self.transition_id, "in_flight": len(self.waiting),
                "fence_failures": self.fence_failures, "fenced": dict(self.fenced),
                "fencing": dict(self.fencing.view), "scheduler_runs": self.scheduler_runs,
                "scheduler": self.scheduler_health.to_dict(),
                "recurring": [op.key for op in self.lrm.recurring.active()]}

    def request_attribute(self, node: str, name: str, value: str | None) -> None:
        """Ask the DC to set (or delete) a transient attribute of ``node``."""
        self.layer.send_ordered(wire.AttrRequest(node, name, value).to_wire())

    def request_ticket(self, ticket: str, attrs: dict[str, str | None]) -> None:
        """Ask the DC to set (or remove) attributes of a ticket's state (crm_ticket)."""
        self.layer.send_ordered(wire.TicketRequest(ticket, attrs).to_wire())

    async def request_fencing(self, target: str, action: str = "reboot") -> dict[str, Any]:
        """Ask the DC to fence ``target`` (``stonith_admin --fence``); wait for the outcome."""
        self.node.cfg.node_by_name(target)  # a ConfigError for an unknown node
        dc = self._name(self.node.cib.dc) if self.node.cib.dc is not None else None
        req = f"{self.name}:{next(self._request_ids)}:{self.uuid}"
        future: asyncio.Future[wire.FenceAnswer] = asyncio.get_running_loop().create_future()
        self._fence_requests[req] = future
        self.layer.send_ordered(wire.FenceRequest(target, action, req).to_wire())
        try:
            answer = await self.clock.wait_for(future, FENCE_REQUEST_TIMEOUT_S)
        except TimeoutError:
            raise ClusterError(f"no outcome of fencing {target} within"
                               f" {FENCE_REQUEST_TIMEOUT_S:.0f}s", target) from None
        finally:
            self._fence_requests.pop(req, None)
        if not answer.ok:
            raise ClusterError(f"fencing of {target} failed: {answer.reason}", target)
        if action == "confirm":
            return {"message": f"{target} confirmed down: the DC {answer.dc} treats"
                               " it as fenced"}
        return {"message": f"{target} fenced ({action}) by {'the DC ' if target != dc else ''}"
                           f"{answer.dc}"}

    async def _manual_fence(self, request: wire.FenceRequest) -> None:
        target, action = request.node, request.action
        if self.last_ws is None:
            xml = st.scheduler_input(self.node.cib.copy.xml, True, self.id, self.clock.time())
            self.last_ws = (await self._plan(xml)).transition.working_set
        if target == self.name and action != "confirm":
            if self._fence_self_by_peer(request, self.last_ws):
                return  # the peer answers the requester; this node will be gone
            ok, why = False, "no other member has a fence device that can fence the DC"
        else:
            ok, why = await self.fence_node(target, action)
        self.layer.send_ordered(wire.FenceAnswer(request.request, ok, why, self.name).to_wire())
        self.kick(f"manual fencing of {target}")

    def _fence_self_by_peer(self, request: wire.FenceRequest, ws: WorkingSet) -> bool:
        """Fencing of the DC asked by an administrator: as Pacemaker's fencer, a peer with
        a device runs it (and answers the requester); the next DC finds this node gone."""
        peers = sorted(self.member_names() - {self.name})
        chain = [(node, plan) for node, plan in (executors(ws, self.name, peers[0], peers)
                                                 if peers else [])
                 if node != self.name and may_fence(plan, self.name)]
        if not chain:
            return False
        executor, plan = chain[0]
        self.log(logging.WARNING, "asked to fence this node (the DC): %s runs it", executor)
        self.layer.send_ordered(wire.FenceExec(request.request, executor, self.name,
                                               request.action, plan.to_wire()).to_wire())
        return True

    def request_cleanup(self, rsc: str | None, node: str | None) -> None:
        """Ask the DC (whoever it is) to clear fail counts and re-probe ``rsc`` (or all)."""
        self.layer.send_ordered(wire.CleanupRequest(rsc, node).to_wire())

    async def _cleanup(self, rsc: str | None, target: str | None) -> None:
        members = self.member_names()
        await self.status.cleanup(rsc, target)
        for name in sorted(members):
            if target is None or name == target:
                self.layer.send_ordered(wire.Forget(name, rsc or "").to_wire())
        self.kick(f"cleanup of {rsc or 'all resources'}")

    async def _shutdown_requested(self, name: str, when: float) -> None:
        await self.status.shutdown_requested(name, when)
        self.kick(f"{name} is shutting down")

    async def _finish_shutdowns(self, ws: WorkingSet) -> bool:
        done = sd.nodes_done(ws, self.exiting)
        for name in done:
            await self.let_go(name)
        return bool(done)

    async def let_go(self, name: str) -> None:
        """A node that asked to shut down has nothing active: it leaves, unfenced."""
        if name in self.exiting:
            return
        await self.status.expected_down(name)
        self.exiting.add(name)
        self.log(logging.INFO, "%s has nothing active: it may leave", name)
        self.layer.send_ordered(wire.Exit(name).to_wire())

    def _name(self, node_id: int) -> str:
        return self.node.name_of(node_id) or str(node_id)

    def _on_deliver(self, d: Delivery) -> None:
        message = wire.decode(d.payload)
        if message is not None:
            self._on_message(message, d.view_id)

    def _on_result(self, result: wire.OpResult) -> None:
        self.reports.result(result.node, result.rsc, result.entry)
        if self.is_dc:
            self.status.queue_result(result)
        else:
            # No longer DC: the new DC records it; our transition only needs to finish.
            self.runner.answer(result)

    def _on_message(self, message: wire.Message, view_id: str) -> None:
        match message:
            case wire.OpResult():
                self._on_result(message)
            case wire.ShutdownRequest(node, when) if self.is_dc:
                self._spawn(self._shutdown_requested(node, when))
            case wire.Exit(node) if node == self.name and self.shutdown.requested:
                self.log(logging.INFO, "the DC moved everything away: leaving the cluster")
                self.shutdown.exit_now()
            case wire.LrmReport(node, lrm, incarnation):
                self.reports.announced(node, view_id, ET.fromstring(lrm))
                self.incarnations[node] = incarnation
                self.status.history_announced(node)  # the status takes it next cycle
                self.kick(f"{node} announced its history")
            case wire.FenceRequest() if self.is_dc:
                self._spawn(self._manual_fence(message))
            case wire.FenceExec():
                self.peers.requested(message)
            case wire.FenceExecDone():
                self.peers.answered(message)
                # A peer fenced the DC for an administrator: the answer is the peer's.
                asked = self._fence_requests.get(message.request)
                if asked is not None and not asked.done():
                    asked.set_result(wire.FenceAnswer(message.request, message.ok,
                                                      message.reason, message.executor))
            case wire.FencingState():
                self.fencing.received(message.state)
            case wire.FenceAnswer(request):
                waiting = self._fence_requests.get(request)
                if waiting is not None and not waiting.done():
                    waiting.set_result(message)
            case wire.AttrRequest(node, name, value) if self.is_dc:
                self._spawn(self.status.set_attribute(node, name, value))
            case wire.TicketRequest(ticket, attrs) if self.is_dc:
                self._spawn(self.status.set_ticket(ticket, attrs))
            case wire.CleanupRequest(rsc, node) if self.is_dc:
                self._spawn(self._cleanup(rsc, node))
            case _:
                pass  # a request for the DC while not DC; OpSpec, Forget: lrm.py's

    def _start_failure_fatal(self) -> bool:
        ws = self.last_ws
        if ws is None:
            return True
        return ws.config.start_failure_is_fatal

    # -- the loop ---------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self.is_dc:
                self._why.clear()
                continue
            try:
                again = await self._cycle()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log(logging.ERROR, "controller cycle failed; retrying in 1s")
                log.exception("[%s] cycle failure", self.name)
                await self.clock.sleep(1.0)
                again = True
            if again:
                self._wake.set()

    async def _cycle(self) -> bool:
        """One round; True when the loop must run again (something was done or is awaited)."""
        if not self.node.cib.synced:
            await self.clock.sleep(0.02)
            return True
        if self.clock.monotonic() < self._settle_until:
            await self.clock.sleep(0.05)
            return True
        membership = self.layer.membership()
        members = {self._name(m) for m in membership.members}
        unreported = [n for n in members
                      if self.reports.view_of(n) != membership.view_id]
        if unreported and self.clock.monotonic() - self._view_since < REPORT_WAIT_S:
            await self.clock.sleep(0.02)
            return True
        root = self.status.cib_root()
        all_nodes = [(str(n.id), n.name) for n in self.node.cfg.nodes]
        # Not seen since this daemon started: whatever the CIB copy says of such a node may
        # predate a clean stop that another copy recorded. As Pacemaker (whose status
        # starts empty), wait up to dc-deadtime for it before it counts as lost.
        unseen = [n for i, n in all_nodes
                  if n not in members and (n not in self._seen
                                           or st.find_node_state(root, i) is None)]
        self._read_options(written_properties(root))
        if unseen and self.clock.monotonic() - self._started < self.options.dc_deadtime_s:
            # Starting up: wait for every node (or the deadline) before fencing unseen ones.
            self.log(logging.DEBUG, "waiting for nodes %s to join", unseen)
            await self.clock.sleep(0.1)
            return True
        if await self.status.sync(membership.view_id, members, self.reports,
                                  self.incarnations, self._fenced_in_view):
            return True
        # Results already answered (the graph went on) are in the copy before it is read.
        await self.status.recorded()
        # Serialised in the worker thread: the copy's tree is never modified (copy on write).
        xml = await self.parts.worker(st.scheduler_input, self.node.cib.copy.root,
                                      self.layer.quorum().quorate, self.id, self.clock.time())
        key = undated(xml)
        if self.runner.held_back(key):
            self._why.clear()
            return False
        plan = await self._plan(xml)
        transition = plan.transition
        self.last_ws = transition.working_set
        self._read_options(dict(transition.working_set.config.properties))
        self.fencing.configuration(transition.working_set)
        self._arm_recheck(transition.working_set)
        if await self.prober.probe_missing(transition.working_set, members,
                                           membership.view_id, self.reports):
            return True
        why = "; ".join(dict.fromkeys(self._why)) or "recheck"
        self._why.clear()
        again = await self.runner.execute(plan, why)
        if not again and await self._finish_shutdowns(transition.working_set):
            return True
        return again

    async def _plan(self, xml: str) -> Plan:
        """The scheduler and graph builder in a worker thread: the event loop (heartbeats,
        messages, results) keeps running while a big configuration is scheduled."""
        self.scheduler_runs += 1
        try:
            plan = await self.parts.worker(make_plan, xml, self.parts.scheduler)
        except SchedulerFailure as exc:
            if self.scheduler_health.record(str(exc), None, self.clock.time()):
                self.log(logging.ERROR, "the scheduler fails on this CIB: %s", exc)
            raise
        if self.scheduler_health.record(plan.error, plan.skipped, self.clock.time()):
            if plan.error:
                self.log(logging.ERROR, "the scheduler fails on this CIB (%s): scheduling"
                         " everything but %s, left as they are", plan.error,
                         ", ".join(plan.skipped))
            else:
                self.log(logging.WARNING, "the scheduler runs on the whole CIB again")
        return plan

    # -- fencing ----------------------------------------------------------------------------
    async def fence_in_transition(self, target: str, action: str) -> ActionOutcome:
        """A transition's fencing, as the coordinator's policy retries and gives it up."""
        return await self.fencing.fence(target, lambda: self.fence_node(target, action),
                                        self.runner.wait_unless_aborted,
                                        max_attempts(self.last_ws))

    async def _fence_from_members(self, ws: WorkingSet, target: str,
                                  action: str) -> FenceResult:
        """One attempt: the DC's devices, then those of peers (``fenceexec.executors``)."""
        chain = executors(ws, target, self.name, self.member_names())
        failures: list[str] = []
        for executor, plan in chain:
            self.log(logging.WARNING, "fencing %s (%s)%s", target, action,
                     "" if executor == self.name else f" from {executor}")
            result = await (self._run_fence_plan(plan, target, action)
                            if executor == self.name
                            else self.peers.ask(executor, plan, target, action))
            if result.ok:
                return result
            failures.append(result.reason if len(chain) == 1
                            else f"from {executor}: {result.reason}")
        return FenceResult(target, action, False, "; ".join(failures))

    async def _run_fence_plan(self, plan: FencePlan, target: str,
                              action: str) -> FenceResult:
        return await self.parts.fencer.fence(plan, target, action, self.name)

    async def fence_node(self, target: str, action: str) -> tuple[bool, str]:
        ws = self.last_ws
        if ws is None:
            return False, "no configuration known"
        if action == "confirm":
            # stonith_admin --confirm: an administrator says the node is down; no device.
            if target in self.member_names():
                return False, f"{target} is a member of the cluster: it is not down"
            how = "confirmed down by an administrator (no device was run)"
            self.parts.fencer.confirmed(target)
        else:
            result = await self._fence_from_members(ws, target, action)
            if not result.ok:
                if self.history is not None:
                    self.history.fencing_failed(target, action, result.reason)
                return False, result.reason
            how = result.describe()
        self.fencing.succeeded(target)
        self.fenced.setdefault(target, []).append(self.clock.time())
        self._fenced_in_view.add(target)
        self.log(logging.WARNING, "fenced %s: %s", target, how)
        self.reports.forget(target)
        await self.status.record_fenced(target)
        return True, ""
