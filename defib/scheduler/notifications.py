"""Clone notifications (``notify=true``): agents hear before and after every instance
of a clone starts, stops, is promoted or demoted, as Pacemaker tells them.

For each clone action that happens, four pseudo actions frame it::

    clone_pre_notify_start_0 -> [instance notify ops] -> clone_confirmed-pre_notify_start_0
      -> clone_start_0 ... clone_running_0
      -> clone_post_notify_running_0 -> [instance notify ops]
      -> clone_confirmed-post_notify_running_0

Pre-notifications go to the instances active now, post-notifications to those active
afterwards. Each notify op carries who starts, stops, is promoted and demoted where, in
the ``CRM_meta_notify_*`` attributes that agents read.
"""

from __future__ import annotations

from collections.abc import Callable

from defib.scheduler.actions import Action, ActionTable, op_uuid
from defib.scheduler.ordering import Edge
from defib.scheduler.unpack import WorkingSet
from defib.scheduler.variants.bundle import with_bundle_children
from defib.scheduler.working import CloneRt, NodeInfo, Prim, Rsc

_TASKS = (("stop", "stopped"), ("demote", "demoted"), ("start", "running"),
          ("promote", "promoted"))

EdgeFn = Callable[[Action, Action], None]


def add_notifications(ws: WorkingSet, table: ActionTable, edge: EdgeFn) -> None:
    for rsc in with_bundle_children(ws.resources):
        if isinstance(rsc, CloneRt) and rsc.notify:
            _clone_notifications(rsc, table, edge)


def remap_to_notifications(ws: WorkingSet, table: ActionTable, edges: list[Edge]) -> None:
    """What is ordered after a notifying clone's completion (running, stopped, promoted,
    demoted) waits for its post-notifications to be confirmed instead: Pacemaker maps the
    "first" of such orders to ``confirmed-post_notify_<completion>``. The clone's own
    orders stay as they are."""
    remap: dict[int, Action] = {}
    owner: dict[int, CloneRt] = {}
    for rsc in with_bundle_children(ws.resources):
        if not (isinstance(rsc, CloneRt) and rsc.notify):
            continue
        for _task, done in _TASKS:
            end = table.get(op_uuid(rsc.id, done), None)
            post_done = table.get(f"{rsc.id}_confirmed-post_notify_{done}_0", None)
            if end is not None and post_done is not None:
                remap[id(end)] = post_done
                owner[id(end)] = rsc
    if not remap:
        return
    for edge in edges:
        target = remap.get(id(edge.first))
        if target is None or _within(edge.then.rsc, owner[id(edge.first)]):
            continue
        old, then = edge.first, edge.then
        edge.first = target
        then.before = [(target if first is old else first, label)
                       for first, label in then.before]


def _within(rsc: Rsc | None, clone: CloneRt) -> bool:
    while rsc is not None:
        if rsc is clone:
            return True
        rsc = rsc.parent
    return False


def _usable(node: NodeInfo | None) -> bool:
    return node is not None and node.online and not node.unclean


def _clone_notifications(clone: CloneRt, table: ActionTable, edge: EdgeFn) -> None:
    prims = [p for inst in clone.instances for p in inst.primitives()]
    lists = _notify_lists(clone, prims, table)
    confirmed_post: dict[str, Action] = {}
    pre_of: dict[str, Action] = {}
    for task, done in _TASKS:
        begin = table.get(op_uuid(clone.id, task), None)
        end = table.get(op_uuid(clone.id, done), None)
        if begin is None or end is None or begin.optional or not begin.runnable:
            continue
        pre = _pseudo(table, f"{clone.id}_pre_notify_{task}_0", clone, task, 0)
        pre_done = _pseudo(table, f"{clone.id}_confirmed-pre_notify_{task}_0", clone, task, 1)
        post = _pseudo(table, f"{clone.id}_post_notify_{done}_0", clone, task, 2)
        post_done = _pseudo(table, f"{clone.id}_confirmed-post_notify_{done}_0", clone, task, 3)
        edge(pre, pre_done)
        edge(pre_done, begin)
        edge(end, post)
        edge(pre_done, post)
        edge(post, post_done)
        pre_of[task] = pre
        confirmed_post[task] = post_done
        for prim in prims:
            now = prim.running_on[0] if prim.running_on else None
            stopping = any(not a.optional for a in table.for_rsc(prim, "stop")
                           if a.node is now)
            # An instance hears about starts and promotions only where it still runs
            # then, and about stops and demotions only where it already ran.
            if (now is not None and _usable(now) and prim.role not in ("Stopped", "Unknown")
                    and not (stopping and task in ("start", "promote"))):
                op = _notify_op(table, prim, now, "pre", task, lists)
                edge(pre, op)
                edge(op, pre_done)
            after = prim.assigned if prim.next_role not in (None, "Stopped") else None
            if after is not None and _usable(after) and not (task in ("stop", "demote")
                                       and after not in prim.running_on):
                op = _notify_op(table, prim, after, "post", task, lists)
                edge(post, op)
                edge(op, post_done)
            # Every recurring monitor of an instance waits for the post-notifications.
            for mon in table.for_rsc(prim, "monitor"):
                if mon.interval_ms > 0 and not mon.optional:
                    edge(post_done, mon)
    # Stops and demotions are told about before starts and promotions.
    for first, then in (("stop", "start"), ("demote", "promote"), ("demote", "stop"),
                        ("stop", "promote")):
        if first in confirmed_post and then in pre_of:
            edge(confirmed_post[first], pre_of[then])


