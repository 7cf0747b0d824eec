"""The controller: on the DC, turns every relevant event into a scheduler run and a transition.

Every node runs one ``Controller``; only the DC's acts. Events (membership, quorum, a DC
change, a configuration change, an unexpected operation result, a node's history) wake the
loop, which then:

1. writes the membership of every node and the history the nodes announced into the status
   section (the DC is the only writer of the status; nodes own their history);
2. probes every configured resource on every member that has no history of it (how a
   restarted daemon finds the resources it left running);
3. runs the scheduler on the CIB (quorum and DC stamped in), saves input and graph in the
   bounded ``pe-input``/``pe-graph`` series, and executes the graph with ``DcHandlers``;
4. a failed action or a new event aborts the transition; the loop then computes a new one.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import logging
import os
import uuid
import xml.etree.ElementTree as ET
from typing import Any

from defib.attrd import store as attrd
from defib.cib.options import ClusterOptions
from defib.clock import Clock, Timer
from defib.cluster.client import SOCKET_NAME
from defib.cluster.layer import Delivery
from defib.cluster.node import ClusterNode
from defib.controller import shutdown as sd
from defib.controller import status as st
from defib.controller import wire
from defib.controller.fencecoord import FencingCoordinator
from defib.controller.fencing import FencingPolicy, max_attempts
from defib.controller.lrm import LrmService
from defib.controller.parts import Parts
from defib.controller.transitions import (
    NEVER,
    PeRecorder,
    Plan,
    RetryGate,
    make_plan,
    undated,
    written_properties,
)
from defib.errors import ClusterError, DefibError
from defib.executor.types import OcfRc
from defib.graph.build import lrm_id
from defib.graph.executor import ActionOutcome, GraphExecutor, GraphReport, OutcomeStatus
from defib.graph.model import GraphAction
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
        self.lrm = LrmService(node.layer, node.node.id, self.name, parts.executor, self.clock)
        self.series = parts.series
        self.uuid = str(uuid.uuid4())
        # Every node keeps every node's announced history: whoever becomes DC has it.
        self.reports: dict[str, tuple[str, ET.Element]] = {}
        self.incarnations: dict[str, str] = {}  # node -> its executor's, as it announced
        self._seen: set[str] = set()  # nodes that were members since this daemon started
        self.waiting: dict[str, tuple[str, asyncio.Future[dict[str, Any]]]] = {}
        self.write_lock = asyncio.Lock()
        self.fenced: dict[str, list[float]] = {}
        self.fencing = FencingCoordinator(self.name, self.layer.send_ordered, self._log,
                                          FencingPolicy(self.clock.monotonic, self.clock.time))
        self._aborting = asyncio.Event()  # set when the running transition is aborted
        self.scheduler_runs = 0
        self.recorder = PeRecorder(self.series)
        self.history: TransitionObserver | None = None  # defib.history's recorder
        self.gate = RetryGate()
        self._retry: Timer | None = None
        self.transition_id = -1
        self.last_ws: WorkingSet | None = None
        self._wake = asyncio.Event()
        self._cib_changed = asyncio.Event()
        self._why: list[str] = []
        self._executor: GraphExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._epoch: tuple[int, int] | None = None
        self._started = self.clock.monotonic()
        self._view_since = self.clock.monotonic()
        self._settle_until = 0.0
        self._probing: set[tuple[str, str]] = set()
        self._probe_ids = itertools.count(100000)
        self._exiting: set[str] = set()
        self._fence_requests: dict[str, asyncio.Future[wire.FenceAnswer]] = {}
        # Fenced while still in the view (a manual fence): dead, though not yet detected.
        self._fenced_in_view: set[str] = set()
        self._recheck: Timer | None = None
        self._results: list[dict[str, Any]] = []  # operation results not yet recorded
        # Node -> id() of the announced history last written whole into the status.
        self._lrm_synced: dict[str, int] = {}
        self._recording = False
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
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        for task in list(self._tasks):
            task.cancel()
        await self.lrm.stop()

    @property
    def is_dc(self) -> bool:
        return self.node.cib.dc == self.node.node.id

    def _log(self, level: int, msg: str, *args: object) -> None:
        log.log(level, "[%s t%d] " + msg, self.name, self.transition_id, *args)

    def kick(self, why: str, abort: bool = True) -> None:
        self._why.append(why)
        self._wake.set()
        if abort and self._executor is not None and not self._executor.aborted:
            self._executor.abort(why)
            self._aborting.set()

    @property
    def fence_failures(self) -> dict[str, str]:
        return self.fencing.reasons()

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
        self.gate.force()  # the input may be the same: time alone changes the answer
        self.kick("recheck (failure expiry or recheck interval)", abort=False)

    def _read_options(self, properties: dict[str, str]) -> None:
        """Take the cluster options of the CIB; every problem with them is logged once."""
        options = ClusterOptions.read(properties)
        for why in options.problems:
            if why not in self.options.problems:
                self._log(logging.WARNING, "cluster option: %s", why)
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
            self._exiting &= {self._name(m) for m in self.layer.membership().members}
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
            for key, (node, future) in list(self.waiting.items()):
                if node not in names and not future.done():
                    future.set_result({"lost": True, "key": key})
            self.kick(f"membership {event.get('members')} (left {event.get('left')})")
        elif kind == "quorum":
            self.kick(f"quorum {'gained' if event.get('quorate') else 'lost'}")
        elif kind == "dc":
            self.kick(f"DC is node {event.get('dc')}")
        elif kind == "cib":
            self._cib_changed.set()
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
                "recurring": [op.key for op in self.lrm.recurring.active()]}

    def request_attribute(self, node: str, name: str, value: str | None) -> None:
        """Ask the DC to set (or delete) a transient attribute of ``node``."""
        self.layer.send_ordered(wire.AttrRequest(node, name, value).to_wire())

    async def _set_attribute(self, name: str, attr: str, value: str | None) -> None:
        node_id = self._node_id(name)
        async with self.write_lock:
            current = self._node_state(node_id)
            if current is None:
                self._log(logging.WARNING, "attribute %s for unknown node %s ignored", attr,
                          name)
                return
            new = st._fresh(node_id, name, current)
            if attrd.set_attr(new, attr, value):
                await self._patch(new)
                self._log(logging.INFO, "attribute %s of %s = %s", attr, name, value)
                self.kick(f"attribute {attr} of {name}")

    async def request_fencing(self, target: str, action: str = "reboot") -> dict[str, Any]:
        """Ask the DC to fence ``target`` (``stonith_admin --fence``); wait for the outcome."""
        self.node.cfg.node_by_name(target)  # a ConfigError for an unknown node
        req = f"{self.name}:{next(self._probe_ids)}:{self.uuid}"
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
        return {"message": f"{target} fenced ({action}) by the DC {answer.dc}"}

    async def _manual_fence(self, request: wire.FenceRequest) -> None:
        target, action = request.node, request.action
        if target == self.name:
            ok, why = False, "the DC does not fence itself"
        else:
            if self.last_ws is None:
                xml = st.scheduler_input(self.node.cib.copy.xml, True, self.id,
                                         self.clock.time())
                self.last_ws = (await self._plan(xml)).transition.working_set
            ok, why = await self.fence_node(target, action)
        self.layer.send_ordered(wire.FenceAnswer(request.request, ok, why, self.name).to_wire())
        self.kick(f"manual fencing of {target}")

    async def clear_failcount(self, rsc: str, name: str) -> None:
        """The scheduler's ``clear_failcount``: an expired failure or a changed definition."""
        node_id = self._node_id(name)
        async with self.write_lock:
            current = self._node_state(node_id)
            if current is None:
                return
            new = st._fresh(node_id, name, current)
            if attrd.cleanup(new, rsc):
                await self._patch(new)
                self._log(logging.INFO, "fail count of %s on %s cleared", rsc, name)

    def request_cleanup(self, rsc: str | None, node: str | None) -> None:
        """Ask the DC (whoever it is) to clear fail counts and re-probe ``rsc`` (or all)."""
        self.layer.send_ordered(wire.CleanupRequest(rsc, node).to_wire())

    async def _cleanup(self, rsc: str | None, target: str | None) -> None:
        members = {self._name(m) for m in self.layer.membership().members}
        async with self.write_lock:
            for cfg_node in self.node.cfg.nodes:
                if target is not None and cfg_node.name != target:
                    continue
                current = self._node_state(str(cfg_node.id))
                if current is None:
                    continue
                new = st._fresh(str(cfg_node.id), cfg_node.name, current)
                removed = attrd.cleanup(new, rsc)
                if removed:
                    self._log(logging.INFO, "cleanup on %s: cleared %s", cfg_node.name,
                              ", ".join(removed))
                    await self._patch(new)
        for name in sorted(members):
            if target is None or name == target:
                self.layer.send_ordered(wire.Forget(name, rsc or "").to_wire())
        self.kick(f"cleanup of {rsc or 'all resources'}")

    async def _shutdown_requested(self, name: str, when: float) -> None:
        node_id = self._node_id(name)
        async with self.write_lock:
            current = self._node_state(node_id)
            await self._patch(sd.with_shutdown_attr(current, node_id, name, when))
        self.kick(f"{name} is shutting down")

    async def _finish_shutdowns(self, ws: WorkingSet) -> bool:
        done = sd.nodes_done(ws, self._exiting)
        for name in done:
            await self.let_go(name)
        return bool(done)

    async def let_go(self, name: str) -> None:
        """A node that asked to shut down has nothing active: it leaves, unfenced."""
        if name in self._exiting:
            return
        node_id = self._node_id(name)
        async with self.write_lock:
            current = self._node_state(node_id)
            await self._patch(sd.expected_down(current, node_id, name))
        self._exiting.add(name)
        self._log(logging.INFO, "%s has nothing active: it may leave", name)
        self.layer.send_ordered({"t": sd.EXIT, "node": name})

    def _name(self, node_id: int) -> str:
        return self.node.name_of(node_id) or str(node_id)

    def _on_deliver(self, d: Delivery) -> None:
        message = wire.decode(d.payload)
        if message is not None:
            self._on_message(message, d.view_id)
            return
        kind = d.payload.get("t")
        if kind == sd.SHUTDOWN:
            if self.is_dc:
                self._spawn(self._shutdown_requested(str(d.payload["node"]),
                                                     float(d.payload.get("time", 0))))
        elif kind == sd.EXIT:
            if d.payload.get("node") == self.name and self.shutdown.requested:
                self._log(logging.INFO, "the DC moved everything away: leaving the cluster")
                self.shutdown.exit_now()
        elif kind == wire.RESULT:
            node = str(d.payload["node"])
            entry = ET.fromstring(str(d.payload["entry"]))
            if node in self.reports:
                st.replace_lrm_resource(self.reports[node][1], entry)
            if self.is_dc:
                self._queue_result(d.payload)
            else:
                # No longer DC: the new DC records it; our transition only needs to finish.
                waiter = self.waiting.get(str(d.payload.get("key")))
                if waiter is not None and not waiter[1].done():
                    waiter[1].set_result(d.payload)

    def _on_message(self, message: wire.Message, view_id: str) -> None:
        match message:
            case wire.LrmReport(node, lrm, incarnation):
                self.reports[node] = (view_id, ET.fromstring(lrm))
                self.incarnations[node] = incarnation
                self._lrm_synced.pop(node, None)  # the status takes it at the next cycle
                self.kick(f"{node} announced its history")
            case wire.FenceRequest() if self.is_dc:
                self._spawn(self._manual_fence(message))
            case wire.FencingState():
                self.fencing.received(message.state)
            case wire.FenceAnswer(request):
                waiting = self._fence_requests.get(request)
                if waiting is not None and not waiting.done():
                    waiting.set_result(message)
            case wire.AttrRequest(node, name, value) if self.is_dc:
                self._spawn(self._set_attribute(node, name, value))
            case wire.CleanupRequest(rsc, node) if self.is_dc:
                self._spawn(self._cleanup(rsc, node))
            case _:
                pass  # a request for the DC while not DC; Forget is the nodes' (lrm.py)

    # -- recording --------------------------------------------------------------------------
    def _cib_root(self) -> ET.Element:
        """The current CIB tree, shared with the replicator: read it, never modify it."""
        return self.node.cib.copy.root

    def _node_state(self, node_id: str) -> ET.Element | None:
        """A private copy of one node's status entry, to build a change from."""
        current = st.find_node_state(self._cib_root(), node_id)
        return copy.deepcopy(current) if current is not None else None

    async def _patch(self, node_state: ET.Element) -> None:
        await self._change({"op": "patch_status",
                            "xml": ET.tostring(node_state, encoding="unicode")})

    async def _change(self, change: dict[str, Any]) -> None:
        """Commit a change; on the DC, return once the DC's own copy has it.

        The replicator answers only when every member acked, or after its ack timeout; a
        member that died a moment ago would hold recovery back by that timeout. The DC is
        the only writer of the status (under ``write_lock``), so the first new version of
        its own copy is this change; the acks keep being collected in the background.
        """
        before = self.node.cib.copy.version
        task = asyncio.ensure_future(self.node.change(change))
        self._tasks.add(task)
        task.add_done_callback(self._change_done)
        while not task.done():
            self._cib_changed.clear()
            if self.is_dc and self.node.cib.copy.version > before:
                return
            waiter = asyncio.ensure_future(self._cib_changed.wait())
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
        task.result()

    def _change_done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._log(logging.WARNING, "CIB change not confirmed: %s", task.exception())

    def _queue_result(self, payload: dict[str, Any]) -> None:
        self._results.append(payload)
        if not self._recording:
            self._recording = True
            self._spawn(self._record_results())

    async def _record_results(self) -> None:
        """Record operation results in as few CIB changes as possible: whatever arrived
        while one change was being committed goes into the next, as one diff."""
        try:
            while self._results:
                batch, self._results = self._results, []
                await self._record(batch)
        finally:
            self._recording = False

    async def _record(self, batch: list[dict[str, Any]]) -> None:
        """One CIB change for ``batch``: each result's history entry (as its node sent it)
        replaces the resource's entry in place, and a failure updates the node's fail
        counts; then whoever waits for these results is answered."""
        try:
            async with self.write_lock:
                updates: list[dict[str, Any]] = []
                failed: dict[str, ET.Element] = {}
                for payload in batch:
                    node = str(payload["node"])
                    node_id = self._node_id(node)
                    updates.append({"id": node_id, "uname": node,
                                    "lrm_resource": str(payload["entry"])})
                    if _real_failure(payload):
                        if node_id not in failed:
                            failed[node_id] = self._attributes_of(node_id)
                        self._count_failure(failed[node_id], payload)
                for node_id, state in failed.items():
                    attrs = state.find("transient_attributes")
                    if attrs is not None:
                        updates.append({"id": node_id, "uname": state.get("uname"),
                                        "child": ET.tostring(attrs, encoding="unicode")})
                await self._change({"op": "update_status", "updates": updates})
        except DefibError as exc:
            self._log(logging.ERROR, "could not record %d results (%s...): %s", len(batch),
                      batch[0].get("op_key"), exc)
            for payload in batch:  # the next cycle writes these nodes' whole history
                self._lrm_synced.pop(str(payload["node"]), None)
        for payload in batch:
            key = payload.get("key")
            waiter = self.waiting.get(str(key)) if key else None
            if waiter is not None and not waiter[1].done():
                waiter[1].set_result(payload)
            elif _real_failure(payload):
                self.kick(f"{payload.get('op_key')} failed on {payload['node']}")

    def _attributes_of(self, node_id: str) -> ET.Element:
        """A private ``node_state`` holding a copy of the node's transient attributes."""
        current = st.find_node_state(self._cib_root(), node_id)
        state = ET.Element("node_state", {"id": node_id,
                                          "uname": current.get("uname", node_id)
                                          if current is not None else node_id})
        attrs = current.find("transient_attributes") if current is not None else None
        if attrs is not None:
            state.append(copy.deepcopy(attrs))
        return state

    def _count_failure(self, state: ET.Element, payload: dict[str, Any]) -> None:
        fatal = payload.get("action") == "start" and self._start_failure_fatal()
        count = attrd.record_failure(state, str(payload["rsc"]), str(payload.get("action")),
                                     int(payload.get("interval", 0)), self.clock.time(),
                                     fatal)
        self._log(logging.WARNING, "%s on %s failed: rc=%s status=%s %s (fail count %d)",
                  payload.get("op_key"), payload["node"], payload.get("rc"),
                  payload.get("status"), payload.get("reason") or "", count)

    def _start_failure_fatal(self) -> bool:
        ws = self.last_ws
        if ws is None:
            return True
        return ws.config.start_failure_is_fatal

    def _node_id(self, name: str) -> str:
        for cfg_node in self.node.cfg.nodes:
            if cfg_node.name == name:
                return str(cfg_node.id)
        return name

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
                self._log(logging.ERROR, "controller cycle failed; retrying in 1s")
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
                      if self.reports.get(n, ("", None))[0] != membership.view_id]
        if unreported and self.clock.monotonic() - self._view_since < REPORT_WAIT_S:
            await self.clock.sleep(0.02)
            return True
        root = self._cib_root()
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
            self._log(logging.DEBUG, "waiting for nodes %s to join", unseen)
            await self.clock.sleep(0.1)
            return True
        if await self._sync_status(membership.view_id, members):
            return True
        # Serialised in the worker thread: the copy's tree is never modified (copy on write).
        xml = await self.parts.worker(st.scheduler_input, self.node.cib.copy.root,
                                      self.layer.quorum().quorate, self.id, self.clock.time())
        key = undated(xml)
        if self._held_back(key):
            return False
        plan = await self._plan(xml)
        transition = plan.transition
        self.last_ws = transition.working_set
        self._read_options(dict(transition.working_set.config.properties))
        self.fencing.configuration(transition.working_set)
        self._arm_recheck(transition.working_set)
        if await self._probe_missing(transition.working_set, members, membership.view_id):
            return True
        why = "; ".join(dict.fromkeys(self._why)) or "recheck"
        self._why.clear()
        again = await self._execute(plan, why)
        if not again and await self._finish_shutdowns(transition.working_set):
            return True
        return again

    async def _sync_status(self, view_id: str, members: set[str]) -> bool:
        """Write membership and announced histories; True when the CIB was changed."""
        changed = False
        async with self.write_lock:
            nodes_section = st.ensure_nodes(self._cib_root(), [(str(n.id), n.name)
                                                               for n in self.node.cfg.nodes])
            if nodes_section is not None:
                # Based on the configuration it was read from: never over a node attribute
                # written meanwhile (a refused change is retried by the next cycle).
                await self._change({"op": "replace_section", "section": "nodes",
                                    "xml": ET.tostring(nodes_section, encoding="unicode"),
                                    "base": list(self.node.cib.copy.version[:2])})
                changed = True
            for cfg_node in self.node.cfg.nodes:
                node_id, name = str(cfg_node.id), cfg_node.name
                # Shared with the CIB copy: member_state and lost_state build a new element
                # and leave this one (and its children) untouched.
                current = st.find_node_state(self._cib_root(), node_id)
                if name in members and name in self._fenced_in_view:
                    continue
                if name in members:
                    report = self.reports.get(name)
                    joined = report is not None and report[0] == view_id
                    # The whole announced history goes in once per announcement; results
                    # then update both it and the status entry by entry.
                    lrm = report[1] if joined and report and self._lrm_synced.get(
                        name) != id(report[1]) else None
                    new = st.member_state(current, node_id, name, joined, lrm,
                                          self.incarnations.get(name) if joined else None)
                    if lrm is not None:
                        self._lrm_synced[name] = id(lrm)
                elif current is None:
                    continue
                elif current.get("in_ccm") == "false" and current.get("crmd") == "offline":
                    continue  # already recorded as gone (or fenced)
                else:
                    new = st.lost_state(current, node_id, name)
                    self._log(logging.WARNING, "node %s is lost (expected %s)", name,
                              current.get("expected"))
                if not st.same(current, new):
                    await self._patch(new)
                    changed = True
        return changed

    async def _probe_missing(self, ws: WorkingSet, members: set[str], view_id: str) -> bool:
        if not self.options.enable_startup_probes:
            return False  # enable-startup-probes=false: Pacemaker probes nothing either
        wanted: dict[tuple[str, str], Any] = {}
        known = {node: st.known_resources(report[1]) for node in members
                 if (report := self.reports.get(node)) is not None and report[0] == view_id}
        for prim in ws.all_primitives():
            rid = lrm_id(prim)
            for node, resources in known.items():
                if rid in resources or (node, rid) in self._probing:
                    continue
                wanted.setdefault((node, rid), prim)
        if not wanted:
            return False
        self._log(logging.INFO, "probing %s", ", ".join(f"{r}@{n}" for n, r in wanted))
        self._probing.update(wanted)
        try:
            specs = [
                wire.OpSpec(node, rid, prim.rsc_class or "", prim.type or "", prim.provider,
                            "monitor", 0, 20000, dict(prim.params),
                            {"on_node": node, "on_node_uuid": self._node_id(node)},
                            f"{next(self._probe_ids)}:{self.transition_id}:"
                            f"{int(OcfRc.NOT_RUNNING)}:{self.uuid}")
                for (node, rid), prim in wanted.items()
            ]
            await asyncio.gather(*(self.remote_op(s) for s in specs))
        finally:
            self._probing.difference_update(wanted)
        return True

    async def _plan(self, xml: str) -> Plan:
        """The scheduler and graph builder in a worker thread: the event loop (heartbeats,
        messages, results) keeps running while a big configuration is scheduled."""
        self.scheduler_runs += 1
        return await self.parts.worker(make_plan, xml)

    def _held_back(self, key: str) -> bool:
        """True when the last transition failed on this same input and its retry is not
        due: running it again now would only fail the same way, in a loop."""
        remaining = self.gate.remaining(key, self.clock.monotonic())
        if remaining <= 0:
            return False
        self._why.clear()
        if self._retry is None and remaining != NEVER:
            self._log(logging.INFO, "input unchanged since the failed transition: run again"
                      " in %.1fs (or on the next change)", remaining)
            self._retry = self.clock.call_later(remaining, self._retry_due)
        return True

    def _retry_due(self) -> None:
        self._retry = None
        self.kick("retry of the failed transition", abort=False)

    def _after(self, key: str, report: GraphReport | None) -> None:
        """Remember how the transition of input ``key`` ended, for ``_held_back``."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        failed = [] if report is None else list(report.failed)
        # A fencing given up on fails the same way until something changes.
        retryable = not all(r.action.operation == "stonith"
                            and self.fencing.gave_up(r.action.node_uname or "")
                            for r in failed)
        self.gate.ended(key, bool(failed), retryable, self.clock.monotonic(),
                        complete=report is None or report.complete)

    async def _execute(self, plan: Plan, why: str) -> bool:
        transition, key = plan.transition, plan.key
        graph = self.recorder.number(plan)
        number = self.transition_id = graph.transition_id
        if all(syn.action.operation == "do_shutdown" and syn.action.node_uname in self._exiting
               for syn in graph):
            # Nothing to do but wait for nodes already told to leave.
            self._log(logging.INFO, "idle (nothing to do; cause: %s) pe-input-%d", why, number)
            self._write_state(None)
            self._after(key, None)
            return False
        self._log(logging.INFO, "transition %d: %d actions (cause: %s), pe-input-%d:\n%s",
                  number, len(graph), why, number, "\n".join(transition.summary))
        if self.history is not None:
            self.history.transition_started(number, why, transition.summary, len(graph))
        delay = self.options.transition_delay_s
        if delay > 0:
            # transition-delay: let further events arrive; one that does replaces this graph.
            await self.clock.sleep(delay)
            if self._wake.is_set():
                self._log(logging.INFO, "transition %d dropped: new events during the"
                          " transition-delay of %.1fs", number, delay)
                return True
        started = self.clock.monotonic()
        self._aborting.clear()
        self.parts.observer.transition_started(number, why, len(graph))
        self._executor = GraphExecutor(graph, DcHandlers(self, number), name="transition",
                                       node_limit=node_action_limit(transition.working_set))
        try:
            report = await self._executor.run()
        finally:
            self._executor = None
        self._after(key, report)
        self.parts.observer.transition_ended(number, report)
        self._log(logging.INFO, "transition %d %s in %.3fs: %d run, %d failed, %d not run%s",
                  number, "complete" if report.complete else "aborted",
                  self.clock.monotonic() - started, len(report.runs), len(report.failed),
                  len(report.not_run),
                  f" ({report.abort_reason})" if report.abort_reason else "")
        self._write_state(report)
        if self.history is not None:
            self.history.transition_ended(number, report.complete, len(report.runs), [
                r.action.describe() + ": " + r.outcome.message for r in report.failed],
                report.abort_reason)
        return bool(report.runs) or report.aborted

    def _write_state(self, report: GraphReport | None) -> None:
        """controller.json in the DC's state dir: what `defib` tools show about recovery."""
        state = {
            "dc": self.name, "transition": self.transition_id, "time": self.clock.time(),
            "fence_failures": self.fence_failures, "fenced": self.fenced,
            "fencing": self.fencing.view,
            "last": None if report is None else {
                "complete": report.complete, "abort_reason": report.abort_reason,
                "failed": [r.action.describe() + ": " + r.outcome.message
                           for r in report.failed],
            },
        }
        self.parts.publish_state(state)

    # -- what handlers call ---------------------------------------------------------------------
    async def remote_op(self, spec: wire.OpSpec) -> dict[str, Any]:
        """Send one operation to its node; the recorded result (or a "lost"/"timeout" one)."""
        key = str(spec.transition_key)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[key] = (spec.node, future)
        try:
            if spec.node not in {self._name(m) for m in self.layer.membership().members}:
                return {"lost": True, "key": key}
            self.layer.send_ordered(spec.to_wire())
            # Pacemaker's transition timer: the action's timeout plus cluster-delay.
            return await self.clock.wait_for(future, spec.timeout_ms / 1000
                                             + self.options.cluster_delay_s)
        except TimeoutError:
            return {"timeout": True, "key": key}
        finally:
            self.waiting.pop(key, None)

    async def _wait_unless_aborted(self, seconds: float) -> bool:
        """Sleep ``seconds``; False as soon as the running transition is aborted."""
        try:
            await self.clock.wait_for(self._aborting.wait(), seconds)
        except TimeoutError:
            return True
        return False

    async def fence_in_transition(self, target: str, action: str) -> ActionOutcome:
        """A transition's fencing, as the coordinator's policy retries and gives it up."""
        return await self.fencing.fence(target, lambda: self.fence_node(target, action),
                                        self._wait_unless_aborted,
                                        max_attempts(self.last_ws))

    async def fence_node(self, target: str, action: str) -> tuple[bool, str]:
        ws = self.last_ws
        if ws is None:
            return False, "no configuration known"
        if action == "confirm":
            # stonith_admin --confirm: an administrator says the node is down; no device.
            if target in {self._name(m) for m in self.layer.membership().members}:
                return False, f"{target} is a member of the cluster: it is not down"
            how = "confirmed down by an administrator (no device was run)"
            self.parts.fencer.confirmed(target)
        else:
            self._log(logging.WARNING, "fencing %s (%s)", target, action)
            result = await self.parts.fencer.fence(ws, target, action, self.name)
            self.parts.observer.fencing_done(target, action, result.ok, result.reason)
            if not result.ok:
                if self.history is not None:
                    self.history.fencing_failed(target, action, result.reason)
                return False, result.reason
            how = result.describe()
        self.fencing.succeeded(target)
        self.fenced.setdefault(target, []).append(self.clock.time())
        self._fenced_in_view.add(target)
        self._log(logging.WARNING, "fenced %s: %s", target, how)
        node_id = self._node_id(target)
        self.reports.pop(target, None)
        async with self.write_lock:
            current = self._node_state(node_id)
            await self._patch(st.fenced_state(current, node_id, target))
        return True, ""

    def _role_target_rc(self, action: GraphAction) -> int:
        """rc 8 for a recurring monitor of the Promoted role (when the graph says nothing)."""
        ws = self.last_ws
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

    def op_spec(self, action: GraphAction, transition_id: int) -> wire.OpSpec:
        attrs = action.attrs
        given = attrs.get("CRM_meta_op_target_rc")
        target_rc = int(given) if given else self._role_target_rc(action)
        params = {k: v for k, v in attrs.items() if not k.startswith("CRM_meta_")}
        skip = {"timeout", "interval", "name", "op_target_rc"}
        meta = {k[len("CRM_meta_"):]: v for k, v in attrs.items()
                if k.startswith("CRM_meta_") and k[len("CRM_meta_"):] not in skip}
        timeout = int(attrs.get("CRM_meta_timeout", "20000") or 20000)
        return wire.OpSpec(
            action.node_uname or "", action.rsc_id or "", action.rsc_class or "",
            action.rsc_type or "", action.rsc_provider, action.operation, action.interval_ms,
            timeout, params, meta, f"{action.id}:{transition_id}:{target_rc}:{self.uuid}",
        )


