"""Resources as configured: primitives, groups, clones (promotable too), bundles, templates."""

from __future__ import annotations

from dataclasses import dataclass, field

from defib.model.nvsets import NvSet


@dataclass(frozen=True, slots=True)
class Operation:
    id: str
    name: str
    interval_ms: int = 0
    role: str | None = None
    timeout: str | None = None
    on_fail: str | None = None
    enabled: bool = True
    attributes: tuple[tuple[str, str], ...] = ()  # every XML attribute, for digests and meta
    instance_attributes: tuple[NvSet, ...] = ()
    meta_attributes: tuple[NvSet, ...] = ()


@dataclass(frozen=True, slots=True)
class Primitive:
    id: str
    rsc_class: str | None = None
    provider: str | None = None
    type: str | None = None
    template: str | None = None
    description: str | None = None
    instance_attributes: tuple[NvSet, ...] = ()
    meta_attributes: tuple[NvSet, ...] = ()
    utilization: tuple[NvSet, ...] = ()
    operations: tuple[Operation, ...] = ()

    @property
    def agent(self) -> str:
        parts = [self.rsc_class or ""]
        if self.provider:
            parts.append(self.provider)
        parts.append(self.type or "")
        return ":".join(parts)


@dataclass(frozen=True, slots=True)
class Group:
    id: str
    members: tuple[Primitive, ...] = ()
    meta_attributes: tuple[NvSet, ...] = ()
    instance_attributes: tuple[NvSet, ...] = ()
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Clone:
    id: str
    child: Primitive | Group
    promotable: bool = False  # <master> or meta promotable=true
    meta_attributes: tuple[NvSet, ...] = ()
    instance_attributes: tuple[NvSet, ...] = ()
    description: str | None = None
    legacy_master: bool = False  # configured as <master>


@dataclass(frozen=True, slots=True)
class PortMapping:
    id: str
    port: str | None = None
    internal_port: str | None = None
    range: str | None = None


@dataclass(frozen=True, slots=True)
class StorageMapping:
    id: str
    source_dir: str | None = None
    source_dir_root: str | None = None
    target_dir: str | None = None
    options: str | None = None


@dataclass(frozen=True, slots=True)
class Bundle:
    id: str
    container_type: str  # docker podman rkt
    container: tuple[
        tuple[str, str], ...
    ] = ()  # image, replicas, replicas-per-host, promoted-max, run-command, network, options
    network: tuple[
        tuple[str, str], ...
    ] = ()  # ip-range-start, control-port, host-interface, host-netmask, add-host
    port_mappings: tuple[PortMapping, ...] = ()
    storage: tuple[StorageMapping, ...] = ()
    child: Primitive | None = None
    meta_attributes: tuple[NvSet, ...] = ()
    description: str | None = None

    def container_attr(self, name: str) -> str | None:
        return dict(self.container).get(name)

    def network_attr(self, name: str) -> str | None:
        return dict(self.network).get(name)


Resource = Primitive | Group | Clone | Bundle


@dataclass(frozen=True, slots=True)
class Template:
    id: str
    rsc_class: str | None = None
    provider: str | None = None
    type: str | None = None
    instance_attributes: tuple[NvSet, ...] = ()
    meta_attributes: tuple[NvSet, ...] = ()
    utilization: tuple[NvSet, ...] = ()
    operations: tuple[Operation, ...] = field(default_factory=tuple)


def walk(resources: tuple[Resource, ...]) -> list[Resource]:
    """Every resource, parents before children."""
    out: list[Resource] = []
    for rsc in resources:
        out.append(rsc)
        if isinstance(rsc, Group):
            out.extend(rsc.members)
        elif isinstance(rsc, Clone):
            out.extend(walk((rsc.child,)))
        elif isinstance(rsc, Bundle) and rsc.child is not None:
            out.append(rsc.child)
    return out
