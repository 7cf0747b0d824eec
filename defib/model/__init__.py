"""Typed, immutable objects for a Pacemaker CIB (configuration and status)."""

from defib.model.cib import Cib, FencingLevel, Node, Tag
from defib.model.constraints import Colocation, Location, Order, ResourceSet, Ticket
from defib.model.nvsets import NvSet
from defib.model.resources import Bundle, Clone, Group, Operation, Primitive, Resource, Template
from defib.model.status import LrmResource, NodeState, OpRecord, TicketState

__all__ = [
    "Bundle",
    "Cib",
    "Clone",
    "Colocation",
    "FencingLevel",
    "Group",
    "Location",
    "LrmResource",
    "Node",
    "NodeState",
    "NvSet",
    "OpRecord",
    "Operation",
    "Order",
    "Primitive",
    "Resource",
    "ResourceSet",
    "Tag",
    "Template",
    "Ticket",
    "TicketState",
]
