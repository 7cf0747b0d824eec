"""The DC's fencing coordinator: when a transition's fencing is tried, retried and given up.

It owns the ``FencingPolicy`` (failures per target, back-off, ``stonith-max-attempts``) and
the view of it every node shows (the DC broadcasts it with ``send``). What an attempt does
(run the devices, record the node as fenced) and how a wait is cut short (the transition
is aborted) are passed in, so the whole policy runs in unit tests on a fake clock.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from defib.controller import wire
from defib.controller.fencing import FencingPolicy, fencing_signature
from defib.graph.executor import ActionOutcome, OutcomeStatus
from defib.scheduler.unpack import WorkingSet

Log = Callable[..., None]
Attempt = Callable[[], Awaitable[tuple[bool, str]]]
Wait = Callable[[float], Awaitable[bool]]  # False: cut short (the transition was aborted)


class FencingCoordinator:
    def __init__(self, me: str, send: Callable[[dict[str, Any]], None], log: Log,
                 policy: FencingPolicy | None = None) -> None:
        self.me = me
        self.send = send
        self.log = log
        self.policy = policy or FencingPolicy()
        # The failures as the DC last broadcast them (on every node: any node shows them).
        self.view: dict[str, dict[str, Any]] = {}
        self._signature: str | None = None

    # -- what every node does ---------------------------------------------------------------
    def received(self, state: dict[str, dict[str, Any]]) -> None:
        """The DC's broadcast (``wire.FencingState``)."""
        self.view = dict(state)

    def reasons(self) -> dict[str, str]:
        return {t: str(info.get("reason", "")) for t, info in self.view.items()}

    # -- what the DC does -------------------------------------------------------------------
    def publish(self) -> None:
        self.view = self.policy.describe()
        self.send(wire.FencingState(self.me, self.view).to_wire())

    def succeeded(self, target: str) -> None:
        if target in self.policy.targets:
            self.policy.succeeded(target)
            self.publish()

    def gave_up(self, target: str) -> bool:
        return self.policy.gave_up(target) is not None

    def nodes_back(self, names: Iterable[str]) -> list[str]:
        """Members again: their failures are forgotten (a node back is no longer unclean)."""
        back = sorted(self.policy.targets.keys() & set(names))
        for name in back:
            self.log(logging.INFO, "%s is back: its fencing failures are forgotten", name)
            self.policy.reset(name)
        if back:
            self.publish()
        return back

    def configuration(self, ws: WorkingSet) -> list[str]:
        """New devices or levels: every target given up on gets a new chance."""
        signature = fencing_signature(ws)
        forgotten: list[str] = []
        if self._signature is not None and signature != self._signature:
            forgotten = self.policy.reset()
            if forgotten:
                self.log(logging.WARNING, "fence devices changed: fencing of %s is tried"
                         " again", ", ".join(forgotten))
                self.publish()
        self._signature = signature
        return forgotten

    async def fence(self, target: str, attempt: Attempt, wait: Wait,
                    limit: int) -> ActionOutcome:
        """A transition's fencing: retried in place with back-off until it succeeds, the
        wait is cut short, or ``limit`` failures in a row (the give-up)."""
        while True:
            given_up = self.policy.gave_up(target)
            if given_up is not None:
                return ActionOutcome.failure(1, f"gave up fencing {target} after"
                                             f" {given_up.attempts} attempts: {given_up.reason}")
            delay = self.policy.wait_s(target)
            if delay > 0 and not await wait(delay):
                return ActionOutcome(OutcomeStatus.CANCELLED, 1,
                                     "transition aborted while fencing waited to be retried")
            ok, why = await attempt()
            if ok:
                self.succeeded(target)
                return ActionOutcome.success()
            state = self.policy.failed(target, why, limit)
            self.publish()
            if state.gave_up:
                self.log(logging.ERROR, "FENCING OF %s FAILED %d times in a row: %s. GIVING UP"
                         " (stonith-max-attempts=%d): %s stays UNCLEAN and its resources stay"
                         " where they are until a fence device changes, someone confirms it"
                         " is down (defib node fence %s --confirm) or it comes back", target,
                         state.attempts, why, limit, target, target)
                return ActionOutcome.failure(1, why)
            self.log(logging.ERROR, "FENCING OF %s FAILED (attempt %d of %d): %s; its"
                     " resources stay where they are until fencing succeeds (retry in %.0fs)",
                     target, state.attempts, limit, why, self.policy.wait_s(target))
