"""The executor side of every node: runs what the DC asks, keeps the node's own operation
history (the ``lrm`` section, as Pacemaker's controller caches it) and reports results.

The node is the authority on its own history: each result goes out with the resource's
whole ``lrm_resource`` entry, and on every membership change the whole ``lrm`` section is
announced, so a new DC (or a DC that missed a message) rebuilds the status from the nodes.
A freshly started daemon has an empty history: the DC probes it, which is how a restarted
daemon finds (reattaches to) resources that kept running.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import os
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from defib.clock import Clock, RealClock
from defib.cluster.layer import ClusterLayer, Delivery, Membership
from defib.controller import wire
from defib.executor.env import ExecutorConfig
from defib.executor.metadata import AgentMetadata
from defib.executor.record import forget_resource, lrm_resource_el, record_op
from defib.executor.recurring import RecurringScheduler
from defib.executor.runner import AgentExecutor, LocalExecutor, ensure_run_dir
from defib.executor.types import ExecStatus, OcfRc, Operation, OpResult, ResourceInfo
from defib.fencing.agent import FenceAgentRunner

log = logging.getLogger("defib.lrm")
STONITH_CALLS_FROM = 1_000_000  # stonith "operations" get their own call-id range


SBIN = Path(__file__).resolve().parent / "sbin"


def agent_env(node_name: str, run_dir: Path, control_socket: Path | None) -> dict[str, str]:
    """What agents of this node see besides the OCF variables: Pacemaker's attribute tools
    (``HA_SBIN_DIR``, first on ``PATH``) answered by this daemon, and, in a local cluster,
    the node's own ``HA_VARRUN`` (agents keep state there that must not be shared)."""
    env = {"HA_SBIN_DIR": str(SBIN), "PATH": f"{SBIN}:{os.environ.get('PATH', '')}",
           "DEFIB_PYTHON": sys.executable, "DEFIB_NODE_NAME": node_name}
    if control_socket is not None:
        env["DEFIB_CONTROL_SOCKET"] = str(control_socket)
    if os.environ.get("DEFIB_LOCAL_NODE"):
        env["HA_VARRUN"] = f"{run_dir}/"
    return env


class NodeExecutor:
    """``AgentExecutor`` for one node: OCF/LSB through ``LocalExecutor``; ``stonith``
    resources are registrations with the fencer (start/stop), their monitor runs the agent's
    own ``monitor`` as Pacemaker's fencer does."""

    def __init__(self, config: ExecutorConfig, jobs: int = 0) -> None:
        self.local = LocalExecutor(config)
        # Agents of this node running at once (the rest wait their turn): hundreds of
        # probes or monitors started together would only thrash the machine. Recurring
        # operations have their own share: Pacemaker's executor runs them beside what the
        # DC asks (which node-action-limit already bounds), so a node busy with hundreds of
        # monitors does not hold a transition's starts back.
        limit = jobs or 2 * (os.cpu_count() or 1)
        self._jobs = asyncio.Semaphore(limit)
        self._recurring_jobs = asyncio.Semaphore(limit)
        self.node = config.node_name
        self.registered: set[str] = set()
        self._calls = itertools.count(STONITH_CALLS_FROM)
        self._fence_runner = FenceAgentRunner()

    @classmethod
    def for_node(cls, node_name: str, run_dir: Path,
                 control_socket: Path | None = None) -> NodeExecutor:
        ensure_run_dir(run_dir)
        return cls(ExecutorConfig(node_name, run_dir,
                                  extra_env=agent_env(node_name, run_dir, control_socket)))

    async def run(self, op: Operation) -> OpResult:
        if op.rsc.standard != "stonith":
            async with self._recurring_jobs if op.interval_ms > 0 else self._jobs:
                return await self.local.run(op)
        started = time.time()
        t0 = time.monotonic()
        rc, reason = int(OcfRc.OK), ""
        if op.action == "start":
            self.registered.add(op.rsc.rsc_id)
        elif op.action == "stop":
            self.registered.discard(op.rsc.rsc_id)
        elif op.action == "monitor":
            if op.rsc.rsc_id not in self.registered:
                rc = int(OcfRc.NOT_RUNNING)
            elif op.interval_ms > 0:
                run = await self._fence_runner.run(op.rsc.agent, "monitor", op.params,
                                                   op.timeout_ms / 1000)
                if not run.ok:
                    rc, reason = int(OcfRc.UNKNOWN_ERROR), run.reason()
        else:
            rc, reason = int(OcfRc.UNIMPLEMENT_FEATURE), f"stonith has no {op.action!r}"
        result = OpResult(op, rc, ExecStatus.DONE, reason, next(self._calls), started,
                          int((time.monotonic() - t0) * 1000))
        log.info("[%s] %s", self.node, result.describe())
        return result

    async def metadata(self, rsc: ResourceInfo) -> AgentMetadata:
        return await self.local.metadata(rsc)


