"""The cluster status view, as crm_simulate 2.1.5 prints "Current cluster status:".

It renders an unpacked working set (nodes and resources with their current roles). The same
view prints the revised status after a simulated transition, from a re-unpacked CIB.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from defib.graph.build import by_priority, natural_key
from defib.model.resources import Bundle
from defib.model.scores import INFINITY, parse_score
from defib.model.status import OpRecord
from defib.scheduler.unpack import WorkingSet
from defib.scheduler.working import BundleRt, CloneRt, GroupRt, NodeInfo, Prim, Rsc, role_of

_PENDING_STATE = {
    "start": "Starting", "stop": "Stopping", "migrate_to": "Migrating",
    "migrate_from": "Migrating", "promote": "Promoting", "demote": "Demoting",
}
_PROBE_RESULT = {
    1: "error", 2: "invalid parameter", 3: "unimplemented feature", 4: "insufficient privileges",
    5: "not installed", 6: "not configured", 8: "promoted", 9: "promoted (failed)",
}


def _item(level: int, text: str) -> str:
    return "  " * level + "* " + text


@dataclass
class StatusView:
    ws: WorkingSet
    # crm_simulate shows actions in flight in the current status, not in the revised one.
    show_pending: bool = True
    # crm_simulate and crm_mon -r list inactive resources too; crm_mon alone shows what is
    # active ("Active Resources:").
    inactive: bool = True
    _by_rsc: dict[str, list[tuple[str | None, OpRecord]]] = field(init=False, repr=False)
    _online: set[str | None] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # One index of the operation history, so that large clusters render in linear time.
        self._by_rsc = {}
        for state in self.ws.cib.node_states:
            for lrm in state.lrm_resources:
                entries = self._by_rsc.setdefault(lrm.id, [])
                entries.extend((state.uname, op) for op in lrm.ops)
        self._online = {n.uname for n in self.ws.nodes if n.online}

    # -- nodes ---------------------------------------------------------------------------

    def node_lines(self) -> list[str]:
        lines = [_item(1, "Node List:")]
        online: list[str] = []
        offline: list[str] = []
        remote_online: list[str] = []
        remote_offline: list[str] = []
        guest_online: list[str] = []
        for node in sorted(self.ws.nodes, key=lambda n: natural_key(n.uname)):
            kind = self._node_kind(node)
            health = self._health(node)
            if (node.unclean or node.pending or node.standby or node.standby_onfail
                    or node.maintenance or health <= 0):
                prefix = {"remote": "RemoteNode", "guest": "GuestNode"}.get(kind, "Node")
                mode = self._node_mode(node)
                if health < 0:
                    mode += " (health is RED)"
                elif health == 0:
                    mode += " (health is YELLOW)"
                lines.append(_item(2, f"{prefix} {node.uname}: {mode}"))
            elif node.online:
                {"remote": remote_online, "guest": guest_online}.get(kind, online).append(
                    node.uname)
            elif kind == "remote":
                remote_offline.append(node.uname)
            elif kind != "guest":
                offline.append(node.uname)
        for label, names in (("Online", online), ("OFFLINE", offline),
                             ("RemoteOnline", remote_online), ("RemoteOFFLINE", remote_offline),
                             ("GuestOnline", guest_online)):
            if names:
                lines.append(_item(2, f"{label}: [ {' '.join(names)} ]"))
        return lines

    def _node_kind(self, node: NodeInfo) -> str:
        if node.type != "remote":
            return "member"
        if node.container_rsc:
            return "guest"
        rsc = self.ws.rsc(node.remote_rsc) if node.remote_rsc else None
        if isinstance(rsc, Prim) and rsc.container is not None:
            return "guest"
        return "remote"

    def _health(self, node: NodeInfo) -> int:
        """Negative if a health attribute is red, 0 if one is yellow, else positive."""
        strategy = self.ws.config.node_health_strategy
        if strategy in ("none", ""):
            return 1
        props = self.ws.config.properties
        red, yellow, green = -INFINITY, 0, 0
        if strategy == "only-green":
            yellow = -INFINITY
        elif strategy in ("progressive", "custom"):
            red = parse_score(props.get("node-health-red"), -INFINITY)
            yellow = parse_score(props.get("node-health-yellow"), 0)
            green = parse_score(props.get("node-health-green"), 0)
        health = 1
        for name, value in node.attrs.items():
            if not name.startswith("#health"):
                continue
            if value.strip().lower() == "red":
                return -1
            if value.strip().lower() == "yellow":
                health = 0
                continue
            score = parse_score(value, 0)
            if score <= red:
                return -1
            if score <= yellow and yellow != green:
                health = 0
        return health

    @staticmethod
    def _node_mode(node: NodeInfo) -> str:
        if node.unclean and not node.reset_only:  # a guest being reset is not shown unclean
            if node.online:
                return "UNCLEAN (online)"
            return "UNCLEAN (pending)" if node.pending else "UNCLEAN (offline)"
        if node.pending:
            return "pending"
        if node.standby_onfail and node.online:
            return "standby (on-fail)"
        if node.standby:
            if not node.online:
                return "OFFLINE (standby)"
            return "standby (with active resources)" if node.running else "standby"
        if node.maintenance:
            return "maintenance" if node.online else "OFFLINE (maintenance)"
        return "online" if node.online else "OFFLINE"

    # -- resources -----------------------------------------------------------------------

    def resource_lines(self) -> list[str]:
        title = "Full List of Resources:" if self.inactive else "Active Resources:"
        lines = [_item(1, title)]
        body: list[str] = []
        implicit = {n.remote_rsc for n in self.ws.nodes if n.remote_rsc}
        for rsc in by_priority(self.ws.resources):
            if (rsc.orphan or not self.inactive) and not _active(rsc):
                continue
            if isinstance(rsc, Prim) and rsc.container is not None and rsc.id in implicit:
                continue  # a guest node's implicit connection: Pacemaker hides it
            body.extend(self.resource(rsc, 2))
        return lines + (body or [_item(2, "No resources" if self.inactive
                                       else "No active resources")])

    def resource(self, rsc: Rsc, level: int) -> list[str]:
        if isinstance(rsc, Prim):
            return [_item(level, self.primitive(rsc))]
        if isinstance(rsc, GroupRt):
            return self.group(rsc, level)
        if isinstance(rsc, BundleRt):
            return self.bundle(rsc, level)
        if isinstance(rsc, CloneRt):
            return self.clone(rsc, level)
        return []

    def bundle(self, bundle: BundleRt, level: int) -> list[str]:
        """One line per replica: what lives in it (or its container), where the container is."""
        config = next((r for r in self.ws.cib.resources
                       if isinstance(r, Bundle) and r.id == bundle.id), None)
        image = (config.container_attr("image") if config is not None else None) or ""
        per_host = config.container_attr("replicas-per-host") if config is not None else None
        unique = (per_host or "1").strip().isdigit() and int((per_host or "1").strip()) > 1
        head = "Container bundle" + (" set" if len(bundle.replicas) > 1 else "")
        head += f": {bundle.id} [{image}]" + (" (unique)" if unique else "")
        if not bundle.managed:
            head += " (unmanaged)"
        lines = [_item(level, head + ":")]
        for replica in bundle.replicas:
            shown = replica.child or replica.container
            name = (replica.connection or replica.container).id
            if replica.ip is not None:
                address = replica.ip.params.get("ip") or replica.ip.id.rsplit("-ip-", 1)[-1]
                name += f" ({address})"
            where = replica.container.running_on[0] if replica.container.running_on else None
            lines.append(_item(level + 1, self.primitive(shown, name, where, at=True)))
        return lines

    def group(self, grp: GroupRt, level: int) -> list[str]:
        flags: list[str] = []
        if not grp.managed:
            flags.append("unmanaged")
        if _disabled(grp):
            flags.append("disabled")
        hidden = 0 if self.inactive else sum(1 for c in grp.children if not _active(c))
        if hidden:
            flags.append(f"{hidden} member{'s' if hidden > 1 else ''} inactive")
        head = f"Resource Group: {grp.id}" + (f" ({', '.join(flags)})" if flags else "") + ":"
        lines = [_item(level, head)]
        for child in grp.children:
            if self.inactive or _active(child):
                lines.append(_item(level + 1, self.primitive(child)))
        return lines

    def clone(self, clone: CloneRt, level: int) -> list[str]:
        flags: list[str] = []
        if clone.promotable:
            flags.append("promotable")
        if clone.globally_unique:
            flags.append("unique")
        if _disabled(clone):
            flags.append("disabled")
        if not clone.managed:
            flags.append("unmanaged")
        head = f"Clone Set: {clone.id} [{clone.child_id}]"
        head += (f" ({', '.join(flags)})" if flags else "") + ":"
        lines = [_item(level, head)]
        promoted: list[NodeInfo] = []
        started: list[NodeInfo] = []
        stopped: dict[str, str] = {}
        for inst in clone.instances:
            partially = _active(inst)
            full = False
            if clone.globally_unique:
                full = partially or not clone.orphan
            elif any(self._pending(p)[0] not in (None, "probe") for p in inst.primitives()):
                full = True  # crm_simulate shows pending actions
            elif not partially:
                if not inst.orphan:
                    stopped[inst.id] = "Stopped"
            elif (any(p.orphan for p in inst.primitives()) or inst.orphan
                  or not all(p.managed for p in inst.primitives()) or not inst.managed
                  or any(p.failed for p in inst.primitives())):
                full = True
            elif _active(inst, every=True):
                where = _location(inst)
                if where is None:
                    full = True
                elif not where.online and where.unclean:
                    full = True
                elif _role_rank(_state(inst)) > _role_rank("Unpromoted"):
                    promoted.append(where)
                else:
                    started.append(where)
            else:
                full = True
            # Pacemaker lists every instance of a unique clone, active or not.
            if full and (self.inactive or clone.globally_unique or _active(inst)):
                lines.extend(self.resource(inst, level + 1))
        active_instances = 0
        if promoted:
            names = sorted((n.uname for n in promoted), key=natural_key)
            active_instances += len(names)
            lines.append(_item(level + 1, f"Promoted: [ {' '.join(names)} ]"))
        if started:
            names = sorted((n.uname for n in started), key=natural_key)
            active_instances += len(names)
            if clone.promotable:
                label = ("Unpromoted (target-role)" if _configured_role(clone) == "Unpromoted"
                         else "Unpromoted")
            else:
                label = "Started"
            lines.append(_item(level + 1, f"{label}: [ {' '.join(names)} ]"))
        if not clone.globally_unique and clone.clone_max > active_instances:
            stopped = self._stopped_nodes(clone)
        if stopped and self.inactive:
            for status in sorted(set(stopped.values())):
                names = sorted((k for k, v in stopped.items() if v == status), key=natural_key)
                lines.append(_item(level + 1, f"{status}: [ {' '.join(names)} ]"))
        return lines

    def _stopped_nodes(self, clone: CloneRt) -> dict[str, str]:
        running = {n.id for p in clone.primitives() for n in p.running_on}
        if self.ws.config.symmetric:
            hidden = self._bundle_guests_hidden_from(clone)
            candidates = [n for n in self.ws.nodes if n.uname not in hidden]
        else:
            known = {nid for p in clone.primitives() for nid in p.known_on}
            candidates = [n for n in self.ws.nodes if n.id in known]
        state = "Stopped (disabled)" if _configured_role(clone) == "Stopped" else "Stopped"
        out: dict[str, str] = {}
        for node in candidates:
            if node.id in running:
                continue
            probe = self._failed_probe(clone.primitives(), node.uname)
            out[node.uname] = f"Stopped ({_PROBE_RESULT[probe.rc_code]})" if probe else state
        return out

    def _bundle_guests_hidden_from(self, rsc: Rsc) -> set[str]:
        """Bundle guest nodes a resource does not list. Reading a bundle creates its guest
        nodes (or claims configured ones) as never to be probed by anything else; only a
        configured node claimed by a bundle read after ``rsc`` is still listed."""
        order = [r for r in self.ws.resources if not r.orphan]
        top = rsc.top()
        position = order.index(top) if top in order else len(order)
        configured = {n.uname for n in self.ws.cib.nodes}
        hidden: set[str] = set()
        for n, other in enumerate(order):
            if not isinstance(other, BundleRt):
                continue
            for replica in other.replicas:
                if replica.connection is None:
                    continue
                name = replica.connection.id
                if not (n > position and name in configured):
                    hidden.add(name)
        return hidden

    def primitive(self, prim: Prim, name: str | None = None, where: NodeInfo | None = None,
                  at: bool = False) -> str:
        """A primitive's line; a bundle replica passes its own name and its container's node
        (``at``), as Pacemaker shows what runs inside a container."""
        if name is None:
            name = prim.base_id() if _anonymous_instance(prim) else prim.id
        agent = prim.rsc_class or "unknown"
        if prim.provider:
            agent += f":{prim.provider}"
        agent += f":{prim.type or 'unknown'}"
        text = f"{name}\t({agent}):\t"
        multiple = len(prim.running_on) > 1
        node = prim.running_on[0] if len(prim.running_on) == 1 else None
        pending, pending_node = self._pending(prim)
        if at:
            node = None if multiple else where
        elif node is None and not prim.running_on and pending not in (None, "probe"):
            node = pending_node
        role = _display_role(prim)
        if prim.orphan:
            text += " ORPHANED"
        if prim.failed:
            text += " FAILED"
            if role == "Promoted":
                text += " Promoted"
        else:
            text += " " + _PENDING_STATE.get(pending or "", role)
        if node is not None:
            text += " " + node.uname
        if role == "Stopped":
            probe = self._failed_probe([prim], node.uname if node else None)
            if probe is not None:
                text += f" ({_PROBE_RESULT[probe.rc_code]}) "
        flags: list[str] = []
        if node is not None and not node.online and node.unclean and not node.reset_only:
            flags.append("UNCLEAN")
        if pending == "monitor":
            flags.append("Monitoring")
        target = prim.meta.get("target-role")
        if target is not None:
            parsed = _role(target)
            if parsed == "Stopped":
                flags.append("disabled")
            elif parsed == "Unpromoted" and _promotable_top(prim):
                flags.append(f"target-role:{target}")
        if prim.blocked:
            flags.append("blocked")
        elif not prim.managed or any(n.maintenance for n in prim.running_on):
            flags.append("unmanaged")
        if self._failure_ignored(prim):
            flags.append("failure ignored")
        if flags:
            text += f" ({', '.join(flags)})"
        if multiple:
            text += " [ " + " ".join(n.uname for n in prim.running_on) + " ]"
        return text

    def _pending(self, prim: Prim) -> tuple[str | None, NodeInfo | None]:
        """The action in flight for ``prim`` as Pacemaker names it ("probe" for a probe)."""
        if prim.pending_task is None or not self.show_pending:
            return None, None
        node = self.ws.node(prim.pending_node_id)
        task = prim.pending_task
        if task == "monitor":
            recurring = any(op.operation == "monitor" and op.interval_ms > 0
                            and (op.op_status == -1 or op.call_id < 0)
                            for uname, op in self._history(prim)
                            if node is None or uname == node.uname)
            task = "monitor" if recurring else "probe"
        return task, node

    def _failure_ignored(self, prim: Prim) -> bool:
        """A recorded failure of an operation configured with on-fail=ignore."""
        ignored = {(op.name, op.interval_ms) for op in prim.operations
                   if (op.on_fail or "").lower() == "ignore"}
        if not ignored:
            return False
        history = self._history(prim)
        # Pacemaker reads nothing older than a successful stop on the same node.
        stopped: dict[str | None, int] = {}
        for node, op in history:
            if op.operation == "stop" and op.rc_code == 0 and op.op_status == 0:
                stopped[node] = max(stopped.get(node, -1), op.call_id)
        for node, op in history:
            if op.call_id < stopped.get(node, -1):
                continue
            # An agent that cannot run at all (hard or fatal error, not installed) is a
            # failure no on-fail setting can ignore.
            if (op.operation, op.interval_ms) in ignored and _failed(op) and (
                    op.op_status not in (5, 6, 7)):
                return True
        return False

    def _history(self, prim: Prim) -> list[tuple[str | None, OpRecord]]:
        names = {prim.id, prim.base_id()} if _anonymous_instance(prim) else {prim.id}
        return [entry for name in names for entry in self._by_rsc.get(name, [])]

    def _failed_probe(self, prims: list[Prim], node_uname: str | None) -> OpRecord | None:
        ids = {p.id for p in prims} | {p.base_id() for p in prims}
        # An expired failure (failure-timeout) is history: Pacemaker lists it no more.
        expired = {n.uname for p, n in self.ws.clear_failcounts if p.id in ids}
        expired.update(uname for rsc_id, uname in self.ws.expired_probes if rsc_id in ids)
        for rsc_id in sorted(ids):
            for uname, op in self._by_rsc.get(rsc_id, []):
                if node_uname is not None and uname != node_uname or uname in expired:
                    continue
                # Pacemaker lists only failures it recorded: on online nodes, naming their
                # node; it masks these probe failures as "not running" and says why.
                if (uname in self._online and op.operation == "monitor" and op.interval_ms == 0
                        and op.on_node and op.rc_code in _PROBE_RESULT
                        and (op.rc_code in (2, 5) or op.op_status == 7)):
                    return op
        return None

    def render(self, title: str) -> list[str]:
        if not self.ws.nodes:  # Pacemaker prints no node list header for no nodes
            return [title, *self.resource_lines()]
        return [title, *self.node_lines(), "", *self.resource_lines()]


def render_status(ws: WorkingSet, title: str = "Current cluster status:",
                  show_pending: bool = True) -> list[str]:
    return StatusView(ws, show_pending).render(title)


# -- helpers mirroring Pacemaker's resource "variant" functions ------------------------------


def _anonymous_instance(prim: Prim) -> bool:
    top = prim.top()
    return isinstance(top, CloneRt) and not top.globally_unique


def _promotable_top(prim: Prim) -> bool:
    top = prim.top()
    return isinstance(top, CloneRt) and top.promotable


def _display_role(prim: Prim) -> str:
    role = prim.role
    if role == "Started" and _promotable_top(prim):
        return "Unpromoted"
    return role


def _role_rank(role: str) -> int:
    return {"Unknown": 0, "Stopped": 1, "Started": 2, "Unpromoted": 3, "Promoted": 4}.get(role, 0)


def _prim_active(prim: Prim) -> bool:
    for node in prim.running_on:
        if node.unclean:
            return True
        if not node.online and prim.managed:
            continue
        return True
    return False


def _active(rsc: Rsc, every: bool = False) -> bool:
    prims = rsc.primitives()
    if isinstance(rsc, Prim):
        return _prim_active(rsc)
    if not prims:
        return False
    return all(map(_prim_active, prims)) if every else any(map(_prim_active, prims))


def _location(rsc: Rsc) -> NodeInfo | None:
    nodes: list[NodeInfo] = []
    for prim in rsc.primitives():
        for node in prim.running_on:
            if node not in nodes:
                nodes.append(node)
    return nodes[0] if len(nodes) == 1 else None


def _state(rsc: Rsc) -> str:
    best = "Unknown"
    for prim in rsc.primitives():
        if _role_rank(prim.role) > _role_rank(best):
            best = prim.role
    return best


def _configured_role(clone: CloneRt) -> str | None:
    target = clone.meta.get("target-role")
    if target is None and clone.instances:
        first = clone.instances[0]
        target = first.meta.get("target-role")
    return _role(target)


def _role(text: str | None) -> str | None:
    """A role name as Pacemaker reads it: case does not matter."""
    if text is None:
        return None
    for name in ("Stopped", "Started", "Slave", "Unpromoted", "Master", "Promoted"):
        if name.lower() == text.strip().lower():
            return role_of(name)
    return None


def _failed(op: OpRecord) -> bool:
    """Whether a recorded operation did not end as its transition expected."""
    parts = (op.transition_key or "").split(":")
    expected = int(parts[2]) if len(parts) > 2 and parts[2].lstrip("-").isdigit() else 0
    return op.op_status not in (0, -1, 1) or op.rc_code != expected


def _disabled(rsc: Rsc) -> bool:
    target = _role(rsc.meta.get("target-role"))
    if target == "Stopped":
        return True
    top = rsc.top()
    return target == "Unpromoted" and isinstance(top, CloneRt) and top.promotable
