"""The scheduler's optional decision recorder (``schedule(cib, now, trace=...)``).

The scheduler calls these methods at the points where it decides, only when a recorder was
given (``ws.trace is not None``): a run without one does no extra work. A recorder only
observes; it must not change what it is shown. ``defib.explain`` implements it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from defib.scheduler.actions import Action, ActionTable
    from defib.scheduler.unpack import WorkingSet
    from defib.scheduler.working import NodeInfo, Rsc


class DecisionRecorder(Protocol):
    def phase(self, name: str, ws: WorkingSet) -> None:
        """A phase ended ("unpacked", "constraints", "assigned"): the state it left."""

    def score(self, rsc: Rsc, node: NodeInfo, score: int, cause: str, source: str) -> None:
        """``score`` was added for ``rsc`` on ``node`` by ``cause`` (a kind) ``source``."""

    def scores(self, rsc: Rsc, before: dict[str, int], cause: str, source: str) -> None:
        """``rsc``'s node scores were changed from ``before`` by ``cause`` ``source``."""

    def placed(self, rsc: Rsc, node: NodeInfo | None, why: str,
               no_room: list[NodeInfo]) -> None:
        """The node chosen for a primitive (None: none), why this way, and the nodes
        without the capacity it needs."""

    def blocked(self, then: Action, first: Action, rule: str) -> None:
        """``then`` became unrunnable because of ``first`` (an ordering or colocation)."""

    def finished(self, ws: WorkingSet, table: ActionTable) -> None:
        """The run is over: the actions it decided."""