class LrmService:
    """Runs what the DC asks with ``executor`` (``NodeExecutor`` in the daemon)."""

    def __init__(self, layer: ClusterLayer, node_id: int, node_name: str,
                 executor: AgentExecutor, clock: Clock | None = None) -> None:
        self.layer = layer
        self.node_name = node_name
        self.log = logging.LoggerAdapter(log, {"node": node_name})
        self.clock = clock or RealClock()
        self.executor = executor
        self.recurring = RecurringScheduler(self.executor, self._recurring_result,
                                            clock=self.clock, node_name=node_name)
        # Transient attributes live as long as this executor: the DC drops those of an
        # earlier incarnation when this one announces itself (as Pacemaker's attrd erases a
        # node's attributes when it starts). An identity, not a clock reading.
        self.incarnation = str(time.time_ns() // 1000)
        self.state = ET.Element("node_state", {"id": str(node_id), "uname": node_name})
        ET.SubElement(ET.SubElement(self.state, "lrm", {"id": str(node_id)}), "lrm_resources")
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        layer.on_deliver(self._on_deliver)
        layer.on_membership(self._on_membership)

    async def start(self) -> None:
        self._task = asyncio.create_task(self.recurring.run_forever())

    async def stop(self) -> None:
        for task in [*self._running, *([self._task] if self._task else [])]:
            task.cancel()
        for task in [*self._running, *([self._task] if self._task else [])]:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass

    # -- messages ---------------------------------------------------------------------------
    def _on_membership(self, membership: Membership) -> None:
        if self.layer.node_id in membership.members:
            self._announce()

    def _announce(self) -> None:
        lrm = self.state.find("lrm")
        assert lrm is not None
        self.layer.send_ordered(wire.LrmReport(self.node_name, ET.tostring(lrm, encoding="unicode"),
                                               self.incarnation).to_wire())

    def _on_deliver(self, d: Delivery) -> None:
        kind = d.payload.get("t")
        if d.payload.get("node") != self.node_name:
            return
        if kind == wire.OP:
            spec = wire.OpSpec.from_wire(d.payload)
            task = asyncio.create_task(self._execute(spec))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        elif kind == wire.FORGET:
            rsc = str(d.payload.get("rsc", ""))
            names = [rsc] if rsc else [el.get("id", "") for el in
                                      self.state.iter("lrm_resource")]
            for name in names:
                self.recurring.cancel_resource(name)
                forget_resource(self.state, name)
            self.log.info("[%s] forgot the history of %s (cleanup)", self.node_name, rsc)
            self._announce()

    async def _execute(self, spec: wire.OpSpec) -> None:
        op = spec.operation()
        key = (op.transition_key or "").split(":")
        self.log.info("[%s t%s] %s (timeout %dms)", self.node_name,
                      key[1] if len(key) > 1 else "?", op.key, op.timeout_ms)
        if op.action == "cancel":
            # Controller-internal: stop a recurring operation; its history entry goes.
            task = op.meta.get("operation", "monitor")
            self.recurring.cancel(op.rsc.rsc_id, task, op.interval_ms)
            cancelled = dataclasses.replace(op, action=task)
            self._report(OpResult(cancelled, int(OcfRc.OK), ExecStatus.CANCELLED,
                                  started=self.clock.time()))
            return
        if op.interval_ms > 0:
            # The first result of a recurring operation answers the DC (via the reporter).
            self.recurring.start(op)
            return
        if op.action == "stop":
            self.recurring.cancel_resource(op.rsc.rsc_id)
        elif op.action in ("promote", "demote"):
            # The role changes: monitors of the old role go (and their history entries, so
            # the scheduler schedules the monitor of the new role).
            for active in self.recurring.active():
                if active.rsc.rsc_id == op.rsc.rsc_id:
                    self.recurring.cancel(*RecurringScheduler.key_of(active))
                    self._report(OpResult(active, int(OcfRc.OK), ExecStatus.CANCELLED,
                                          started=self.clock.time()))
        result = await self.executor.run(op)
        self._report(result)

    async def _recurring_result(self, result: OpResult) -> None:
        self._report(result)

    def _report(self, result: OpResult) -> None:
        op = result.op
        record_op(self.state, op.rsc, result, node_name=self.node_name)
        entry = lrm_resource_el(self.state, op.rsc)
        self.layer.send_ordered(wire.OpResult(
            self.node_name, op.rsc.rsc_id, op.transition_key, op.key, op.action,
            op.interval_ms, result.rc, int(result.status), result.exit_reason, result.failed,
            ET.tostring(entry, encoding="unicode")).to_wire())
