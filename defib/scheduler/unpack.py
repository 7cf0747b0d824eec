"""Unpack phase: Cib + now -> working objects (config, nodes, resource instances).

Operation history is read by `history.py`; this module builds the objects it fills.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from defib.model.cib import Cib
from defib.model.nvsets import NvSet
from defib.model.resources import Bundle, Clone, Group, Operation, Primitive, Template
from defib.model.scores import INFINITY, parse_score
from defib.scheduler.rules import RuleContext, evaluate_nvsets
from defib.scheduler.variants.bundle_parts import implicit_operations
from defib.scheduler.working import (
    BundleRt,
    CloneRt,
    ClusterConfig,
    GroupRt,
    NodeInfo,
    Prim,
    Replica,
    Rsc,
    role_of,
)

if TYPE_CHECKING:
    from defib.scheduler.trace import DecisionRecorder


def _true(text: str | None, default: bool = False) -> bool:
    if text is None:
        return default
    return text.strip().lower() in ("true", "yes", "on", "1", "y")


def _int(text: str | None, default: int) -> int:
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        return default


# Instances one clone or bundle may have: clone-max="2147483648" must not exhaust memory
# (nor time: the instance phases grow faster than linearly; 1000 take about 3 s).
MAX_INSTANCES = 1000


def instance_count(text: str | None, default: int) -> int:
    return max(0, min(_int(text, default), MAX_INSTANCES))


@dataclass
class WorkingSet:
    cib: Cib
    now: dt.datetime | None
    config: ClusterConfig
    nodes: list[NodeInfo]
    resources: list[Rsc]  # top level, configuration order
    by_id: dict[str, Rsc] = field(default_factory=dict)
    fence_requests: list[tuple[NodeInfo, str]] = field(default_factory=list)
    dc_node: NodeInfo | None = None
    clear_failcounts: list[tuple[Prim, NodeInfo]] = field(default_factory=list)
    processing_order: list[Rsc] = field(default_factory=list)  # set by the assignment phase
    trace: DecisionRecorder | None = None  # an optional observer of the decisions
    # Node scores as they stood where Pacemaker prints them (``crm_simulate -s``), in the
    # order taken: (the printing function's name, resource, its scores then).
    score_log: list[tuple[str, Rsc, dict[str, int]]] = field(default_factory=list)
    # (resource id, node name) of probe failures expired by failure-timeout: no longer shown
    expired_probes: set[tuple[str, str]] = field(default_factory=set)
    _node_index: dict[str, NodeInfo] = field(default_factory=dict, repr=False)
    _indexed: int = -1

    def node(self, ident: str | None) -> NodeInfo | None:
        if ident is None:
            return None
        if self._indexed != len(self.nodes):
            # Ids first win over names, as the lookup always preferred an id match.
            self._node_index = {n.uname: n for n in self.nodes}
            self._node_index.update({n.id: n for n in self.nodes})
            self._indexed = len(self.nodes)
        return self._node_index.get(ident)

    def node_by_uname(self, uname: str) -> NodeInfo | None:
        for node in self.nodes:
            if node.uname == uname:
                return node
        return None

    def all_primitives(self) -> list[Prim]:
        out: list[Prim] = []
        for rsc in self.resources:
            out.extend(rsc.primitives())
        return out

    def rsc(self, ident: str) -> Rsc | None:
        return self.by_id.get(ident)


def unpack_config(cib: Cib, now: dt.datetime | None) -> ClusterConfig:
    props = evaluate_nvsets(cib.crm_config, RuleContext(now=now))
    defaults_ctx = RuleContext(now=now)
    rsc_defaults = evaluate_nvsets(cib.rsc_defaults, defaults_ctx)
    config = ClusterConfig(properties=props)
    config.stonith_enabled = _true(props.get("stonith-enabled", props.get("fencing-enabled")), True)
    config.concurrent_fencing = _true(props.get("concurrent-fencing"), False)
    config.symmetric = _true(props.get("symmetric-cluster"), True)
    config.no_quorum_policy = props.get("no-quorum-policy", "stop")
    config.have_quorum = cib.have_quorum
    config.stop_orphan_resources = _true(props.get("stop-orphan-resources"), True)
    config.stop_orphan_actions = _true(props.get("stop-orphan-actions"), True)
    config.start_failure_is_fatal = _true(props.get("start-failure-is-fatal"), True)
    config.maintenance_mode = _true(props.get("maintenance-mode"), False)
    config.stonith_action = props.get("stonith-action", "reboot")
    if config.stonith_action == "poweroff":
        config.stonith_action = "off"
    config.startup_fencing = _true(props.get("startup-fencing"), True)
    config.placement_strategy = props.get("placement-strategy", "default")
    config.node_health_strategy = props.get("node-health-strategy", "none")
    config.shutdown_lock = _true(props.get("shutdown-lock"), False)
    config.stop_all_resources = _true(props.get("stop-all-resources"), False)
    stick = rsc_defaults.get("resource-stickiness", props.get("default-resource-stickiness"))
    config.default_stickiness = parse_score(stick) if stick is not None else 0
    return config


def unpack_nodes(cib: Cib, config: ClusterConfig, now: dt.datetime | None) -> list[NodeInfo]:
    nodes: list[NodeInfo] = []
    for node in cib.nodes:
        info = NodeInfo(id=node.id, uname=node.uname, type=node.type)
        ctx = RuleContext(now=now)
        info.attrs = evaluate_nvsets(node.attributes, ctx)
        util = evaluate_nvsets(node.utilization, ctx)
        info.utilization = {k: _int(v, 0) for k, v in util.items()}
        if config.stonith_enabled and config.startup_fencing and node.type != "remote":
            info.unclean = True
        info.unseen = True
        nodes.append(info)
    return nodes


def _template_op_key(op: Operation) -> tuple[str, str]:
    role = (op.role or "").lower()
    if role in ("", "started", "unpromoted", "slave"):
        role = "unknown"
    return (op.name, role)


def _merge_template(prim: Primitive, templates: dict[str, Template]) -> Primitive:
    tpl = templates.get(prim.template or "")
    if tpl is None:
        return prim
    # A primitive's operation replaces the template's of the same name and role (Pacemaker
    # keys them so, whatever their intervals).
    own_ops = {_template_op_key(op) for op in prim.operations}
    ops = prim.operations + tuple(
        op for op in tpl.operations if _template_op_key(op) not in own_ops
    )
    return Primitive(
        id=prim.id,
        rsc_class=prim.rsc_class or tpl.rsc_class,
        provider=prim.provider or tpl.provider,
        type=prim.type or tpl.type,
        template=prim.template,
        description=prim.description,
        instance_attributes=prim.instance_attributes + tpl.instance_attributes,
        meta_attributes=prim.meta_attributes + tpl.meta_attributes,
        utilization=prim.utilization + tpl.utilization,
        operations=ops,
    )


class ResourceBuilder:
    """Builds runtime resources from configuration, expanding clone instances."""

    def __init__(
        self, cib: Cib, config: ClusterConfig, now: dt.datetime | None, node_count: int
    ) -> None:
        self.cib = cib
        self.config = config
        self.now = now
        self.node_count = node_count
        self.templates = {t.id: t for t in cib.templates}
        self.by_id: dict[str, Rsc] = {}
        self.order = 0

    def _meta(
        self, sets: tuple[NvSet, ...], parent: Rsc | None, prim: Primitive | None = None
    ) -> dict[str, str]:
        ctx = RuleContext(
            now=self.now,
            rsc_class=prim.rsc_class if prim else None,
            rsc_provider=prim.provider if prim else None,
            rsc_type=prim.type if prim else None,
        )
        meta = evaluate_nvsets(sets, ctx)
        if parent is not None:
            for key, value in parent.meta.items():
                meta.setdefault(key, value)
        defaults = evaluate_nvsets(self.cib.rsc_defaults, ctx)
        for key, value in defaults.items():
            meta.setdefault(key, value)
        return meta

    def _common(self, rsc: Rsc) -> None:
        meta = rsc.meta
        rsc.priority = parse_score(meta.get("priority"), 0)
        stick = meta.get("resource-stickiness")
        rsc.stickiness = parse_score(stick) if stick is not None else self.config.default_stickiness
        rsc.managed = _true(meta.get("is-managed"), True) and not self.config.maintenance_mode
        rsc.maintenance = self.config.maintenance_mode or _true(meta.get("maintenance"), False)
        if rsc.maintenance:
            rsc.managed = False
        rsc.config_order = self.order
        self.order += 1
        self.by_id[rsc.id] = rsc

    def primitive(
        self,
        config: Primitive,
        parent: Rsc | None,
        suffix: str = "",
    ) -> Prim:
        config = _merge_template(config, self.templates)
        prim = Prim(id=config.id + suffix, parent=parent)
        prim.rsc_class, prim.provider, prim.type = config.rsc_class, config.provider, config.type
        prim.template = config.template
        prim.meta = self._meta(config.meta_attributes, parent, config)
        ctx = RuleContext(
            now=self.now,
            rsc_class=config.rsc_class,
            rsc_provider=config.provider,
            rsc_type=config.type,
        )
        prim.params = evaluate_nvsets(config.instance_attributes, ctx)
        if any(nvset.rule is not None for nvset in config.instance_attributes):
            prim.node_dependent_params = config.instance_attributes
        prim.utilization = {
            k: _int(v, 0) for k, v in evaluate_nvsets(config.utilization, ctx).items()
        }
        prim.operations = config.operations
        prim.is_fence_device = config.rsc_class == "stonith"
        self._common(prim)
        target = role_of(prim.meta.get("target-role"))
        if target is not None:
            prim.target_role = target
        threshold = prim.meta.get("migration-threshold")
        prim.migration_threshold = parse_score(threshold) if threshold is not None else INFINITY
        if prim.migration_threshold <= 0:
            prim.migration_threshold = 0
        from defib.cib.timespec import parse_ms

        prim.failure_timeout_s = (parse_ms(prim.meta.get("failure-timeout"), 0) or 0) // 1000
        return prim

    def group(self, config: Group, parent: Rsc | None, suffix: str = "") -> GroupRt:
        grp = GroupRt(id=config.id + suffix, parent=parent)
        grp.meta = self._meta(config.meta_attributes, parent)
        self._common(grp)
        grp.children = [self.primitive(m, grp, suffix) for m in config.members]
        return grp

    def clone(self, config: Clone) -> CloneRt:
        clone = CloneRt(id=config.id)
        clone.meta = self._meta(config.meta_attributes, None)
        self._common(clone)
        meta = clone.meta
        clone.promotable = config.promotable
        clone.globally_unique = _true(meta.get("globally-unique"), False)
        members = config.child.members if isinstance(config.child, Group) else [config.child]
        if any(m.rsc_class in ("lsb", "systemd", "service", "upstart", "nagios") for m in members):
            # These agent classes can't tell unique instances apart: anonymous it is.
            clone.globally_unique = False
        clone.clone_max = instance_count(meta.get("clone-max"), self.node_count)
        clone.clone_node_max = _int(meta.get("clone-node-max"), 1)
        if not clone.globally_unique:
            # Instances of an anonymous clone are told apart by their node only: Pacemaker
            # runs at most one per node, whatever clone-node-max says.
            clone.clone_node_max = min(clone.clone_node_max, 1)
        clone.promoted_max = _int(meta.get("promoted-max", meta.get("master-max")), 1)
        clone.promoted_node_max = _int(
            meta.get("promoted-node-max", meta.get("master-node-max")), 1
        )
        clone.interleave = _true(meta.get("interleave"), False)
        clone.ordered = _true(meta.get("ordered"), False)
        clone.notify = _true(meta.get("notify"), False)
        if "resource-stickiness" not in meta:
            # Clones stick to where they run by default (Pacemaker 2.1).
            clone.stickiness = (
                max(clone.stickiness, 1) if clone.stickiness == 0 else clone.stickiness
            )
            clone.meta["resource-stickiness"] = str(clone.stickiness)
        clone.child_id = config.child.id
        clone.child_kind = "group" if isinstance(config.child, Group) else "primitive"
        for n in range(clone.clone_max):
            clone.instances.append(self.instance(clone, config, n))
        return clone

    def instance(self, clone: CloneRt, config: Clone, n: int) -> Prim | GroupRt:
        suffix = f":{n}"
        inst: Prim | GroupRt
        if isinstance(config.child, Group):
            inst = self.group(config.child, clone, suffix)
            for child in inst.children:
                child.instance_number = n
        else:
            inst = self.primitive(config.child, clone, suffix)
            inst.instance_number = n
        if clone.promotable:
            for prim in inst.primitives():
                if prim.target_role == "Started":
                    prim.target_role = "Promoted"
        return inst

    def bundle(self, config: Bundle) -> BundleRt:
        """Expand a bundle into replicas, as Pacemaker names and wires them."""
        bundle = BundleRt(id=config.id)
        bundle.meta = self._meta(config.meta_attributes, None)
        self._common(bundle)
        ctype = config.container_type
        bundle.container_type = ctype
        promoted_max = _int(config.container_attr("promoted-max")
                            or config.container_attr("masters"), 0)
        replicas = instance_count(config.container_attr("replicas"), max(promoted_max, 1))
        bundle.clone_max = replicas
        bundle.clone_node_max = _int(config.container_attr("replicas-per-host"), 1)
        bundle.globally_unique = True
        ip_start = config.network_attr("ip-range-start")
        child_clone: CloneRt | None = None
        if config.child is not None:
            suffix = "master" if promoted_max > 0 else "clone"
            child_clone = CloneRt(id=f"{config.id}-{suffix}", parent=bundle)
            child_clone.meta = dict(bundle.meta)
            self._common(child_clone)
            child_clone.promotable = promoted_max > 0
            child_clone.ordered = True  # Pacemaker always orders a bundle's child clone
            child_clone.promoted_max = promoted_max
            child_clone.clone_max = replicas
            child_clone.clone_node_max = 1
            child_clone.child_id = config.child.id
            bundle.child_clone = child_clone
            self.by_id[config.child.id] = child_clone  # constraints name the child
        for index in range(replicas):
            container = self._implicit(f"{config.id}-{ctype}-{index}", "ocf", "heartbeat",
                                       ctype, bundle)
            replica = Replica(index=index, container=container)
            if ip_start:
                address = _add_to_ip(ip_start, index)
                replica.ip = self._implicit(f"{config.id}-ip-{address}", "ocf", "heartbeat",
                                            "IPaddr2", bundle)
            if config.child is not None and child_clone is not None:
                conn = self._implicit(f"{config.id}-{index}", "ocf", "pacemaker", "remote",
                                      bundle)
                conn.container = container
                replica.connection = conn
                child = self.primitive(config.child, child_clone, f":{index}")
                child.instance_number = index
                child.implicit = False
                if child_clone.promotable and child.target_role == "Started":
                    child.target_role = "Promoted"
                child_clone.instances.append(child)
                replica.child = child
            bundle.instances.append(container)
            bundle.replicas.append(replica)
        if child_clone is not None and child_clone.instances:
            # The child's own notify meta-attribute makes its clone notify.
            first = child_clone.instances[0]
            child_clone.notify = _true(first.meta.get("notify"), child_clone.notify)
        return bundle

    def _implicit(self, ident: str, rsc_class: str, provider: str, type_: str,
                  parent: Rsc) -> Prim:
        prim = Prim(id=ident, parent=parent, rsc_class=rsc_class, provider=provider,
                    type=type_)
        prim.meta = dict(parent.meta)
        prim.implicit = True
        prim.operations = implicit_operations(ident, type_)
        self._common(prim)
        target = role_of(prim.meta.get("target-role"))
        if target is not None:
            prim.target_role = "Started" if target == "Promoted" else target
        return prim

    def build(self) -> list[Rsc]:
        out: list[Rsc] = []
        for config in self.cib.resources:
            if isinstance(config, Primitive):
                out.append(self.primitive(config, None))
            elif isinstance(config, Group):
                out.append(self.group(config, None))
            elif isinstance(config, Clone):
                out.append(self.clone(config))
            elif isinstance(config, Bundle):
                out.append(self.bundle(config))
        out.extend(self.guest_connections(out))
        self.link_fillers(out)
        return out

    def link_fillers(self, resources: list[Rsc]) -> None:
        """meta container=X: the resource lives inside X (runs with and after it)."""
        for rsc in resources:
            for prim in rsc.primitives():
                name = prim.meta.get("container")
                container = self.by_id.get(name) if name else None
                if (isinstance(container, Prim) and container is not prim
                        and not container.meta.get("remote-node")):
                    prim.container = container

    def guest_connections(self, resources: list[Rsc]) -> list[Prim]:
        """A resource with remote-node=NAME gets an implicit connection resource NAME."""
        made: list[Prim] = []
        for rsc in resources:
            for container in rsc.primitives():
                name = container.meta.get("remote-node")
                if not name or name in self.by_id:
                    continue
                conn = Prim(id=name, rsc_class="ocf", provider="pacemaker", type="remote")
                conn.meta = {"allow-migrate": "false"}
                conn.operations = implicit_operations(name, "remote")
                conn.container = container
                self._common(conn)
                made.append(conn)
        return made


def op_config(prim: Prim, name: str, interval_ms: int) -> Operation | None:
    for op in prim.operations:
        if op.name == name and op.interval_ms == interval_ms:
            return op
    return None


def _add_to_ip(start: str, offset: int) -> str:
    """The offset-th address after start (IPv4 dotted quads; others get a suffix)."""
    parts = start.split(".")
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        value = 0
        for part in parts:
            value = value * 256 + int(part)
        value += offset
        return ".".join(str((value >> shift) & 255) for shift in (24, 16, 8, 0))
    return f"{start}-{offset}"
