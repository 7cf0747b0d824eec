"""Reading the status section: who is online, what runs where, what failed.

Follows Pacemaker's rules for node membership (fencing-aware) and for replaying an
operation history in call order to find each resource's current role.
"""

from __future__ import annotations

import functools
import re

from defib.cib.timespec import parse_ms
from defib.model.status import LrmResource, NodeState, OpRecord
from defib.scheduler.digests import definition_change, recurring_changed
from defib.scheduler.failcounts import fail_count, failure_table
from defib.scheduler.locks import history_lock_holds
from defib.scheduler.migration import NodeHistory, resolve_migrations
from defib.scheduler.node_states import fence_node
from defib.scheduler.remote import fence_guest, hold_reconnecting, set_remote_online
from defib.scheduler.rules import RuleContext, evaluate_nvsets
from defib.scheduler.unpack import WorkingSet, op_config
from defib.scheduler.working import (
    BundleRt,
    CloneRt,
    GroupRt,
    NodeInfo,
    Prim,
    has_fence_device,
)

OCF_OK, OCF_NOT_RUNNING, OCF_RUNNING_PROMOTED, OCF_FAILED_PROMOTED = 0, 7, 8, 9
OCF_DEGRADED, OCF_DEGRADED_PROMOTED = 190, 191
EXEC_PENDING, EXEC_DONE, EXEC_CANCELLED, EXEC_TIMEOUT = -1, 0, 1, 2
EXEC_NOT_SUPPORTED, EXEC_ERROR, EXEC_ERROR_HARD, EXEC_ERROR_FATAL = 3, 4, 5, 6
EXEC_NOT_INSTALLED = 7


# -- operation history ------------------------------------------------------------------


_INSTANCE = re.compile(r"^(.*):(\d+)$")


