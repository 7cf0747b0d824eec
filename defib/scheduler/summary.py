"""The transition summary: one line per resource that changes, as crm_simulate prints it."""

from __future__ import annotations

from defib.scheduler.actions import Action, ActionTable, op_uuid
from defib.scheduler.unpack import WorkingSet
from defib.scheduler.working import GroupRt, Prim


def _role_needed(prim: Prim) -> bool:
    order = {"Unknown": 0, "Stopped": 1, "Started": 2, "Unpromoted": 3, "Promoted": 4}
    return order.get(prim.role, 0) > 2 or order.get(prim.next_role or "Stopped", 0) > 3


def _line(
    change: str,
    prim: Prim,
    origin: str | None,
    dest: str | None,
    action: Action | None,
    source: Action | None,
) -> str:
    need_role = _role_needed(prim)
    role, next_role = prim.role, prim.next_role or "Stopped"
    same_host = origin is not None and origin == dest
    same_role = role == next_role
    if need_role and origin is None:
        details = f"{role} -> {next_role} {dest}"
    elif origin is None:
        details = f"{dest}"
    elif need_role and dest is None:
        details = f"{role} {origin}"
    elif dest is None:
        details = f"{origin}"
    elif need_role and same_role and same_host:
        details = f"{role} {origin}"
    elif same_role and same_host:
        details = f"{origin}"
    elif need_role and same_role:
        details = f"{origin} -> {dest} {role}"
    elif same_role:
        details = f"{origin} -> {dest}"
    elif same_host:
        details = f"{role} -> {next_role} {origin}"
    else:
        details = f"{role} {origin} -> {next_role} {dest}"
    reason = ""
    src = source or action
    if src is not None and src.reason and action is not None and not action.runnable:
        reason = f"  due to {src.reason} (blocked)"
    elif src is not None and src.reason:
        reason = f"  due to {src.reason}"
    elif action is not None and not action.runnable:
        reason = "  blocked"
    return f"  * {change:<8}   {prim.id:<5}   ( {details} ){reason}"


def summarize(ws: WorkingSet, table: ActionTable) -> list[str]:
    lines: list[str] = []
    # Node actions come first, newest first: Pacemaker lists its actions most recent first.
    for action in reversed(table.actions):
        if action.task == "stonith" and action.runnable and not action.optional:
            reason = action.reason or "node is unclean"
            resource = action.extra.get("resource")
            target = action.node.uname if action.node else ""
            kind = action.extra.get("action", "reboot")
            if resource:
                target += f" (resource: {resource})"
                # Only a label: the guest is "rebooted" if its container starts again.
                container = ws.by_id.get(resource)
                kind = "reboot" if getattr(container, "assigned", None) is not None else "off"
            lines.append(f"  * Fence ({kind}) {target} '{reason}'")
    for prim in _display_order(ws):
        if prim.assigned is None and len(prim.running_on) > 1 and prim.managed and not prim.blocked:
            lines.extend(_stop_everywhere(prim, table))
            continue
        line = _prim_line(prim, table)
        if line:
            lines.append(line)
    return lines


def _stop_everywhere(prim: Prim, table: ActionTable) -> list[str]:
    """A multiply active resource that is to stop: one line per node it runs on."""
    lines = []
    saved = prim.next_role
    prim.next_role = "Stopped"
    try:
        for node in prim.running_on:
            stop = next((a for a in table.for_rsc(prim, "stop") if a.node is node), None)
            if stop is None or stop.optional:
                continue
            if not stop.reason:
                stop.reason = "node availability"
            lines.append(_line("Stop", prim, node.uname, None, stop, stop))
    finally:
        prim.next_role = saved
    return lines


def _display_order(ws: WorkingSet) -> list[Prim]:
    order = ws.processing_order or ws.resources
    seen = {id(r) for r in order}
    rest = [r for r in ws.resources if id(r) not in seen]
    return [p for rsc in [*order, *rest] for p in rsc.primitives()]


