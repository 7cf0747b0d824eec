"""Actions phase: what each resource must do to go from its current to its next state."""

from __future__ import annotations

from dataclasses import dataclass, field

from defib.scheduler.node_states import fence_node
from defib.scheduler.probes import probe_refused
from defib.scheduler.remote import unrecoverable_remotes
from defib.scheduler.unpack import WorkingSet
from defib.scheduler.variants.bundle import replica_stop_reason
from defib.scheduler.variants.bundle_order import has_promotable_child
from defib.scheduler.working import (
    BundleRt,
    CloneRt,
    GroupRt,
    NodeInfo,
    Prim,
    Rsc,
    has_fence_device,
    start_requirement,
)


@dataclass(eq=False)
class Action:
    uuid: str  # e.g. rsc_start_0
    task: str
    rsc: Rsc | None = None
    node: NodeInfo | None = None
    interval_ms: int = 0
    optional: bool = True
    runnable: bool = True
    pseudo: bool = False
    reason: str | None = None
    reason_source: Action | None = None
    target_rc: int | None = None
    extra: dict[str, str] = field(default_factory=dict)
    before: list[tuple[Action, str]] = field(default_factory=list)  # (first, flags) this waits for

    def label(self) -> str:
        if self.rsc is None:
            return self.uuid
        return f"{self.rsc.id} {self.task}"

    def __repr__(self) -> str:
        where = f" on {self.node.uname}" if self.node else ""
        flags = ("" if self.runnable else " UNRUNNABLE") + ("" if not self.optional else " opt")
        return f"<{self.uuid}{where}{flags}>"


class ActionTable:
    """All actions of one run, addressable by (uuid, node)."""

    def __init__(self) -> None:
        self.actions: list[Action] = []
        self.index: dict[tuple[str, str | None], Action] = {}
        self.by_rsc: dict[tuple[int, str], list[Action]] = {}

    def get(self, uuid: str, node: NodeInfo | None) -> Action | None:
        return self.index.get((uuid, node.id if node else None))

    def add(self, action: Action) -> Action:
        key = (action.uuid, action.node.id if action.node else None)
        existing = self.index.get(key)
        if existing is not None:
            if not action.optional:
                existing.optional = False
            return existing
        self.index[key] = action
        self.actions.append(action)
        if action.rsc is not None:
            self.by_rsc.setdefault((id(action.rsc), action.task), []).append(action)
        return action

    def for_rsc(self, rsc: Rsc, task: str) -> list[Action]:
        return list(self.by_rsc.get((id(rsc), task), ()))


def op_uuid(rsc_id: str, task: str, interval_ms: int = 0) -> str:
    return f"{rsc_id}_{task}_{interval_ms}"


