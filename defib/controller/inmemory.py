"""In-memory fakes of the controller's parts, and a whole cluster of controllers built on
them: for unit tests that run DCs through crashes, fencing and failures in milliseconds.

``MemoryCluster`` wires, for every node, a ``ClusterNode`` over a ``FakeLayer`` of one
``InMemoryHub`` (no sockets; the CIB "on disk" is a ``MemoryCibStore``), and a
``Controller`` with a shared ``FakeClock``, ``FakeAgents`` (resources are entries in a set
per node), a ``ScriptedFencer`` (fails as often as told, then powers the target off), a
``MemorySeries`` and the scheduler run inline. Nothing touches the disk or the network,
and time only moves when the test waits for a condition (``FakeClock.run_until``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from defib.clock import FakeClock
from defib.cluster.cibstore import CibStore, LoadReport
from defib.cluster.cibxml import CibCopy
from defib.cluster.config import ClusterConfig, NodeConfig, QuorumOptions
from defib.cluster.layer import InMemoryHub
from defib.cluster.node import ClusterNode, node_log
from defib.controller.dc import Controller
from defib.controller.fenceexec import FencePlan, may_fence
from defib.controller.observe import resource_locations
from defib.controller.parts import Parts
from defib.executor.metadata import AgentMetadata
from defib.executor.types import ExecStatus, OcfRc, Operation, OpResult, ResourceInfo
from defib.fencing.fencer import FenceResult

T = TypeVar("T")


class MemoryCibStore(CibStore):
    """A node's durable CIB copy kept in memory: what a restarted node loads again."""

    def __init__(self, node: NodeConfig) -> None:
        # Only attributes are set: no file is ever read or written under this path.
        super().__init__(Path("/nonexistent") / node.name, node_log(node))
        self.saved: CibCopy | None = None

    def load(self) -> LoadReport:
        return LoadReport(self.saved, Path("memory") if self.saved is not None else None)

    def save(self, copy: CibCopy) -> None:
        self.saved = copy


class MemorySeries:
    """``PeStore`` in a dict: (kind, number) -> text; only the newest ``keep`` stay."""

    def __init__(self, keep: int = 500) -> None:
        self.keep = keep
        self.files: dict[tuple[str, int], str] = {}
        self._next = 0

    def next_number(self) -> int:
        number = self._next
        self._next += 1
        return number

    def save(self, kind: str, number: int, text: str) -> None:
        self.files[(kind, number)] = text
        for old in [k for k in self.files if k[0] == kind and k[1] <= number - self.keep]:
            del self.files[old]


async def inline_worker(fn: Callable[..., T], /, *args: Any) -> T:
    """The scheduler on the event loop itself: deterministic, nothing in other threads."""
    return fn(*args)


@dataclass
class Event:
    """Something the fake world saw, at a fake time (for ordering assertions)."""

    time: float
    node: str
    what: str  # "start d1", "fence node3", ...


