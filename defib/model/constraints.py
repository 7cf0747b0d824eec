"""Constraints: location, colocation, order, ticket; with resource sets."""

from __future__ import annotations

from dataclasses import dataclass

from defib.model.rules import Rule


@dataclass(frozen=True, slots=True)
class ResourceSet:
    id: str
    resources: tuple[str, ...]
    sequential: bool = True
    require_all: bool = True
    ordered: bool | None = None
    action: str | None = None
    role: str | None = None
    score: str | None = None
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class Location:
    id: str
    rsc: str | None = None
    rsc_pattern: str | None = None
    node: str | None = None
    score: str | None = None
    role: str | None = None
    rules: tuple[Rule, ...] = ()
    resource_discovery: str | None = None
    sets: tuple[ResourceSet, ...] = ()


@dataclass(frozen=True, slots=True)
class Colocation:
    id: str
    rsc: str | None = None
    with_rsc: str | None = None
    score: str | None = None
    rsc_role: str | None = None
    with_rsc_role: str | None = None
    node_attribute: str | None = None
    influence: bool | None = None
    sets: tuple[ResourceSet, ...] = ()


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    first: str | None = None
    then: str | None = None
    first_action: str | None = None
    then_action: str | None = None
    kind: str | None = None
    score: str | None = None
    symmetrical: bool | None = None
    require_all: bool = True
    sets: tuple[ResourceSet, ...] = ()


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    ticket: str
    rsc: str | None = None
    rsc_role: str | None = None
    loss_policy: str | None = None
    sets: tuple[ResourceSet, ...] = ()


Constraint = Location | Colocation | Order | Ticket