class HistoryReader:
    def __init__(self, ws: WorkingSet) -> None:
        self.ws = ws
        self.prims = {p.id: p for p in ws.all_primitives()}
        self.orphans: dict[str, Prim] = {}
        self.block_candidate = False
        self.reprobe = False  # the last probe failure there has expired
        self.unpack_seq = 0  # creation order of the actions made while reading histories
        self.anonymous: dict[str, CloneRt] | None = None
        self.histories: dict[tuple[int, str], NodeHistory] = {}
        self.spares: dict[int, list[Prim]] = {}  # clone -> surplus (orphan) instances
        defaults = evaluate_nvsets(ws.cib.op_defaults, RuleContext(now=ws.now))
        self.default_timeout_ms = parse_ms(defaults.get("timeout"), None) or 20000

    def run(self) -> None:
        states = list(self.ws.cib.node_states)
        first, later = [], []
        for state in states:
            node = self.ws.node(state.id)
            if node is None:
                continue
            # Pacemaker reads offline nodes' histories late only when nothing can fence them
            # (they are clean then); with fencing, every cluster node goes in file order.
            cfg = self.ws.config
            if not node.online and not (cfg.stonith_enabled or cfg.shutdown_lock):
                later.append((node, state))
            else:
                first.append((node, state))
        remote = [(n, s) for n, s in first + later if n.remote_rsc is not None]
        for node, state in first + later:
            if node.remote_rsc is None:
                self.replay_node(node, state)
        # Remote nodes are up only while their connection runs: known only now.
        set_remote_online(self.ws)
        hold_reconnecting(self.ws)
        for node, state in remote:
            lost = node.reset_only  # a guest fenced for a failure inside stays up meanwhile
            self.replay_node(node, state)
            if lost:
                # Recovered with the guest's container: a recovery in place.
                for prim in node.running:
                    prim.failed = True
                    prim.fail_node_ids.add(node.id)
        resolve_migrations(self.histories, {n.uname: n for n in self.ws.nodes})
        self.block_unfenceable_failures()

    def block_unfenceable_failures(self) -> None:
        """A resource that failed on a node nobody can fence is left alone (blocked)."""
        cfg = self.ws.config
        has_device = has_fence_device(self.ws.all_primitives())
        quorate = cfg.have_quorum or cfg.no_quorum_policy == "ignore"
        for prim in self.ws.all_primitives():
            for node in prim.running_on:
                if node.reset_only:
                    continue  # a guest is "fenced" by recovering its container, not a device
                can_fence = cfg.stonith_enabled and has_device and (quorate or node.online)
                if node.unclean and not can_fence and node.id in (
                        prim.fail_node_ids | prim.stop_failed_on):
                    prim.blocked = True
                    prim.managed = False

    def replay_node(self, node: NodeInfo, state: NodeState) -> None:
        for lrm_rsc in state.lrm_resources:
            prim = self.resolve(lrm_rsc, node)
            if prim is not None:
                self.replay(prim, node, lrm_rsc)

    # Map a history entry to a resource instance, as Pacemaker's find_anonymous_clone does.
    def resolve(self, lrm: LrmResource, node: NodeInfo) -> Prim | None:
        replica_child = self._bundle_child(lrm, node)
        if replica_child is not None:
            return replica_child
        prim = self.prims.get(lrm.id)
        if prim is not None and not _is_anonymous_instance(prim) and not prim.spare_instance:
            return prim
        match = _INSTANCE.match(lrm.id)
        base = match.group(1) if match else lrm.id
        clone = self._anonymous_clone_of(base)
        if clone is not None:
            found = self._anonymous_instance(clone, base, node)
            if found is not None:
                return found
            # No free instance (or a second history of one already active on this node):
            # an orphan instance, which will be stopped.
            spares = self.spares.setdefault(id(clone), [])
            # (a cloned group's surplus members share their instance number)
            number = len(clone.instances) + sum(1 for o in spares if o.base_id() == base)
            orphan = self._orphan(lrm, f"{base}:{number}")
            orphan.managed = clone.managed  # surplus instances always go
            orphan.spare_instance = True
            spares.append(orphan)  # later histories may be matched to it, as to an instance
            return orphan
        if prim is not None:
            return prim
        return self._orphan(lrm)

    def _bundle_child(self, lrm: LrmResource, node: NodeInfo) -> Prim | None:
        """On a bundle's guest node, the child's history is that replica's child."""
        if node.container_rsc is None:
            return None
        container = self.prims.get(node.container_rsc)
        bundle = container.parent if container is not None else None
        if not isinstance(bundle, BundleRt):
            return None
        base = _INSTANCE.sub(r"\1", lrm.id)
        for replica in bundle.replicas:
            if replica.container is container and replica.child is not None:
                if replica.child.base_id() == base:
                    return replica.child
        return None

    def _anonymous_clone_of(self, base: str) -> CloneRt | None:
        if self.anonymous is None:
            self.anonymous = {}
            for rsc in self.ws.resources:
                if isinstance(rsc, CloneRt) and not rsc.globally_unique:
                    if rsc.child_kind == "primitive" and rsc.child_id:
                        # Even with clone-max=0: its histories are instances, if surplus.
                        self.anonymous.setdefault(rsc.child_id, rsc)
                    for inst in rsc.instances:
                        for p in inst.primitives():
                            self.anonymous.setdefault(p.base_id(), rsc)
        return self.anonymous.get(base)

    def _anonymous_instance(self, clone: CloneRt, base: str, node: NodeInfo) -> Prim | None:
        def member(inst: Prim | GroupRt) -> Prim | None:
            for p in inst.primitives():
                if p.base_id() == base:
                    return p
            return None

        # Surplus instances found earlier count as instances too (Pacemaker adds them to the
        # clone), after the configured ones.
        spares: list[Prim | GroupRt] = [p for p in self.spares.get(id(clone), [])
                                         if p.base_id() == base]
        instances = [*clone.instances, *spares]
        for inst in instances:
            for p in inst.primitives():
                if node in p.running_on or p.pending_node_id == node.id:
                    found = member(inst)
                    if found is not None and node in found.running_on:
                        return None  # another history of an instance already active here
                    return found
        for inst in instances:
            active = any(p.running_on or p.pending_node_id for p in inst.primitives())
            if not active and not any(p.blocked for p in inst.primitives()):
                return member(inst)
        return None

    def _orphan(self, lrm: LrmResource, ident: str | None = None) -> Prim:
        key = (ident or lrm.id)
        prim = self.orphans.get(key) if ident is None else None
        if prim is None:
            prim = Prim(id=key, rsc_class=lrm.rsc_class, provider=lrm.provider, type=lrm.type)
            prim.orphan = True
            # A deleted fence device still counts as one (Pacemaker flags it from its class):
            # with it, the cluster has "a fence device" and manages resources, the orphan
            # device's own stop included.
            prim.is_fence_device = (lrm.rsc_class or "").lower() == "stonith"
            prim.managed = self.ws.config.stop_orphan_resources
            if self.ws.config.maintenance_mode:
                prim.managed, prim.maintenance = False, True
            prim.target_role = "Stopped"
            container = self.ws.by_id.get(lrm.container or "")
            if isinstance(container, Prim) and container is not prim:
                prim.container = container  # an orphaned guest's connection, say
            prim.config_order = 1_000_000 + len(self.orphans)
            self.orphans[key] = prim
            self.ws.resources.append(prim)
            self.ws.by_id[prim.id] = prim
            self.prims[prim.id] = prim
        return prim

    def replay(self, prim: Prim, node: NodeInfo, lrm: LrmResource) -> None:
        prim.known_on.add(node.id)
        prim.history_names.setdefault(node.id, lrm.id)
        if (self.ws.config.shutdown_lock and lrm.shutdown_lock
                and history_lock_holds(self.ws, lrm.shutdown_lock)):
            prim.lock_node = node
        if lrm.id != prim.id:
            prim.clone_name = lrm.id  # the last name the history used (Pacemaker's clone_name)
        ops = sorted(
            (op for op in lrm.ops if op.operation not in ("notify", "meta-data")),
            key=_HISTORY_ORDER,
        )
        self.histories[(id(prim), node.id)] = NodeHistory(prim, node, ops)
        if not prim.orphan and not prim.implicit and (
                (lrm.rsc_class, lrm.provider, lrm.type)
                != (prim.rsc_class, prim.provider, prim.type)):
            prim.agent_changed_on.append(node.id)  # a fence device unfences the node again
        unclean_before = node.unclean
        role = "Stopped"
        failed_here = False
        self.block_candidate = False
        last_start: OpRecord | None = None
        recurring: dict[tuple[str, int], OpRecord] = {}  # what runs since the last start
        self.reprobe = False
        for op in ops:
            if op.interval_ms == 0 and op.operation in ("start", "stop", "migrate_from"):
                recurring = {}
                self.reprobe = False
            elif op.interval_ms > 0:
                recurring[(op.operation, op.interval_ms)] = op
            role, failed = self._apply(prim, node, op, role)
            if failed is not None:
                failed_here = failed
            if op.interval_ms == 0 and (
                op.operation in ("start", "migrate_from")
                or (op.operation == "monitor" and op.rc_code in (0, 8))
            ):
                last_start = op
            elif op.operation == "stop":
                last_start = None
            if op.interval_ms > 0 and op.operation == "monitor" and op.rc_code in (0, 8):
                prim.recurring_seen.add((node.id, op.operation, op.interval_ms))
            elif op.interval_ms > 0 and op.operation == "monitor" and op.rc_code == 7:
                prim.stopped_monitors_seen.add((node.id, op.interval_ms))
        self.clear_expired_failures(prim, node, ops)
        if node.online:
            self._note_unpacked_recurring(prim, node, ops)
        if self.reprobe and role in ("Stopped", "Unknown"):
            prim.known_on.discard(node.id)
        if role not in ("Stopped", "Unknown") and prim.managed:
            configured = {(o.name, o.interval_ms) for o in prim.operations}
            for key, op in recurring.items():
                if key not in configured:
                    prim.orphan_recurring.append((node, op))  # no longer configured: cancel
                elif (op.rc_code in (0, 8) and node.can_run()
                      and recurring_changed(prim, op, self.default_timeout_ms)):
                    prim.reschedule.add((node.id, op.interval_ms))
        if last_start is not None and role not in ("Stopped", "Unknown"):
            change = definition_change(prim, last_start)
            pending_start = last_start.op_status == EXEC_PENDING or last_start.call_id < 0
            if change == "restart":
                prim.restart_needed_on.add(node.id)
            elif change == "reload" and pending_start:
                # A start still in progress can't be reloaded: it is restarted.
                prim.forced_restart_on.add(node.id)
                prim.pending_restart_on.add(node.id)
            elif change == "reload":
                prim.reload_needed_on.add(node.id)
        if role == "Started" and _promotable(prim):
            role = "Unpromoted"
        active = role not in ("Stopped", "Unknown")
        if active and node.id in prim.agent_changed_on:
            prim.forced_restart_on.add(node.id)  # another agent runs there: restart it
        if active and self.block_candidate and not node.unclean:
            prim.blocked = True  # on-fail=block holds only while the resource is active
            prim.managed = False  # blocked: left where it is, as if unmanaged
        if unclean_before:
            # The node was to be fenced before this resource was looked at: its failure
            # there changes nothing (Pacemaker ignores on-fail on unclean nodes).
            failed_here = False
        if (active and not node.online and not node.unclean and not node.maintenance
                and prim.managed and self.ws.config.stonith_enabled
                and node.remote_rsc is None and node.type != "remote"):
            # Active on a node that is down: it may not really be down. Make sure.
            fence_node(node, f"{prim.id} is thought to be active there")
        if active and (node.online or node.unclean):
            if node.maintenance:
                # Pacemaker: whatever runs on a node in maintenance is left as it is there.
                prim.managed, prim.maintenance = False, True
            if node not in prim.running_on:
                prim.running_on.append(node)
                node.running.append(prim)
                if (len(prim.running_on) > 1
                        and prim.meta.get("multiple-active") == "stop_only"):
                    prim.banned_everywhere = True  # stop it everywhere; it must not come back
            if _role_rank(role) > _role_rank(prim.role) or prim.role == "Stopped":
                prim.role = role  # type: ignore[assignment]
            if failed_here:
                prim.failed = True
                prim.fail_node_ids.add(node.id)
        if prim.is_fence_device is False and active and not prim.managed:
            pass

    def clear_expired_failures(self, prim: Prim, node: NodeInfo, ops: list[OpRecord]) -> None:
        """A fail count whose failures all expired (failure-timeout) is cleared, once an
        operation on the node is older than the timeout."""
        if not (node.online or node.unclean):
            return
        now = self.ws.now
        if prim.failure_timeout_s <= 0 or now is None:
            return
        if not any(op.last_rc_change and now.timestamp() > op.last_rc_change
                   + prim.failure_timeout_s for op in ops):
            return
        blocking = {(o.name, o.interval_ms) for o in prim.operations if o.on_fail == "block"}
        if any((op.operation, op.interval_ms) in blocking
               and op.rc_code != (self._expected_rc(op) or 0) for op in ops):
            return  # failures of an on-fail=block operation never expire
        table = failure_table(node)
        raw = sum(table.get(name, (0, 0))[0] for name in {prim.id, prim.base_id()})
        if raw > 0 and fail_count(self.ws, prim, node)[0] == 0:
            self._clear(prim, node)

    def _clear(self, prim: Prim, node: NodeInfo) -> None:
        if (prim, node) not in self.ws.clear_failcounts:
            self.ws.clear_failcounts.append((prim, node))

    def _expired(self, prim: Prim, op: OpRecord) -> bool:
        now = self.ws.now
        if prim.failure_timeout_s <= 0 or now is None or not op.last_rc_change:
            return False
        return op.last_rc_change + prim.failure_timeout_s <= now.timestamp()

    def _expected_rc(self, op: OpRecord) -> int | None:
        key = op.transition_key
        if key:
            parts = key.split(":")
            if len(parts) >= 3:
                try:
                    return int(parts[2])
                except ValueError:
                    return None
        return None

    def _note_unpacked_recurring(self, prim: Prim, node: NodeInfo, ops: list[OpRecord]) -> None:
        """The recurring operations Pacemaker creates (optional) while reading this history:
        those since the last start, or since the last stop when it stopped (its
        calculate_active_ops and process_recurring). They are its oldest actions, which
        decides where they stand in the graph."""
        start = stop = implied_monitor = implied_clone = -1
        for n, op in enumerate(ops):
            if op.operation == "stop" and op.op_status == EXEC_DONE:
                stop = n
            elif op.operation in ("start", "migrate_from"):
                start = n
            elif implied_monitor <= stop and op.operation == "monitor":
                if op.rc_code in (OCF_OK, OCF_RUNNING_PROMOTED):
                    implied_monitor = n
            elif op.operation in ("promote", "demote"):
                implied_clone = n
        if start == -1:
            start = implied_clone if implied_clone != -1 else implied_monitor
        for n, op in enumerate(ops):
            if (start < stop and n <= stop) or n < start or op.interval_ms == 0:
                continue
            if op.op_status == EXEC_PENDING:
                continue
            key = (node.id, op.operation, op.interval_ms)
            if key not in prim.unpacked_recurring:
                self.unpack_seq += 1
                prim.unpacked_recurring[key] = self.unpack_seq

    def _apply(
        self, prim: Prim, node: NodeInfo, op: OpRecord, role: str
    ) -> tuple[str, bool | None]:
        task = op.operation
        rc = op.rc_code
        status = op.op_status
        if status == EXEC_CANCELLED:
            return role, None
        is_probe = task == "monitor" and op.interval_ms == 0
        if status == EXEC_PENDING or op.call_id < 0:
            prim.pending_task = task
            prim.pending_node_id = node.id
            if task in ("start", "migrate_from", "promote", "demote", "stop"):
                return (
                    "Promoted" if task == "promote" else role if task == "stop" else "Started"
                ), None
            if is_probe:
                return role, None
            return role, None
        if prim.rsc_class == "lsb" and task == "monitor" and rc in (1, 2, 3, 4):
            # LSB status codes: 1-3 mean "not running", 4 "unknown".
            rc = OCF_NOT_RUNNING if rc != 4 else 1
        if rc == OCF_DEGRADED:
            rc = OCF_OK
        elif rc == OCF_DEGRADED_PROMOTED:
            rc = OCF_RUNNING_PROMOTED
        expected = self._expected_rc(op)
        if expected is None:
            expected = OCF_OK
        # Remap the executor status from the return code, as Pacemaker does.
        if status in (EXEC_DONE, EXEC_ERROR):
            if rc == expected:
                status = EXEC_DONE
            elif rc == OCF_NOT_RUNNING and (is_probe or expected == OCF_NOT_RUNNING):
                status = EXEC_DONE
            elif rc == OCF_NOT_RUNNING:
                status = EXEC_ERROR
            elif rc == OCF_RUNNING_PROMOTED and is_probe:
                status = EXEC_DONE
            elif rc == OCF_OK and is_probe:
                status = EXEC_DONE
            elif rc in (2, 3, 4, 5):
                # Pacemaker: a hard error (a missing agent only when the executor says so)
                status = EXEC_ERROR_HARD
            elif rc == 6:
                status = EXEC_ERROR_FATAL
            else:
                status = EXEC_ERROR
        if status == EXEC_DONE:
            if rc == OCF_NOT_RUNNING:
                # "Not running" when that was the expected result (any task): stopped.
                return "Stopped", False
            if task == "start":
                return "Started", False
            if task == "stop":
                return "Stopped", False
            if task == "promote":
                return "Promoted", False
            if task == "demote":
                return "Unpromoted", False
            if task == "migrate_from":
                return "Started", False
            if task == "migrate_to":
                return "Started", None
            if task == "monitor":
                if rc == OCF_NOT_RUNNING:
                    return "Stopped", False
                if rc == OCF_RUNNING_PROMOTED:
                    return "Promoted", None
                if role in ("Stopped", "Unknown"):
                    return "Started", None
                return role, None
            return role, None
        # A failure.
        if not (node.online or node.unclean):
            # History on a cleanly stopped node no longer describes a live resource.
            return ("Stopped" if task == "stop" else role), None
        if (is_probe and op.op_status == EXEC_DONE and self._expired(prim, op)
                and status in (EXEC_NOT_INSTALLED, EXEC_ERROR_HARD, EXEC_ERROR)):
            # An expired probe failure counts for nothing: the node is asked again.
            self.reprobe = True
            self.ws.expired_probes.add((prim.id, node.uname))
            return "Stopped", None
        if op.interval_ms > 0:
            prim.failed_recurring = True
        op_conf = op_config(prim, task, op.interval_ms)
        on_fail = op_conf.on_fail if op_conf and op_conf.on_fail else None
        if status == EXEC_NOT_INSTALLED and on_fail == "ignore":
            on_fail = None  # a missing agent can't be ignored: recover elsewhere
        ignored = on_fail == "ignore"
        if status == EXEC_NOT_INSTALLED or (status == EXEC_ERROR_HARD and rc == 5
                                            and not ignored):
            prim.banned_on.add(node.id)
            if is_probe:
                return "Stopped", None
        elif status == EXEC_ERROR_HARD and not ignored:
            prim.banned_on.add(node.id)
        elif status == EXEC_ERROR_FATAL and not ignored:
            prim.banned_everywhere = True
        if on_fail == "ignore":
            prim.failure_ignored = True
        if on_fail == "ignore" or (on_fail != "block" and self._expired(prim, op)):
            # An ignored or expired (failure-timeout) failure counts as if it had succeeded.
            if task == "stop":
                return "Stopped", None
            return ("Started" if role in ("Stopped", "Unknown") else role), None
        filler = prim.container is not None and prim.type != "remote" and on_fail in (
            None, "restart-container")
        if task == "stop" and filler:
            # Its container restarts anyway, which stops it: the failed stop counts as done.
            assert prim.container is not None
            prim.container.forced_restart_on.add(node.id)
            prim.failure_ignored = True
            return "Stopped", None
        if task == "stop":
            prim.stop_failed_on.add(node.id)
            if (on_fail or ("fence" if self.ws.config.stonith_enabled else "block")) == "fence":
                if node.online or node.unclean:
                    fence_node(node, f"{prim.id} failed there")
                    if _clone_instance(prim):
                        # The instance stays where its stop failed until that node is
                        # fenced; another instance takes its place meanwhile.
                        prim.target_role = "Stopped"
            else:
                self.block_candidate = True
            return "Started", True
        if task == "promote" or rc == OCF_FAILED_PROMOTED:
            return "Promoted", True
        if task == "demote":
            if on_fail == "block":
                self.block_candidate = True
                return "Promoted", True
            # Staying promoted would loop; the recovery stops it before any promotion anyway.
            return "Unpromoted", True
        if on_fail == "stop":
            prim.target_role = "Stopped"
        if prim.container is not None and prim.type != "remote" and on_fail in (
                None, "restart-container"):
            # A failed filler takes its container down and up again with it.
            prim.container.forced_restart_on.add(node.id)
        if task == "monitor" and rc == OCF_NOT_RUNNING and role in ("Stopped", "Unknown"):
            return "Started", True
        if on_fail == "block":
            self.block_candidate = True
        if on_fail == "fence" and (node.online or node.unclean):
            if not fence_guest(self.ws, node):
                fence_node(node, f"{prim.id} failed there")
        if on_fail == "standby":
            node.standby = True
            node.standby_onfail = True
        if role in ("Stopped", "Unknown"):
            role = "Started"
        if task == "start" and status in (EXEC_ERROR_HARD, EXEC_NOT_INSTALLED, EXEC_ERROR_FATAL):
            pass
        return role, True