class ActionBuilder:
    def __init__(self, ws: WorkingSet, discovery_never: set[tuple[str, str]] | None = None,
                 discovery_exclusive: dict[str, set[str]] | None = None) -> None:
        self.ws = ws
        self.table = ActionTable()
        self.quorum_ok = ws.config.have_quorum or ws.config.no_quorum_policy == "ignore"
        self.discovery_never = discovery_never or set()
        self.discovery_exclusive = discovery_exclusive or {}

    def build(self) -> ActionTable:
        self.fencing()
        for prim, node in self.ws.clear_failcounts:
            # The controller clears it at once: nothing waits for it.
            clear = Action(op_uuid(prim.id, "clear_failcount"), "clear_failcount", prim, node,
                           optional=False)
            clear.extra["op_no_wait"] = "true"
            self.table.add(clear)
        for rsc in self.ws.resources:
            self.collective(rsc)
        for prim in self.ws.all_primitives():
            self.primitive(prim)
            self.cancel_orphan_recurring(prim)
            self.stopped_monitors(prim)
            self.forget_history(prim)
        self.probes()
        for node, reason in unrecoverable_remotes(self.ws, self.table.actions):
            # Its stops are implied by the fencing, and what would be probed there is known.
            fence_node(node, reason)
            self.add_fence(node, self.ws.config.stonith_action)
            for action in self.table.actions:
                if action.node is node and action.task == "stop":
                    action.pseudo = True
        return self.table

    def forget_history(self, prim: Prim) -> None:
        """The history of a resource no longer configured, or kept under another agent, is
        deleted on every node that can run resources (and on nodes in maintenance). An
        anonymous clone's surplus instance keeps its history, and so does a failed one."""
        if prim.failed or prim.spare_instance:
            return
        nodes = prim.known_on if prim.orphan else set(prim.agent_changed_on)
        if not nodes:
            return
        for node in self.ws.nodes:
            if (node.id in nodes and node.online and not node.unclean and not node.shutdown
                    and not node.standby):
                self.table.add(Action(op_uuid(prim.id, "delete"), "delete", prim, node,
                                      optional=False))

    def stopped_monitors(self, prim: Prim) -> None:
        """Monitors with role="Stopped" watch every node where the resource must not run;
        where it is to run, such a monitor stops first."""
        if not prim.managed:
            return
        ops = [(o.name, o.interval_ms) for o in prim.operations]
        dest = prim.assigned if prim.next_role not in (None, "Stopped") else None
        for op in prim.operations:
            if (op.name != "monitor" or op.interval_ms <= 0 or not op.enabled
                    or op.role != "Stopped" or ops.count((op.name, op.interval_ms)) > 1):
                continue
            uuid = op_uuid(prim.id, "monitor", op.interval_ms)
            for node in self.ws.nodes:
                known = (node.id, op.interval_ms) in prim.stopped_monitors_seen
                if node is dest:
                    if known:
                        cancel = Action(uuid, "cancel", prim, node,
                                        interval_ms=op.interval_ms, optional=False)
                        cancel.extra["cancel_task"] = "monitor"
                        cancel.extra["before_start"] = "1"
                        self.table.add(cancel)
                    continue
                stops = [a for a in self.table.for_rsc(prim, "stop") if a.node is node]
                optional = known and all(a.optional for a in stops)
                mon = Action(uuid, "monitor", prim, node, interval_ms=op.interval_ms,
                             optional=optional, target_rc=7)
                mon.extra["stopped_monitor"] = "1"
                if (not node.online or node.unclean
                        or any(not a.runnable for a in stops)):
                    mon.runnable = False
                self.table.add(mon)

    def cancel_monitors(self, prim: Prim) -> None:
        """In maintenance nothing watches a resource: its running monitors are cancelled."""
        for node in prim.running_on:
            if not node.online or node.unclean:
                continue
            for op in prim.operations:
                if (op.name == "monitor" and op.interval_ms > 0
                        and (node.id, "monitor", op.interval_ms) in prim.recurring_seen):
                    cancel = Action(op_uuid(prim.id, "monitor", op.interval_ms), "cancel", prim,
                                    node, interval_ms=op.interval_ms, optional=False)
                    cancel.extra["cancel_task"] = "monitor"
                    cancel.extra["from_history"] = "1"
                    self.table.add(cancel)

    def cancel_orphan_recurring(self, prim: Prim) -> None:
        """A recurring operation that is no longer configured stops running."""
        if prim.orphan:
            return  # its stop ends whatever it ran
        for node, op in prim.orphan_recurring:
            if not node.online or node.unclean:
                continue
            cancel = Action(op_uuid(prim.id, op.operation, op.interval_ms), "cancel", prim,
                            node, interval_ms=op.interval_ms, optional=False)
            cancel.extra["cancel_task"] = op.operation
            cancel.extra["call_id"] = str(op.call_id)
            cancel.extra["from_history"] = "1"
            self.table.add(cancel)

    # -- probes ----------------------------------------------------------------------------

    def probes(self) -> None:
        """Ask every node that has no history of a resource whether it runs there."""
        if self.ws.config.properties.get("enable-startup-probes", "true").lower() in (
                "false", "no", "0", "off"):
            return
        nodes = [n for n in self.ws.nodes
                 if n.online and not n.unclean and not n.maintenance]
        for rsc in self.ws.resources:
            for node in nodes:
                for prim in self._probe_targets(rsc, node):
                    if node.id in prim.known_on or prim.orphan:
                        continue
                    if probe_refused(self.ws, prim, node) is not None:
                        continue
                    if (prim.id, node.id) in self.discovery_never:
                        continue
                    exclusive = self.discovery_exclusive.get(prim.id)
                    if exclusive is not None and node.id not in exclusive:
                        continue
                    probe = Action(op_uuid(prim.id, "monitor"), "monitor", prim, node,
                                   optional=False, target_rc=7)
                    probe.extra["probe"] = "1"
                    if node.pending:
                        probe.runnable = False  # a node still joining runs nothing yet
                    self.table.add(probe)

    def _probe_targets(self, rsc: Rsc, node: NodeInfo) -> list[Prim]:
        if isinstance(rsc, BundleRt):
            # Containers, addresses and connections are probed on cluster nodes, a child
            # only inside its own replica.
            if node.remote_rsc is not None:
                return [r.child for r in rsc.replicas
                        if r.child is not None and r.connection is not None
                        and r.connection.id == node.id]
            # A connection is probed only once its container can start (or already runs).
            return [p for r in rsc.replicas for p in (r.ip, r.container, r.connection)
                    if p is not None and (p is not r.connection or r.container.running_on
                                          or r.container.assigned is not None)]
        if isinstance(rsc, Prim):
            return [rsc]
        if isinstance(rsc, GroupRt):
            return list(rsc.children)
        if isinstance(rsc, CloneRt):
            if rsc.globally_unique:
                return rsc.primitives()
            known = {p.base_id() for p in rsc.primitives() if node.id in p.known_on}
            # Anonymous: probe with the instance meant for this node, else a spare one.
            chosen = next((i for i in rsc.instances
                           if any(p.assigned is node or node in p.running_on
                                  for p in i.primitives())), None)
            if chosen is None:
                chosen = next((i for i in rsc.instances
                               if all(p.assigned is None and not p.running_on
                                      for p in i.primitives())), None)
            if chosen is None:
                return []
            return [p for p in chosen.primitives() if p.base_id() not in known]
        return []

    # -- fencing -------------------------------------------------------------------------

    def fencing(self) -> None:
        cfg = self.ws.config
        # Pacemaker schedules no fencing without a fence device (a deleted one still
        # counts), except of guests (their container is recovered) and a quorum suicide.
        has_device = has_fence_device(self.ws.all_primitives())
        for node in self.ws.nodes:
            if not node.unclean or not cfg.stonith_enabled or cfg.maintenance_mode:
                continue  # in maintenance mode Pacemaker leaves even a lost node alone
            if (not has_device and node.container_rsc is None
                    and node.fence_reason != "cluster does not have quorum"):
                continue
            if node.unseen and not node.running and not self.quorum_ok:
                continue
            self.add_fence(node, cfg.stonith_action)

    def add_fence(self, node: NodeInfo, how: str) -> None:
        action = Action(
            uuid=f"stonith-{node.uname}-{how}",
            task="stonith",
            node=node,
            optional=False,
            reason=node.fence_reason,
        )
        action.extra["action"] = how
        if node.fence_reason == "cluster does not have quorum":
            pass  # suicide needs no quorum
        elif node.container_rsc is not None:
            # A guest is "fenced" by recovering the resource it lives in.
            action.extra["resource"] = node.container_rsc
            action.pseudo = True
            action.runnable = self.guest_fence_runnable(node)
        elif not self.quorum_ok and not node.online:
            # Without quorum only members of our own partition may be fenced.
            action.runnable = False
        self.table.add(action)

    def guest_fence_runnable(self, node: NodeInfo) -> bool:
        """A guest is fenced once its container is stopped: where the container's host is
        unclean, only once the host is fenced (Pacemaker orders the guest's pseudo fencing
        after the host's, runnable only if that is)."""
        container = self.ws.by_id.get(node.container_rsc or "")
        if not isinstance(container, Prim):
            return True
        for host in container.running_on:
            if host.unclean:
                fence = self.fence_action(host)
                if fence is None or not fence.runnable:
                    return False
        return True

    def fence_action(self, node: NodeInfo) -> Action | None:
        for action in self.table.actions:
            if action.task == "stonith" and action.node is node:
                return action
        return None

    # -- collectives ----------------------------------------------------------------------

    def collective(self, rsc: Rsc) -> None:
        if isinstance(rsc, (GroupRt, CloneRt)):
            # Starting a collective is possible only if some part of it will be active.
            active = any(p.assigned is not None and p.next_role not in (None, "Stopped")
                         for p in rsc.primitives())
            promoted = any(p.assigned is not None and p.next_role == "Promoted"
                           for p in rsc.primitives())
            # A group is running only once every member started: one that cannot start
            # leaves its running pseudo action unrunnable (its start waits for them all).
            whole = not isinstance(rsc, GroupRt) or all(
                p.assigned is not None and p.next_role not in (None, "Stopped")
                for p in rsc.primitives())
            for task in ("start", "running", "stop", "stopped"):
                runnable = (active and (whole or task != "running")) or task in ("stop",
                                                                                 "stopped")
                self.table.add(Action(op_uuid(rsc.id, task), task, rsc, None, pseudo=True,
                                      runnable=runnable))
            if isinstance(rsc, CloneRt) and (rsc.promotable or (
                    isinstance(rsc, BundleRt) and has_promotable_child(rsc))):
                for task in ("promote", "promoted", "demote", "demoted"):
                    runnable = promoted or task in ("demote", "demoted")
                    self.table.add(Action(op_uuid(rsc.id, task), task, rsc, None, pseudo=True,
                                          runnable=runnable))
        if isinstance(rsc, CloneRt):
            for inst in rsc.instances:
                self.collective(inst)
        if isinstance(rsc, BundleRt) and rsc.child_clone is not None:
            self.collective(rsc.child_clone)

    # -- primitives -----------------------------------------------------------------------

    def primitive(self, prim: Prim) -> None:
        dest = prim.assigned
        current = list(prim.running_on)
        cfg = self.ws.config
        if not prim.managed or prim.blocked:
            for node in current:
                # An unmanaged resource can't be stopped: whatever must follow its stop waits.
                blocked = Action(
                    op_uuid(prim.id, "stop"), "stop", prim, node, optional=True, runnable=False
                )
                blocked.extra["placeholder"] = "1"
                self.table.add(blocked)
            if prim.maintenance:
                self.cancel_monitors(prim)
            return
        for node in prim.dangling_migration_on:
            # A completed migration whose source was never stopped: stop it there, quietly.
            dangling = Action(op_uuid(prim.id, "stop"), "stop", prim, node, optional=False)
            dangling.extra["dangling"] = "1"
            self.table.add(dangling)
        multiple = len(current) > 1
        policy = prim.meta.get("multiple-active", "stop_start")
        if multiple and policy == "block":
            return  # Pacemaker leaves a multiply active resource alone when asked to
        restart = (
            bool(current)
            and dest is not None
            and current[0] is dest
            and (prim.failed or dest.id in prim.restart_needed_on
                 or dest.id in prim.forced_restart_on)
        )
        if (restart and not prim.failed and dest is not None
                and dest.id in prim.restart_needed_on):
            prim_reason = "resource definition change"
        else:
            prim_reason = None

        # multiple-active=stop_unexpected: leave it where it belongs, stop the extras.
        keep_on = (dest if multiple and policy == "stop_unexpected" and dest in current
                   and prim.next_role not in (None, "Stopped") else None)
        # Recorded as active where a failed migration left it, yet stopped by its history:
        # nothing to stop there, only a start (Pacemaker calls it a restart).
        stale = prim.role == "Stopped" and bool(current) and not multiple
        for node in current:
            if node is keep_on or stale:
                continue
            needed = (
                dest is None
                or node is not dest
                or multiple
                or restart
                or prim.next_role == "Stopped"
            )
            stop = Action(op_uuid(prim.id, "stop"), "stop", prim, node, optional=not needed)
            if node.unclean:
                stop.pseudo = True
                fence = self.fence_action(node)
                if fence is None or not fence.runnable:
                    stop.runnable = False
            if dest is None:
                stop.reason = (replica_stop_reason(self.ws, prim, self.quorum_ok)
                               or "node availability")
            elif keep_on is not None:
                stop.reason = "being multiply active"
            stop = self.table.add(stop)

            if prim.role == "Promoted" and needed:
                demote = Action(op_uuid(prim.id, "demote"), "demote", prim, node, optional=False)
                if node.unclean:
                    demote.pseudo = True
                self.table.add(demote)
        if dest is not None and prim.next_role not in (None, "Stopped"):
            starting = not current or dest not in current or multiple or restart or stale
            start = Action(
                op_uuid(prim.id, "start"),
                "start",
                prim,
                dest,
                optional=not starting,
                reason=prim_reason,
            )
            if keep_on is not None:
                # Already running there: the "start" only anchors what follows it.
                start.pseudo = True
                if prim.failed:  # Pacemaker names the reason only when recovering
                    start.reason = "being multiply active"
            # Without quorum nothing new starts; with no-quorum-policy=stop, what runs must
            # not stay either (its start is unrunnable, so it stops "due to no quorum").
            if (
                not self.quorum_ok
                and cfg.no_quorum_policy != "ignore"
                and ((starting and cfg.no_quorum_policy != "freeze")
                     or cfg.no_quorum_policy == "stop"
                     or (cfg.no_quorum_policy == "freeze" and not current))
                and start_requirement(prim, cfg.stonith_enabled) != "nothing"
            ):
                start.runnable = False
                start.reason = ("quorum freeze" if cfg.no_quorum_policy == "freeze"
                                else "no quorum")
            self.table.add(start)
            was_promoted = prim.role == "Promoted" and not starting
            if prim.next_role == "Promoted" and (not was_promoted):
                promote = Action(op_uuid(prim.id, "promote"), "promote", prim, dest, optional=False)
                if not start.runnable:
                    promote.runnable = False
                self.table.add(promote)
            elif prim.next_role != "Promoted" and prim.role == "Promoted" and not starting:
                self.table.add(
                    Action(op_uuid(prim.id, "demote"), "demote", prim, dest, optional=False)
                )
            self.recurring(prim, dest, starting)

    def recurring(self, prim: Prim, node: NodeInfo, starting: bool) -> None:
        role = prim.next_role
        seen = [(o.name, o.interval_ms) for o in prim.operations]
        for op in prim.operations:
            if op.name != "monitor" or op.interval_ms <= 0 or not op.enabled:
                continue
            if seen.count((op.name, op.interval_ms)) > 1:
                continue  # Pacemaker runs none of two ops with one name and interval
            op_role = {"Master": "Promoted", "Slave": "Unpromoted"}.get(op.role or "", op.role)
            known = (node.id, "monitor", op.interval_ms) in prim.recurring_seen
            if (
                op_role is not None
                and op_role != role
                and not (op_role == "Started" and role in ("Started", "Unpromoted"))
            ):
                if known and not starting and prim.role != role and node in prim.running_on:
                    # The monitor for the role it leaves stops before the role changes.
                    cancel = Action(op_uuid(prim.id, "monitor", op.interval_ms), "cancel",
                                    prim, node, interval_ms=op.interval_ms, optional=False)
                    cancel.extra["cancel_task"] = "monitor"
                    cancel.extra["role_change"] = "1"
                    self.table.add(cancel)
                continue
            if op_role is None and role == "Promoted" and _has_role_monitor(prim, "Promoted"):
                continue
            needed = (starting or not known or (prim.role != role and op_role is not None)
                      or (node.id, op.interval_ms) in prim.reschedule)
            action = Action(
                op_uuid(prim.id, "monitor", op.interval_ms),
                "monitor",
                prim,
                node,
                interval_ms=op.interval_ms,
                optional=not needed,
                target_rc=8 if op_role == "Promoted" else None,
            )
            if (node.id, op.interval_ms) in prim.reschedule:
                action.extra["from_history"] = "1"
            self.table.add(action)


def _has_role_monitor(prim: Prim, role: str) -> bool:
    for op in prim.operations:
        if op.name == "monitor" and op.interval_ms > 0:
            if {"Master": "Promoted"}.get(op.role or "", op.role) == role:
                return True
    return False