@dataclass
class World:
    """Ground truth shared by the fakes: what really runs where, and what happened."""

    clock: FakeClock
    running: dict[str, set[str]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    # (node, resource, action) -> rc to return (once) instead of the normal outcome.
    failures: dict[tuple[str, str, str], int] = field(default_factory=dict)
    # Fake seconds an action takes (by action name); 0 when not given.
    durations: dict[str, float] = field(default_factory=dict)

    def note(self, node: str, what: str) -> None:
        self.events.append(Event(self.clock.monotonic(), node, what))

    def where(self, rsc: str) -> list[str]:
        return sorted(n for n, rscs in self.running.items() if rsc in rscs)

    def first(self, what: str) -> Event | None:
        return next((e for e in self.events if e.what == what), None)

    def power_off(self, node: str) -> None:
        self.running[node] = set()
        self.note(node, "powered off")


class FakeAgents:
    """``AgentExecutor`` of one node: a started resource runs until stopped, fenced, or
    made to fail (``World.failures``); monitors and probes report what is true."""

    def __init__(self, world: World, node: str) -> None:
        self.world = world
        self.node = node
        self._calls = itertools.count(1)

    async def run(self, op: Operation) -> OpResult:
        world, rsc = self.world, op.rsc.rsc_id
        started = world.clock.time()
        delay = world.durations.get(op.action, 0.0)
        if delay > 0:
            await world.clock.sleep(delay)
        running = world.running.setdefault(self.node, set())
        forced = world.failures.pop((self.node, rsc, op.action), None)
        if forced is not None:
            rc = forced
            if op.action == "monitor" and rc == OcfRc.NOT_RUNNING:
                running.discard(rsc)  # the resource died
        elif op.action in ("start", "promote", "demote", "migrate_from"):
            running.add(rsc)
            rc = int(OcfRc.OK)
        elif op.action in ("stop", "migrate_to"):
            running.discard(rsc)
            rc = int(OcfRc.OK)
        elif op.action == "monitor":
            rc = int(OcfRc.OK if rsc in running else OcfRc.NOT_RUNNING)
        else:
            rc = int(OcfRc.OK)
        if op.interval_ms == 0:
            world.note(self.node, f"{op.action} {rsc}" + (f" rc={rc}" if rc else ""))
        return OpResult(op, rc, ExecStatus.DONE, "", next(self._calls), started,
                        int(delay * 1000))

    async def metadata(self, rsc: ResourceInfo) -> AgentMetadata:
        return AgentMetadata(rsc.agent)


class ScriptedFencer:
    """``ClusterFencer`` whose first ``failures`` attempts fail, as do ``broken`` devices;
    a success powers the target off in the world (its resources are gone)."""

    def __init__(self, world: World, failures: int = 0) -> None:
        self.world = world
        self.failures = failures
        self.broken: set[str] = set()  # devices that always fail
        self.attempts: list[tuple[float, str, str]] = []  # fake time, fencing node, target

    async def fence(self, plan: FencePlan, target: str, action: str, me: str) -> FenceResult:
        self.attempts.append((self.world.clock.monotonic(), me, target))
        if not may_fence(plan, target):
            self.world.note(me, f"fence {target} failed")
            return FenceResult(target, action, False, f"no fence device can fence {target}")
        if all(d.device_id in self.broken for d in plan.devices):
            self.world.note(me, f"fence {target} failed")
            return FenceResult(target, action, False, "+".join(
                d.device_id for d in plan.devices) + ": the device failed")
        if len(self.attempts) <= self.failures:
            self.world.note(me, f"fence {target} failed")
            return FenceResult(target, action, False, f"no device can fence {target}")
        self.world.power_off(target)
        self.world.note(me, f"fence {target}")
        return FenceResult(target, action, True, "", ("fake",), None, (), 0,
                           self.world.clock.time())

    def confirmed(self, target: str) -> None:
        self.world.power_off(target)


@dataclass
class Recorder:
    """The history hook (``TransitionObserver``), keeping what it is told."""

    transitions: list[tuple[int, str]] = field(default_factory=list)
    ended: list[tuple[int, bool]] = field(default_factory=list)
    fencing_failures: list[tuple[str, str]] = field(default_factory=list)

    def transition_started(self, number: int, cause: str, summary: list[str],
                           actions: int) -> None:
        self.transitions.append((number, cause))

    def transition_ended(self, number: int, complete: bool, run: int, failed: list[str],
                         reason: str | None) -> None:
        self.ended.append((number, complete))

    def fencing_failed(self, target: str, action: str, reason: str) -> None:
        self.fencing_failures.append((target, reason))


class MemoryCluster:
    """N nodes (ids 1..N, names node1..nodeN) with controllers, all in this event loop."""

    def __init__(self, count: int = 3, fence_failures: int = 0) -> None:
        self.clock = FakeClock()
        self.world = World(self.clock)
        self.fencer = ScriptedFencer(self.world, fence_failures)
        nodes = tuple(NodeConfig(i, f"node{i}", ((f"198.18.0.{i}", 5405),))
                      for i in range(1, count + 1))
        # No file is ever read or written under these paths (no store, fakes only).
        self.cfg = ClusterConfig("memory", nodes, Path("/nonexistent/key"),
                                 Path("/nonexistent/state"))
        self.hub = InMemoryHub({n.id: n.votes for n in nodes}, QuorumOptions())
        self.nodes: dict[str, ClusterNode] = {}
        self.controllers: dict[str, Controller] = {}
        self.observers: dict[str, Recorder] = {}
        self.states: dict[str, dict[str, Any]] = {}
        self.series: dict[str, MemorySeries] = {}
        self.down: set[str] = set()
        self.stores = {n.name: MemoryCibStore(n) for n in nodes}
        for cfg_node in nodes:
            self._build(cfg_node)

    def _build(self, cfg_node: NodeConfig) -> None:
        name = cfg_node.name
        node = ClusterNode(self.cfg, cfg_node, self.hub.layer(cfg_node.id), self.stores[name])
        self.observers[name] = Recorder()
        self.series[name] = MemorySeries()
        parts = Parts(clock=self.clock, fencer=self.fencer,
                      executor=FakeAgents(self.world, name), series=self.series[name],
                      worker=inline_worker,
                      publish_state=partial(self.states.__setitem__, name),
                      history=self.observers[name])
        self.nodes[name] = node
        self.controllers[name] = Controller(node, parts)

    @property
    def names(self) -> list[str]:
        return list(self.nodes)

    async def start(self) -> None:
        for name in self.names:
            await self.nodes[name].start()
            await self.controllers[name].start()
        await self.clock.run_until(self.formed, 10.0, "the cluster formed")

    async def stop(self) -> None:
        for name in self.names:
            if name not in self.down:
                await self.controllers[name].stop()

    def formed(self) -> bool:
        up = [self.nodes[n] for n in self.names if n not in self.down]
        return all(len(n.members) == len(up) and n.cib.synced for n in up)

    # -- what tests do ----------------------------------------------------------------------
    @property
    def dc(self) -> str | None:
        for name in self.names:
            if name not in self.down and self.controllers[name].is_dc:
                return name
        return None

    def node(self) -> ClusterNode:
        """Any live node, to send configuration changes through."""
        return self.nodes[next(n for n in self.names if n not in self.down)]

    async def load(self, xml: str) -> None:
        await self.node().change({"op": "replace", "xml": xml})

    async def change(self, change: dict[str, Any]) -> None:
        await self.node().change(change)

    async def crash(self, name: str) -> None:
        """The node's daemon dies (its resources keep running until it is fenced)."""
        self.down.add(name)
        await self.controllers[name].stop()
        await self.nodes[name].layer.leave()
        self.world.note(name, "crashed")

    def fencing_gave_up(self, target: str) -> bool:
        dc = self.dc
        return dc is not None and self.controllers[dc].fencing.gave_up(target)

    async def restart(self, name: str) -> None:
        """A crashed node's daemon starts again: an empty history, the CIB it had saved."""
        self._build(self.cfg.node_by_name(name))
        self.down.discard(name)
        await self.nodes[name].start()
        await self.controllers[name].start()
        self.world.note(name, "restarted")

    def status_locations(self) -> dict[str, list[str]]:
        """Where the DC's CIB says each resource runs."""
        return resource_locations(self.node().cib.copy.xml)

    def settled(self, placement: dict[str, str]) -> bool:
        """Each resource runs exactly where ``placement`` says, in truth and in the CIB, and
        the DC is idle (its last transition ended and nothing waits)."""
        dc = self.dc
        if dc is None:
            return False
        recorded = self.status_locations()
        truth = all(self.world.where(r) == [n] and recorded.get(r) == [n]
                    for r, n in placement.items())
        return truth and not self.controllers[dc].waiting