def _transition(op: OpRecord) -> tuple[int, str]:
    """(transition number, DC uuid) from a record's transition key."""
    parts = (op.transition_key or "").split(":")
    try:
        number = int(parts[1]) if len(parts) > 1 else -1
    except ValueError:
        number = -1
    return number, parts[3] if len(parts) > 3 else ""


def _history_cmp(a: OpRecord, b: OpRecord) -> int:
    """Pacemaker's order of one resource's records on a node: by call id; a pending one
    (call id -1) by the transition that started it when the same DC ran both, else last."""
    if a.call_id >= 0 and b.call_id >= 0:
        return (a.call_id > b.call_id) - (a.call_id < b.call_id)
    (ta, ua), (tb, ub) = _transition(a), _transition(b)
    if ua == ub and ta != tb:
        return (ta > tb) - (ta < tb)
    return (a.call_id < 0) - (b.call_id < 0)


_HISTORY_ORDER = functools.cmp_to_key(_history_cmp)


def _clone_instance(prim: Prim) -> bool:
    parent = prim.parent
    while parent is not None and not isinstance(parent, CloneRt):
        parent = parent.parent
    return parent is not None


def _promotable(prim: Prim) -> bool:
    parent = prim.parent
    while parent is not None and not isinstance(parent, CloneRt):
        parent = parent.parent
    return isinstance(parent, CloneRt) and parent.promotable


def _is_anonymous_instance(prim: Prim) -> bool:
    parent = prim.parent
    while parent is not None and not isinstance(parent, CloneRt):
        parent = parent.parent
    return isinstance(parent, CloneRt) and not parent.globally_unique


def _role_rank(role: str) -> int:
    return {"Unknown": 0, "Stopped": 1, "Started": 2, "Unpromoted": 3, "Promoted": 4}.get(role, 0)
