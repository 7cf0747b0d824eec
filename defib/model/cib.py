"""The whole cluster information base: configuration plus status, immutable."""

from __future__ import annotations

from dataclasses import dataclass, field

from defib.model.constraints import Colocation, Location, Order, Ticket
from defib.model.nvsets import NvSet
from defib.model.resources import Resource, Template
from defib.model.status import NodeState, TicketState


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    uname: str
    type: str = "member"  # member | remote | ping
    description: str | None = None
    attributes: tuple[NvSet, ...] = ()
    utilization: tuple[NvSet, ...] = ()
    score: str | None = None


@dataclass(frozen=True, slots=True)
class FencingLevel:
    id: str
    index: int
    devices: tuple[str, ...]
    target: str | None = None
    target_pattern: str | None = None
    target_attribute: str | None = None
    target_value: str | None = None


@dataclass(frozen=True, slots=True)
class Tag:
    id: str
    refs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Cib:
    validate_with: str | None = None
    admin_epoch: int = 0
    epoch: int = 0
    num_updates: int = 0
    dc_uuid: str | None = None
    have_quorum: bool = False
    crm_config: tuple[NvSet, ...] = ()
    rsc_defaults: tuple[NvSet, ...] = ()
    op_defaults: tuple[NvSet, ...] = ()
    nodes: tuple[Node, ...] = ()
    resources: tuple[Resource, ...] = ()
    templates: tuple[Template, ...] = ()
    locations: tuple[Location, ...] = ()
    colocations: tuple[Colocation, ...] = ()
    orders: tuple[Order, ...] = ()
    tickets: tuple[Ticket, ...] = ()
    tags: tuple[Tag, ...] = ()
    fencing_levels: tuple[FencingLevel, ...] = ()
    node_states: tuple[NodeState, ...] = ()
    ticket_states: tuple[TicketState, ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()
    # Objects the parser reported and skipped (an empty group, a dangling id-ref ...), as
    # Pacemaker's unpacking reports and skips them; never part of the CIB's identity.
    problems: tuple[str, ...] = field(default=(), compare=False)

    @property
    def version(self) -> tuple[int, int, int]:
        return (self.admin_epoch, self.epoch, self.num_updates)
