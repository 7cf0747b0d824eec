"""Where a fencing runs: on any member that can reach a device, not only on the DC.

As Pacemaker's fencer registers a fence device on every node where its resource is
allowed (a location constraint of -INFINITY keeps it off a node: the node has no cable to
that power switch), the DC picks the node that runs a fencing:

1. the DC itself, when one of its devices may fence the target;
2. then, if that failed, the first other member (not the target) with a device not tried
   yet that may fence it, and so on (each device is tried once per attempt);
3. no member has such a device: the DC, whose attempt fails and says why ("no fence
   device can fence ...").

"May fence" is the static part of ``pcmk_host_check`` (``pcmk_host_list`` and
``pcmk_host_map``); a device checked dynamically is asked by whoever runs it. A fencing
level counts when all its devices are on the node.

The DC sends the chosen peer a ``FencePlan`` (devices, levels, timeout: what the peer's
fencer runs, as the DC read it from the CIB) with ``wire.FenceExec``; the peer answers
``wire.FenceExecDone``. A peer that leaves before answering fails the attempt; the
coordinator's policy (back-off, ``stonith-max-attempts``) then applies as to any failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from defib.clock import Clock
from defib.controller import wire
from defib.controller.fencing import devices_of, levels_of, stonith_timeout_s
from defib.fencing.fencer import FenceDevice, FenceResult, FencingLevel
from defib.scheduler.unpack import WorkingSet

Log = Callable[..., None]
ANSWER_MARGIN_S = 10.0  # beyond the devices' own timeouts, for the messages


@dataclass(frozen=True)
class FencePlan:
    """What one node's fencer runs: its devices, the topology, the default timeout."""

    devices: tuple[FenceDevice, ...]
    levels: tuple[FencingLevel, ...]
    timeout_s: float

    def to_wire(self) -> dict[str, Any]:
        return {"devices": [{"id": d.device_id, "agent": d.agent, "params": dict(d.params)}
                            for d in self.devices],
                "levels": [{"target": lv.target, "index": lv.index,
                            "devices": list(lv.devices), "pattern": lv.target_pattern}
                           for lv in self.levels],
                "timeout": self.timeout_s}

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> FencePlan:
        devices = tuple(FenceDevice(str(d["id"]), str(d["agent"]),
                                    {str(k): str(v) for k, v in dict(d["params"]).items()})
                        for d in raw.get("devices") or [])
        levels = tuple(FencingLevel(str(lv["target"]), int(lv["index"]),
                                    tuple(str(x) for x in lv["devices"]),
                                    str(lv["pattern"]) if lv.get("pattern") else None)
                       for lv in raw.get("levels") or [])
        return cls(devices, levels, float(raw.get("timeout", 60.0)))

    def answer_within_s(self) -> float:
        """How long the DC waits for a peer running this plan."""
        return self.timeout_s * max(1, len(self.devices)) + ANSWER_MARGIN_S


def device_hosts(ws: WorkingSet) -> dict[str, set[str]]:
    """Device id -> the nodes it is registered on: where its resource is allowed."""
    names = {n.id: n.uname for n in ws.nodes}
    hosts: dict[str, set[str]] = {}
    for prim in ws.all_primitives():
        if prim.rsc_class == "stonith" and not prim.orphan:
            hosts[prim.id] = {names[i] for i, score in prim.allowed.items()
                              if i in names and score >= 0}
    return hosts


def plan_for(ws: WorkingSet, node: str) -> FencePlan:
    """The devices ``node`` has, every level, and ``stonith-timeout``."""
    hosts = device_hosts(ws)
    devices = tuple(d for d in devices_of(ws) if node in hosts.get(d.device_id, set()))
    return FencePlan(devices, tuple(levels_of(ws)), stonith_timeout_s(ws))


def may_fence(plan: FencePlan, target: str) -> bool:
    """Whether ``plan`` can be tried on ``target`` (static checks only)."""
    have = {d.device_id for d in plan.devices}
    levels = [lv for lv in plan.levels if lv.matches(target)]
    if levels:
        return any(set(lv.devices) <= have for lv in levels)
    return any(_static_ok(d, target) for d in plan.devices)


