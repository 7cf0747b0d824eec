"""The fencer: which devices can fence a node, topology levels, and the fence request.

Rules, as Pacemaker's fencer applies them:

* Topology: when the target has fencing levels, they are tried in index order; a level
  succeeds only when every device in it succeeds (in order); the first level that
  succeeds ends the request. A reboot over a level of several devices becomes "off" on
  each, then "on" on each, so that no device turns the node back on before all are off.
* Without levels: every device that can fence the target is tried alone, highest
  ``priority`` first, then in configuration order, until one succeeds.
* A device can fence a target per ``pcmk_host_check``: ``static-list`` (the default
  when ``pcmk_host_list`` or ``pcmk_host_map`` is set), ``dynamic-list`` (the agent's
  ``list`` output), ``status`` (the agent's ``status`` answers 0 or 2), or ``none`` (any
  node; the default otherwise).
* ``pcmk_host_map`` ("node:plug;node2:plug2") gives the plug name; else the node name.
* ``pcmk_<action>_action`` renames actions, ``pcmk_<action>_timeout`` bounds them
  (default: the fencer's ``stonith-timeout``), ``pcmk_delay_base``/``pcmk_delay_max``
  delay the first attempt (partition tie-breaking).
* Identical concurrent requests (same target and action) are merged into one.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from defib.executor.metadata import parse_duration_ms
from defib.fencing.agent import AgentRun, AgentRunner, FenceAgentRunner

log = logging.getLogger(__name__)

ACTIONS = ("off", "on", "reboot", "status")


@dataclass(frozen=True)
class FenceDevice:
    """A configured fencing device (a ``stonith`` class primitive)."""

    device_id: str
    agent: str
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def priority(self) -> int:
        try:
            return int(self.params.get("priority", "0"))
        except ValueError:
            return 0

    def host_map(self) -> dict[str, str]:
        mapping: dict[str, str] = {}
        for item in re.split(r"[;\s,]+", self.params.get("pcmk_host_map", "")):
            if ":" in item or "=" in item:
                node, _, plug = item.replace("=", ":").partition(":")
                if node:
                    mapping[node] = plug
        return mapping

    def host_list(self) -> list[str]:
        return [h for h in re.split(r"[;\s,]+", self.params.get("pcmk_host_list", "")) if h]

    @property
    def host_check(self) -> str:
        explicit = self.params.get("pcmk_host_check")
        if explicit:
            return explicit
        if self.params.get("pcmk_host_list") or self.params.get("pcmk_host_map"):
            return "static-list"
        return "none"

    def plug_for(self, target: str) -> str:
        return self.host_map().get(target, target)

    def agent_action(self, action: str) -> str:
        return self.params.get(f"pcmk_{action}_action", action)

    def timeout_s(self, action: str, default_s: float) -> float:
        ms = parse_duration_ms(self.params.get(f"pcmk_{action}_timeout"))
        return ms / 1000 if ms else default_s

    def delay_s(self) -> float:
        base = (parse_duration_ms(self.params.get("pcmk_delay_base")) or 0) / 1000
        top = (parse_duration_ms(self.params.get("pcmk_delay_max")) or 0) / 1000
        return base + (random.uniform(0, top - base) if top > base else 0.0)


@dataclass(frozen=True)
class FencingLevel:
    """One ``fencing-level``: devices that together fence ``target``."""

    target: str
    index: int
    devices: tuple[str, ...]
    target_pattern: str | None = None  # a regular expression instead of a node name
    # Or every node whose node attribute ``target_attribute`` equals ``target_value``.
    target_attribute: str | None = None
    target_value: str | None = None

    def matches(self, node: str, attributes: Mapping[str, str] | None = None) -> bool:
        if self.target_pattern is not None:
            return re.fullmatch(self.target_pattern, node) is not None
        if self.target_attribute is not None:
            return (attributes or {}).get(self.target_attribute) == self.target_value
        return self.target == node


@dataclass(frozen=True)
class FenceResult:
    """The outcome of one fence request."""

    target: str
    action: str
    ok: bool
    reason: str = ""
    devices: tuple[str, ...] = ()  # the devices that did it (success) or were tried
    level: int | None = None  # the topology level that succeeded, if any
    attempts: tuple[AgentRun, ...] = ()
    elapsed_ms: int = 0
    completed: float = 0.0  # wall clock

    def describe(self) -> str:
        how = f" by {'+'.join(self.devices)}" if self.ok and self.devices else ""
        lvl = f" (level {self.level})" if self.level is not None else ""
        state = "succeeded" if self.ok else f"FAILED: {self.reason}"
        return f"{self.action} of {self.target}{how}{lvl} {state} in {self.elapsed_ms}ms"


class Fencer(Protocol):
    async def fence(self, target: str, action: str = "reboot") -> FenceResult: ...


class LocalFencer:
    """Fences by running fence agents on this node."""

    def __init__(
        self,
        devices: Sequence[FenceDevice],
        levels: Iterable[FencingLevel] = (),
        *,
        runner: AgentRunner | None = None,
        default_timeout_s: float = 60.0,
        node_name: str = "",
        history_size: int = 100,
        node_attributes: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.devices = {d.device_id: d for d in devices}
        self.levels = sorted(levels, key=lambda lv: lv.index)
        self.runner: AgentRunner = runner or FenceAgentRunner()
        self.default_timeout_s = default_timeout_s
        self.node_name = node_name
        self.history: deque[FenceResult] = deque(maxlen=history_size)
        # node -> its attributes, for levels that select targets by attribute
        self.node_attributes: dict[str, Mapping[str, str]] = dict(node_attributes or {})
        self._inflight: dict[tuple[str, str], asyncio.Future[FenceResult]] = {}

    # --- which devices ------------------------------------------------------------

    async def can_fence(self, device: FenceDevice, target: str) -> bool:
        check = device.host_check
        if check == "static-list":
            return target in device.host_list() or target in device.host_map()
        if check == "dynamic-list":
            run = await self.runner.run(device.agent, "list", device.params,
                                        device.timeout_s("list", self.default_timeout_s))
            names = {ln.split(",")[0].strip() for ln in run.output.splitlines() if ln.strip()}
            return run.ok and device.plug_for(target) in names
        if check == "status":
            run = await self.runner.run(device.agent, "status", device.params,
                                        device.timeout_s("status", self.default_timeout_s),
                                        target=target, plug=device.plug_for(target))
            return run.rc in (0, 2) and not run.timed_out
        return True

    async def devices_for(self, target: str) -> list[FenceDevice]:
        ordered = sorted(enumerate(self.devices.values()), key=lambda p: (-p[1].priority, p[0]))
        return [d for _, d in ordered if await self.can_fence(d, target)]

    def levels_for(self, target: str) -> list[FencingLevel]:
        attrs = self.node_attributes.get(target, {})
        return [lv for lv in self.levels if lv.matches(target, attrs)]

    # --- fencing ------------------------------------------------------------------

    async def fence(self, target: str, action: str = "reboot") -> FenceResult:
        """Fence ``target``; never raises for device trouble (that is a failed result)."""
        if action not in ACTIONS:
            return FenceResult(target, action, False, f"unknown fence action {action!r}")
        key = (target, action)
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[FenceResult] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            result = await self._fence(target, action)
        except Exception as exc:  # a bug here must not leave waiters hanging
            log.exception("[%s] fencing %s raised", self.node_name, target)
            result = FenceResult(target, action, False, f"internal error: {exc}")
        finally:
            self._inflight.pop(key, None)
        future.set_result(result)
        self.history.append(result)
        log.log(logging.INFO if result.ok else logging.ERROR, "[%s] fencing: %s",
                self.node_name, result.describe())
        return result

    async def _fence(self, target: str, action: str) -> FenceResult:
        started = time.monotonic()
        attempts: list[AgentRun] = []

        def done(ok: bool, reason: str, devices: Sequence[str],
                 level: int | None = None) -> FenceResult:
            return FenceResult(target, action, ok, reason, tuple(devices), level,
                               tuple(attempts), int((time.monotonic() - started) * 1000),
                               time.time())

        levels = self.levels_for(target)
        if levels:
            reasons = []
            for level in levels:
                missing = [d for d in level.devices if d not in self.devices]
                if missing:
                    reasons.append(f"level {level.index}: no device {', '.join(missing)}")
                    continue
                devices = [self.devices[d] for d in level.devices]
                ok, why = await self._run_level(devices, target, action, attempts)
                if ok:
                    return done(True, "", level.devices, level.index)
                reasons.append(f"level {level.index}: {why}")
            return done(False, "; ".join(reasons), [d for lv in levels for d in lv.devices])
        candidates = await self.devices_for(target)
        if not candidates:
            return done(False, f"no fence device can fence {target}", [])
        reasons = []
        for device in candidates:
            ok, why = await self._run_level([device], target, action, attempts)
            if ok:
                return done(True, "", [device.device_id])
            reasons.append(why)
        return done(False, "; ".join(reasons), [d.device_id for d in candidates])

    async def _run_level(self, devices: Sequence[FenceDevice], target: str, action: str,
                         attempts: list[AgentRun]) -> tuple[bool, str]:
        delay = max((d.delay_s() for d in devices), default=0.0)
        if delay > 0:
            await asyncio.sleep(delay)
        if action == "reboot" and len(devices) > 1:
            steps = [(d, "off") for d in devices] + [(d, "on") for d in devices]
        else:
            steps = [(d, action) for d in devices]
        for device, step in steps:
            run = await self.runner.run(
                device.agent, device.agent_action(step), device.params,
                device.timeout_s(step, self.default_timeout_s),
                target=target, plug=device.plug_for(target),
            )
            attempts.append(run)
            wanted = run.rc in (0, 2) if step == "status" else run.ok
            if not wanted:
                return False, f"{device.device_id}: {run.reason()}"
        return True, ""