def _pseudo(table: ActionTable, uuid: str, clone: CloneRt, operation: str,
            step: int) -> Action:
    """One of the four pseudo actions framing ``operation``; ``step`` is its place among
    them (pre, confirmed-pre, post, confirmed-post), the order Pacemaker creates them in."""
    task = "notified" if "_confirmed-" in uuid else "notify"
    action = Action(uuid, task, clone, None, optional=False, pseudo=True)
    action.extra["notification"] = "1"
    action.extra["notify_operation"] = operation
    action.extra["notify_step"] = str(step)
    return table.add(action)


def _notify_op(table: ActionTable, prim: Prim, node: NodeInfo, kind: str, task: str,
               lists: dict[str, str]) -> Action:
    op = Action(op_uuid(prim.id, f"{kind}_notify_{task}"), "notify", prim, node,
                optional=False)
    op.extra["notify_type"] = kind
    op.extra["notify_operation"] = task
    op.extra["notify_key_type"] = kind if kind == "pre" else "post"
    op.extra["notify_key_operation"] = task if kind == "pre" else dict(_TASKS)[task]
    for name, value in lists.items():
        op.extra["notify_" + name] = value
    return table.add(op)


def _notify_lists(clone: CloneRt, prims: list[Prim], table: ActionTable) -> dict[str, str]:
    """Who is active, and who starts, stops, is promoted or demoted where."""
    def names(pairs: list[tuple[str, str]]) -> tuple[str, str]:
        pairs.sort()
        return (" ".join(p for p, _ in pairs) or " ", " ".join(n for _, n in pairs) or " ")

    active: list[tuple[str, str]] = []
    inactive: list[str] = []
    promoted: list[tuple[str, str]] = []
    unpromoted: list[tuple[str, str]] = []
    changes: dict[str, list[tuple[str, str]]] = {t: [] for t, _ in _TASKS}
    for prim in prims:
        if prim.running_on:
            node = prim.running_on[0].uname
            active.append((prim.id, node))
            if prim.role == "Promoted":
                promoted.append((prim.id, node))
            elif clone.promotable:
                unpromoted.append((prim.id, node))
        else:
            inactive.append(prim.id)
        for task in changes:
            for action in table.for_rsc(prim, task):
                if not action.optional and action.runnable and action.node is not None:
                    changes[task].append((prim.id, action.node.uname))
    out: dict[str, str] = {}
    out["active_resource"], out["active_uname"] = names(active)
    out["inactive_resource"] = " ".join(sorted(inactive)) or " "
    for task, pairs in changes.items():
        out[f"{task}_resource"], out[f"{task}_uname"] = names(pairs)
    out["promoted_resource"], out["promoted_uname"] = names(promoted)
    out["master_resource"], out["master_uname"] = out["promoted_resource"], out["promoted_uname"]
    out["unpromoted_resource"], out["unpromoted_uname"] = names(unpromoted)
    out["slave_resource"], out["slave_uname"] = (out["unpromoted_resource"],
                                                 out["unpromoted_uname"])
    return out