def node_action_limit(ws: WorkingSet) -> int:
    """``node-action-limit``: resource actions in flight per node; by default, as in
    Pacemaker, twice the number of cores (every node is assumed to have the DC's)."""
    limit = ClusterOptions.read(ws.config.properties).node_action_limit
    return limit if limit > 0 else 2 * (os.cpu_count() or 1)


def _real_failure(payload: dict[str, Any]) -> bool:
    """A failed operation that counts (a probe finding a resource stopped or running is
    information, not a failure)."""
    if not payload.get("failed"):
        return False
    probe = payload.get("action") == "monitor" and int(payload.get("interval", 0)) == 0
    return not (probe and int(payload.get("rc", 1)) in (OcfRc.OK, OcfRc.NOT_RUNNING,
                                                         OcfRc.RUNNING_PROMOTED))


class DcHandlers:
    """``ActionHandlers`` for live transitions."""

    def __init__(self, controller: Controller, transition_id: int) -> None:
        self.ctl = controller
        self.tid = transition_id

    async def execute(self, action: GraphAction) -> ActionOutcome:
        if action.kind == "pseudo_event":
            return ActionOutcome.success()
        if action.kind == "crm_event":
            if action.operation == "stonith":
                return await self.ctl.fence_in_transition(
                    action.node_uname or "", action.attrs.get("CRM_meta_stonith_action",
                                                              "reboot"))
            if action.operation == "clear_failcount" and action.rsc_id and action.node_uname:
                await self.ctl.clear_failcount(action.rsc_id, action.node_uname)
            elif action.operation == "lrm_delete" and action.rsc_id and action.node_uname:
                self.ctl.layer.send_ordered(wire.Forget(action.node_uname,
                                                        action.rsc_id).to_wire())
            elif action.operation == "do_shutdown" and action.node_uname:
                await self.ctl.let_go(action.node_uname)  # what it ran has stopped
            return ActionOutcome.success()
        if action.operation == "delete" and action.rsc_id and action.node_uname:
            # Not an agent action: the node forgets the (orphaned) resource's history.
            self.ctl.layer.send_ordered(wire.Forget(action.node_uname,
                                                    action.rsc_id).to_wire())
            return ActionOutcome.success()
        spec = self.ctl.op_spec(action, self.tid)
        t0 = self.ctl.clock.monotonic()
        result = await self.ctl.remote_op(spec)
        if result.get("lost"):
            return ActionOutcome(OutcomeStatus.CANCELLED, 1, f"{spec.node} left the cluster")
        if result.get("timeout"):
            return ActionOutcome(OutcomeStatus.TIMED_OUT, 1, "no result from the node")
        rc = int(result.get("rc", 1))
        self.ctl._log(logging.INFO, "%s on %s: rc=%d (%.0fms)", action.operation_key,
                      spec.node, rc, (self.ctl.clock.monotonic() - t0) * 1000)
        if result.get("failed"):
            return ActionOutcome.failure(rc, str(result.get("reason") or ""))
        return ActionOutcome.success(rc)
