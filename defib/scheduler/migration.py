"""Live migrations found in the operation history: completed, partial, dangling or failed.

A migration spans two nodes' histories (migrate_to on the source, migrate_from on the
target), so it is resolved after every node's history has been replayed.
"""

from __future__ import annotations

from dataclasses import dataclass

from defib.model.status import OpRecord
from defib.scheduler.working import NodeInfo, Prim

_STATE_TASKS = ("start", "stop", "migrate_to", "migrate_from", "promote", "demote")


@dataclass
class NodeHistory:
    prim: Prim
    node: NodeInfo
    ops: list[OpRecord]  # sorted by call id

    def last_state_op(self) -> OpRecord | None:
        state = [op for op in self.ops if op.operation in _STATE_TASKS]
        return state[-1] if state else None


def _ok(op: OpRecord) -> bool:
    return op.rc_code == 0 and op.op_status == 0


def _newer(a: OpRecord, b: OpRecord) -> bool:
    """Is a newer than b? Call ids are per node, so compare change times (a record without
    one is never newer nor older)."""
    return bool(a.last_rc_change and b.last_rc_change and a.last_rc_change > b.last_rc_change)


def _newer_state(op: OpRecord, than: OpRecord) -> bool:
    """A later start, stop or migration, or a monitor that found it stopped, after ``than``."""
    relevant = op.operation in ("start", "stop", "migrate_to", "migrate_from") or (
        op.operation == "monitor" and op.rc_code == 7)
    return relevant and _newer(op, than)


def resolve_migrations(histories: dict[tuple[int, str], NodeHistory],
                       node_by_name: dict[str, NodeInfo]) -> None:
    for history in list(histories.values()):
        prim, source = history.prim, history.node
        last = history.last_state_op()
        migrate_to = next((op for op in reversed(history.ops) if op.operation == "migrate_to"),
                          None)
        if migrate_to is None:
            continue
        target = node_by_name.get(migrate_to.migrate_target or "")
        on_target = histories.get((id(prim), target.id)) if target is not None else None
        if not _ok(migrate_to):
            # A failed migrate_to may have left the resource running on the target too.
            # Unless nothing is known of it there (it will be probed) or a newer state is.
            if target is not None and (target.online or target.unclean) and (
                    on_target is not None
                    and not any(_newer_state(op, migrate_to) for op in on_target.ops)):
                # A later stop on the source still leaves the role stopped (Pacemaker then
                # reports a restart on the target, which only starts it).
                _add_running(prim, target, set_role=last is migrate_to)
                if migrate_to.op_status != -1 and migrate_to.call_id >= 0:  # not pending
                    _list_before(prim, target, source)
            continue
        if last is not migrate_to:
            continue  # a later stop or start on the source closed the story
        migrate_from = None
        if on_target is not None:
            migrate_from = next((op for op in reversed(on_target.ops)
                                 if op.operation == "migrate_from"
                                 and (op.migrate_source or source.uname) == source.uname), None)
        if migrate_from is not None and _ok(migrate_from):
            # Completed, but the source was never stopped: it runs on the target.
            _remove_running(prim, source)
            prim.dangling_migration_on.append(source)
            if target is not None and (target.online or target.unclean):
                _add_running(prim, target)
        elif migrate_from is not None:
            prim.failed = True
            if target is not None:
                _list_before(prim, target, source)
        elif target is not None and target.online and not target.unclean:
            prim.partial_migration_source = source
            prim.partial_migration_target = target
        else:
            prim.failed = True  # the target went away mid-migration: recover


def _list_before(prim: Prim, target: NodeInfo, source: NodeInfo) -> None:
    """Pacemaker learns of the target while reading the source's migrate_to, before it
    adds the source itself: the target is listed first."""
    running = prim.running_on
    if target in running and source in running and running.index(target) > running.index(
            source):
        running.remove(target)
        running.insert(running.index(source), target)


def _add_running(prim: Prim, node: NodeInfo, set_role: bool = True) -> None:
    if node not in prim.running_on:
        prim.running_on.append(node)
        node.running.append(prim)
    if set_role and prim.role in ("Stopped", "Unknown"):
        prim.role = "Started"


def _remove_running(prim: Prim, node: NodeInfo) -> None:
    if node in prim.running_on:
        prim.running_on.remove(node)
    if prim in node.running:
        node.running.remove(prim)