def _static_ok(device: FenceDevice, target: str) -> bool:
    return (device.host_check != "static-list" or target in device.host_list()
            or target in device.host_map())


def executors(ws: WorkingSet, target: str, me: str,
              members: Iterable[str]) -> list[tuple[str, FencePlan]]:
    """Who runs the fencing of ``target``, in the order to try them, and with which
    devices: each device is tried once, on the first node (the DC first) that has it. With
    fencing levels for the target, the first node that has a whole level runs the levels.
    No node with a device for the target: the DC, whose attempt fails and says why."""
    chosen: list[tuple[str, FencePlan]] = []
    tried: set[str] = set()
    for node in [me] + sorted(set(members) - {me, target}):
        plan = plan_for(ws, node)
        if any(lv.matches(target) for lv in plan.levels):
            if may_fence(plan, target):
                return [(node, plan)]
            continue
        fresh = FencePlan(tuple(d for d in plan.devices
                                if d.device_id not in tried and _static_ok(d, target)),
                          plan.levels, plan.timeout_s)
        if may_fence(fresh, target):
            chosen.append((node, fresh))
            tried.update(d.device_id for d in fresh.devices)
    return chosen or [(me, plan_for(ws, me))]


class PeerFencing:
    """Both sides of a fencing run by a peer: the DC's request, the executor's run."""

    def __init__(self, me: str, send: Callable[[dict[str, Any]], None], clock: Clock,
                 run: Callable[[FencePlan, str, str], Any], log: Log) -> None:
        self.me = me
        self.send = send
        self.clock = clock
        # Runs a plan on this node: (plan, target, action) -> awaitable FenceResult.
        self.run = run
        self.log = log
        self._asked: dict[str, tuple[str, asyncio.Future[FenceResult]]] = {}
        self._ids = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def ask(self, executor: str, plan: FencePlan, target: str,
                  action: str) -> FenceResult:
        """The DC side: have ``executor`` fence ``target``; its result (or a failure)."""
        self._ids += 1
        request = f"{self.me}:{self._ids}"
        future: asyncio.Future[FenceResult] = asyncio.get_running_loop().create_future()
        self._asked[request] = (executor, future)
        self.log(logging.WARNING, "asking %s to fence %s (%s): this node has no device"
                 " for it", executor, target, action)
        self.send(wire.FenceExec(request, executor, target, action, plan.to_wire()).to_wire())
        try:
            return await self.clock.wait_for(future, plan.answer_within_s())
        except TimeoutError:
            return FenceResult(target, action, False,
                               f"{executor} did not answer within {plan.answer_within_s():.0f}s")
        finally:
            self._asked.pop(request, None)

    def members_now(self, names: Iterable[str]) -> None:
        """An executor that left will never answer."""
        names = set(names)
        for executor, future in self._asked.values():
            if executor not in names and not future.done():
                future.set_result(FenceResult("", "", False,
                                              f"{executor} left the cluster while fencing"))

    def answered(self, done: wire.FenceExecDone) -> None:
        asked = self._asked.get(done.request)
        if asked is not None and not asked[1].done():
            asked[1].set_result(FenceResult(done.target, done.action, done.ok, done.reason,
                                            tuple(done.devices), None, (), done.elapsed_ms,
                                            self.clock.time()))

    def requested(self, request: wire.FenceExec) -> None:
        """The executor side: run the plan the DC sent, answer with the outcome."""
        if request.executor != self.me:
            return
        task = asyncio.ensure_future(self._execute(request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _execute(self, request: wire.FenceExec) -> None:
        self.log(logging.WARNING, "fencing %s (%s) for the DC", request.target, request.action)
        result: FenceResult = await self.run(FencePlan.from_wire(request.plan),
                                             request.target, request.action)
        self.log(logging.WARNING if result.ok else logging.ERROR, "fencing for the DC: %s",
                 result.describe())
        self.send(wire.FenceExecDone(request.request, self.me, request.target,
                                     request.action, result.ok, result.reason,
                                     list(result.devices), result.elapsed_ms).to_wire())

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