def _prim_line(prim: Prim, table: ActionTable) -> str | None:
    if not prim.managed or prim.blocked:
        return None
    dest = prim.assigned
    start = table.get(op_uuid(prim.id, "start"), dest) if dest else None
    stops = list(table.for_rsc(prim, "stop"))
    promote = next(iter(table.for_rsc(prim, "promote")), None)
    demote = next(iter(a for a in table.for_rsc(prim, "demote") if not a.optional), None)
    current = prim.running_on[0] if prim.running_on else None
    origin = current.uname if current else None
    dest_name = dest.uname if dest else None
    if len(prim.running_on) > 1:
        # Multiply active: one line, from the node it is to keep (or the first one).
        current = dest if dest in prim.running_on else prim.running_on[0]
        origin = current.uname
    if current is None:
        if start is None or dest is None:
            return None
        if start.optional:
            return None
        if prim.next_role == "Promoted":
            return _line("Promote", prim, None, dest_name, promote or start, start)
        return _line("Start", prim, None, dest_name, start, start)
    stop = next((a for a in stops if a.node is current), None)
    if (
        dest is None
        or start is None
        or (not start.runnable and stop is not None and not stop.optional)
    ):
        if stop is None or (stop.optional and dest is not None):
            return None
        saved = prim.next_role
        prim.next_role = "Stopped"
        try:
            if dest is None and not stop.reason:
                stop.reason = "node availability"
            reason_src = (
                stop if stop.reason else (start if start is not None and start.reason else None)
            )
            return _line("Stop", prim, origin, None, stop, reason_src)
        finally:
            prim.next_role = saved
    if dest is current:
        if start.optional and (stop is None or stop.optional) and dest.id in prim.reload_needed_on:
            return _line("Reload", prim, origin, dest_name, start, None)
        if start.optional and (stop is None or stop.optional):
            if (
                prim.next_role != prim.role
                and prim.role in ("Promoted", "Unpromoted", "Started")
                and (prim.next_role in ("Promoted", "Unpromoted"))
            ):
                if prim.next_role == "Promoted" and promote is not None:
                    return _line("Promote", prim, origin, dest_name, promote, promote)
                if prim.next_role != "Promoted" and demote is not None:
                    return _line("Demote", prim, origin, dest_name, demote, demote)
            return None
        change = "Recover" if prim.failed else "Restart"
        if (
            change == "Restart"
            and prim.id
            and dest.id in prim.restart_needed_on
            and not start.reason
        ):
            start.reason = "resource definition change"
        if prim.role == "Stopped" and prim.next_role == "Started":
            # Recorded where a failed migration left it, stopped by its history (actions.py):
            # Pacemaker reports a plain restart there.
            prim.role = "Started"
            try:
                return _line(change, prim, origin, dest_name, start, start)
            finally:
                prim.role = "Stopped"
        if prim.role == "Promoted" and prim.next_role == "Promoted" or prim.role == prim.next_role:
            return _line(change, prim, origin, dest_name, start, start)
        if prim.next_role == "Promoted":
            return _line(
                "Promote" if not prim.failed else "Recover",
                prim,
                origin,
                dest_name,
                promote or start,
                start,
            )
        return _line(
            "Demote" if not prim.failed else "Recover", prim, origin, dest_name, start, start
        )
    change = "Recover" if prim.failed else "Move"
    if change == "Move" and migratable(prim):
        blocker = migration_blocker(prim, start)
        if blocker is None:
            change = "Migrate"
        elif start.reason is None:
            # What it must start after has to stop first, so it cannot move live.
            start.reason = f"unrunnable {blocker.id} stop"
    return _line(change, prim, origin, dest_name, start, start)


def _moving(prim: Prim) -> bool:
    current = prim.running_on[0] if prim.running_on else None
    return current is not None and prim.assigned is not None and prim.assigned is not current


def migration_blocker(prim: Prim, start: Action, seen: set[int] | None = None) -> Prim | None:
    """A resource it is ordered after that moves without migrating, if any."""
    seen = seen if seen is not None else set()
    seen.add(id(prim))
    for first, flags in start.before:
        other = first.rsc
        if (first.task != "start" or not isinstance(other, Prim) or other is prim
                or "implies_then" not in flags or id(other) in seen):
            continue
        if _moving(other) and (not migratable(other) or other.failed):
            return other
    return None


def migratable(prim: Prim) -> bool:
    default = "true" if (prim.type == "remote" and prim.provider == "pacemaker") else "false"
    allow = prim.meta.get("allow-migrate", default).lower() in ("true", "yes", "1", "on")
    if not allow or (prim.parent is not None and not isinstance(prim.parent, GroupRt)):
        return False  # clone instances never migrate
    current = prim.running_on[0] if prim.running_on else None
    return current is not None and current.online and not current.unclean
