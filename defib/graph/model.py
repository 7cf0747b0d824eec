"""The transition graph: what one scheduler run asks the cluster to do, and in what order.

A graph is a tuple of synapses. Each synapse holds one action and the ids of the actions it
waits for. It is frozen so that one graph can be handed to an executor, written as XML and
compared in tests without anyone changing it underneath the others.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

ActionKind = Literal["rsc_op", "pseudo_event", "crm_event"]


@dataclass(frozen=True)
class GraphAction:
    """One action of a transition graph.

    ``operation_key`` is Pacemaker's key (``rsc_start_0``, ``stonith-node1-reboot``,
    ``do_shutdown-node1``); ``operation`` the task alone (``start``, ``stonith``, ...).
    """

    id: int
    kind: ActionKind
    operation: str
    operation_key: str
    rsc_id: str | None = None
    rsc_long_id: str | None = None
    rsc_class: str | None = None
    rsc_provider: str | None = None
    rsc_type: str | None = None
    node_uname: str | None = None
    node_id: str | None = None
    interval_ms: int = 0
    # The scheduler's own key where the history knows the resource by another name (an
    # anonymous clone instance, "rsc:1_start_0" when operation_key is "rsc_start_0").
    internal_operation_key: str | None = None
    # CRM_meta_* and instance attributes, sorted by name, as Pacemaker writes them.
    attributes: tuple[tuple[str, str], ...] = ()

    @property
    def attrs(self) -> Mapping[str, str]:
        return dict(self.attributes)

    @property
    def is_fencing(self) -> bool:
        return self.kind == "crm_event" and self.operation == "stonith"

    def describe(self) -> str:
        where = f" on {self.node_uname}" if self.node_uname else ""
        return f"{self.operation_key}{where}"


@dataclass(frozen=True)
class Synapse:
    """One action and the ids of the actions that must complete before it may run."""

    id: int
    action: GraphAction
    inputs: tuple[int, ...] = ()
    priority: int = 0


@dataclass(frozen=True)
class TransitionGraph:
    synapses: tuple[Synapse, ...]
    transition_id: int = 0
    cluster_delay: str = "60s"
    stonith_timeout: str = "60s"
    failed_stop_offset: str = "INFINITY"
    failed_start_offset: str = "INFINITY"
    batch_limit: int = 0
    _by_action: Mapping[int, Synapse] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {s.action.id: s for s in self.synapses}
        if len(index) != len(self.synapses):
            raise ValueError("two synapses share one action id")
        for synapse in self.synapses:
            for needed in synapse.inputs:
                if needed not in index:
                    raise ValueError(f"synapse {synapse.id} waits for action {needed},"
                                     " which is not in the graph")
        object.__setattr__(self, "_by_action", index)

    def __iter__(self) -> Iterator[Synapse]:
        return iter(self.synapses)

    def __len__(self) -> int:
        return len(self.synapses)

    def action(self, action_id: int) -> GraphAction:
        return self._by_action[action_id].action

    def synapse_of(self, action_id: int) -> Synapse:
        return self._by_action[action_id]

    def actions(self) -> list[GraphAction]:
        return [s.action for s in self.synapses]

    def blocked_by_cycle(self) -> list[GraphAction]:
        """Actions that can never run because they wait, directly or not, on an ordering
        cycle (a scheduler bug: Pacemaker's graphs are acyclic). Empty for a sound graph."""
        waiting = {s.action.id: set(s.inputs) for s in self.synapses}
        ready = [aid for aid, inputs in waiting.items() if not inputs]
        done: set[int] = set()
        users: dict[int, list[int]] = {}
        for s in self.synapses:
            for needed in s.inputs:
                users.setdefault(needed, []).append(s.action.id)
        while ready:
            aid = ready.pop()
            done.add(aid)
            for user in users.get(aid, []):
                waiting[user].discard(aid)
                if not waiting[user] and user not in done:
                    ready.append(user)
        return [s.action for s in self.synapses if s.action.id not in done]
