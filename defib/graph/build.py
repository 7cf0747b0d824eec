"""Transition -> TransitionGraph: which actions go into the graph, in which synapse order.

Pacemaker puts an action in the graph when it is runnable and required (not optional), and
for a resource action only when its node can run it (online, clean) and the resource is
managed (a probe is the one exception). An ordering edge is kept only when both ends are in
the graph: an edge through a left-out action is dropped, as Pacemaker does.

Synapse order matters: the executor (ours and Pacemaker's) fires ready synapses in id order.
Pacemaker numbers synapses resource by resource in configuration order (a group's own pseudo
actions before its members', a clone's after its instances'), each resource's actions newest
first, then the actions that belong to no resource. We reproduce that order from the kind of
each action, since our scheduler does not create actions in Pacemaker's internal sequence.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from defib.cib.timespec import parse_ms
from defib.graph.model import ActionKind, GraphAction, Synapse, TransitionGraph
from defib.model.resources import Operation
from defib.perf import cyclic_gc_paused
from defib.scheduler.actions import Action
from defib.scheduler.ordering import ANTI_COLOCATION, COLOCATED
from defib.scheduler.pipeline import Transition
from defib.scheduler.rules import RuleContext, evaluate_nvsets
from defib.scheduler.unpack import WorkingSet
from defib.scheduler.working import BundleRt, CloneRt, GroupRt, NodeInfo, Prim, Rsc

DEFAULT_TIMEOUT_MS = 20000
CLUSTER_TASKS = frozenset({"stonith", "do_shutdown", "clear_failcount", "lrm_delete"})

# Pacemaker's creation order for one primitive's actions (older first). Synapses list a
# resource's actions newest first, so a higher rank comes earlier in the graph.
_PRIM_RANK = {
    "delete": -3, "clear_failcount": -5, "probe": 0, "cancel": 1, "demote": 2, "stop": 3,
    "start": 4, "promote": 5, "monitor": 6, "reload-agent": 6, "migrate_to": 7,
    "migrate_from": 8, "notify": 9,
}
# ... and a collective's pseudo actions.
_COLLECTIVE_RANK = {
    "start": 0, "running": 1, "stop": 2, "stopped": 3, "promote": 4, "promoted": 5,
    "demote": 6, "demoted": 7,
}

# The order of a clone's notifications, by the operation notified about.
_NOTIFY_ORDER = {"start": 0, "stop": 1, "promote": 2, "demote": 3}


def included(action: Action) -> bool:
    """Whether Pacemaker would put ``action`` in the transition graph."""
    if not action.runnable or (action.optional and "print_always" not in action.extra):
        return False
    rsc = action.rsc
    if (isinstance(rsc, Prim) and not rsc.managed and not _is_probe(action)
            and not (rsc.maintenance and action.task == "cancel")):
        return False
    if action.pseudo or action.task in CLUSTER_TASKS:
        return True
    node = action.node
    if node is None:
        return False
    if node.type == "remote" and node.container_rsc and (
            not node.unclean or node.reset_only and not action.pseudo):
        return True  # a guest node is assumed to come up with its container
    return node.online and not node.unclean


def build_graph(transition: Transition, transition_id: int = 0) -> TransitionGraph:
    """The transition's graph. An action's id is its position in ``transition.actions``
    (the live controller relies on that to map graph actions back to scheduler actions)."""
    with cyclic_gc_paused():  # a burst of objects that live as long as the graph
        return _build_graph(transition, transition_id)


def _build_graph(transition: Transition, transition_id: int) -> TransitionGraph:
    ws = transition.working_set
    chosen = [a for a in transition.actions.actions if included(a)]
    ids = {id(a): n for n, a in enumerate(transition.actions.actions)}
    chosen_keys = {id(a) for a in chosen}

    inputs: dict[int, list[int]] = {id(a): [] for a in chosen}
    for edge in transition.edges:
        if COLOCATED in edge.flags:
            continue  # what blocking a colocated primary implies: no ordering
        first, then = edge.first, edge.then
        if ANTI_COLOCATION in edge.flags and not _anti_colocation_kept(first, then):
            continue
        if id(first) in chosen_keys and id(then) in chosen_keys and first is not then:
            wanted = inputs[id(then)]
            fid = ids[id(first)]
            if fid not in wanted:
                wanted.append(fid)
    for action in chosen:  # orderings recorded only on the action itself
        for first, flags in action.before:
            if ANTI_COLOCATION in flags and not _anti_colocation_kept(first, action):
                continue
            if id(first) in chosen_keys and first is not action:
                fid = ids[id(first)]
                if fid not in inputs[id(action)]:
                    inputs[id(action)].append(fid)

    node_rank = {node.id: n for n, node in enumerate(sorted(ws.nodes, key=_node_key))}
    rsc_rank = _resource_ranks(ws.resources)
    singletons = _early_singletons(ws)
    ordered = sorted(chosen, key=lambda a: _synapse_key(a, rsc_rank, node_rank, ids[id(a)],
                                                         singletons))
    stonith_action = ws.config.stonith_action
    timeout = default_timeout_ms(ws)
    defaults = op_defaults(ws)
    probes: dict[int, Operation | None] = {}
    synapses = tuple(
        Synapse(n, to_graph_action(a, ids[id(a)], stonith_action, timeout, defaults, probes),
                tuple(sorted(inputs[id(a)])))
        for n, a in enumerate(ordered))
    return TransitionGraph(synapses, transition_id=transition_id,
                           stonith_timeout=ws.config.properties.get("stonith-timeout", "60s"),
                           cluster_delay=ws.config.properties.get("cluster-delay", "60s"),
                           batch_limit=_int(ws.config.properties.get("batch-limit"), 0))


def _anti_colocation_kept(first: Action, then: Action) -> bool:
    """Only a required leave before an arrival on the same node stays in the graph."""
    return not first.optional and (first.node is None or then.node is None
                                   or first.node is then.node)


def lrm_id(prim: Prim) -> str:
    """The id a node's operation history knows ``prim`` by: an anonymous clone's instances
    share their base id (the graph's ``rsc_id``)."""
    if prim.instance_number is not None:
        top = prim.top()
        if isinstance(top, CloneRt) and not top.globally_unique:
            return prim.base_id()
    return prim.id


def kind_of(action: Action) -> ActionKind:
    if action.pseudo:
        return "pseudo_event"
    if action.task in CLUSTER_TASKS:
        return "crm_event"
    return "rsc_op"


def to_graph_action(action: Action, action_id: int, stonith_action: str = "reboot",
                    default_timeout_ms: int = DEFAULT_TIMEOUT_MS,
                    op_defaults: Mapping[str, str] | None = None,
                    probe_cache: dict[int, Operation | None] | None = None) -> GraphAction:
    kind = kind_of(action)
    rsc = action.rsc
    node = action.node
    prim = rsc if isinstance(rsc, Prim) else None
    op = _op_config(prim, action)
    show_node = node is not None and (kind != "pseudo_event" or action.task == "stonith")
    attrs: dict[str, str] = {}
    if kind != "pseudo_event" or action.task == "stonith":
        if node is not None:
            attrs["CRM_meta_on_node"] = node.uname
            attrs["CRM_meta_on_node_uuid"] = node.id
    if action.task == "stonith":
        attrs["CRM_meta_stonith_action"] = action.extra.get("action", stonith_action)
    elif action.task == "notify" and kind == "rsc_op":
        for key, value in action.extra.items():
            if key.startswith("notify_"):
                attrs["CRM_meta_" + key] = value
    elif action.task in ("migrate_to", "migrate_from"):
        attrs["CRM_meta_migrate_source"] = action.extra.get("migrate_source", "")
        attrs["CRM_meta_migrate_target"] = action.extra.get("migrate_target", "")
    if action.task == "do_shutdown":
        attrs["CRM_meta_op_no_wait"] = "true"
    elif kind != "crm_event":
        for key, value in (op_defaults or {}).items():
            if key != "timeout":  # op_defaults meta reach every action, pseudo ones too
                attrs["CRM_meta_" + key.replace("-", "_")] = value
        timing = op if op is not None else _probe_timing(prim, action, probe_cache)
        timeout = parse_ms(timing.timeout, None) if timing is not None else None
        attrs["CRM_meta_timeout"] = str(timeout or default_timeout_ms)
    if rsc is not None and kind != "crm_event":
        attrs.update(_clone_meta(rsc))
    if op is not None and kind == "rsc_op":
        # The operation's own settings travel as meta attributes (on-fail, role, ...).
        for key, value in op.attributes:
            if key not in ("id", "interval", "timeout"):
                if key == "start-delay":
                    value = str(parse_ms(value, 0) or 0)
                attrs["CRM_meta_" + key.replace("-", "_")] = value
    if prim is not None and kind == "rsc_op":
        if action.task == "cancel":
            attrs["CRM_meta_call_id"] = action.extra.get("call_id", "")
            attrs["CRM_meta_operation"] = action.extra.get("cancel_task", "monitor")
            attrs["CRM_meta_interval"] = str(action.interval_ms)
        elif action.interval_ms:
            attrs["CRM_meta_interval"] = str(action.interval_ms)
            attrs["CRM_meta_name"] = action.task
        if _is_probe(action):
            attrs["CRM_meta_op_target_rc"] = "7"
        elif action.target_rc is not None:
            attrs["CRM_meta_op_target_rc"] = str(action.target_rc)
        for key, value in prim.params.items():
            if value != "":
                attrs[key] = value
    long_id = None
    rsc_id = rsc.id if rsc is not None else None
    operation_key, internal_key = action.uuid, None
    if prim is not None and prim.instance_number is not None:
        long_id = prim.id
        rsc_id = lrm_id(prim)
        # Agents and the history know the instance by the name it was found under; the
        # graph keys every action of it by that name, pseudo actions too (Pacemaker's
        # clone_name).
        if prim.clone_name is not None:
            operation_key = prim.clone_name + action.uuid[len(prim.id):]
            internal_key = action.uuid
    return GraphAction(
        id=action_id,
        kind=kind,
        operation=action.task,
        operation_key=operation_key,
        internal_operation_key=internal_key,
        rsc_id=rsc_id if prim is not None else None,
        rsc_long_id=long_id,
        rsc_class=prim.rsc_class if prim is not None else None,
        rsc_provider=prim.provider if prim is not None else None,
        rsc_type=prim.type if prim is not None else None,
        node_uname=node.uname if (node is not None and show_node) else None,
        node_id=node.id if (node is not None and show_node) else None,
        interval_ms=action.interval_ms,
        attributes=tuple(sorted(attrs.items())),
    )


def _is_probe(action: Action) -> bool:
    return action.task == "monitor" and action.interval_ms == 0


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def _op_config(prim: Prim | None, action: Action) -> Operation | None:
    if prim is None:
        return None
    task = "monitor" if _is_probe(action) else action.task
    for op in prim.operations:
        if op.name == task and op.interval_ms == action.interval_ms:
            return op
    return None


def _probe_timing(prim: Prim | None, action: Action,
                  cache: dict[int, Operation | None] | None = None) -> Operation | None:
    """A probe without its own operation takes the timeout of the most frequent monitor."""
    if prim is None or not _is_probe(action):
        return None
    if cache is not None and id(prim) in cache:
        return cache[id(prim)]
    best: Operation | None = None
    for op in prim.operations:
        if op.name == "monitor" and op.interval_ms > 0 and op.enabled and (
                best is None or op.interval_ms < best.interval_ms):
            best = op
    if cache is not None:
        cache[id(prim)] = best
    return best


def _clone_meta(rsc: Rsc) -> dict[str, str]:
    """What every action of a clone, its instances and their members carries."""
    clone: CloneRt | None = None
    instance: str | None = None
    walker: Rsc | None = rsc
    while walker is not None:
        if isinstance(walker, CloneRt):
            clone = walker
            break
        if instance is None and ":" in walker.id:
            tail = walker.id.rsplit(":", 1)[1]
            instance = tail if tail.isdigit() else None
        walker = walker.parent
    if clone is None:
        return {}
    meta = {
        "CRM_meta_clone_max": str(clone.clone_max),
        "CRM_meta_clone_node_max": str(clone.clone_node_max),
        "CRM_meta_globally_unique": "true" if clone.globally_unique else "false",
        "CRM_meta_notify": "true" if clone.notify else "false",
    }
    if instance is not None and isinstance(rsc, Prim):
        meta["CRM_meta_clone"] = instance
    if clone.promotable:
        for name, value in (("promoted", clone.promoted_max), ("master", clone.promoted_max)):
            meta[f"CRM_meta_{name}_max"] = str(value)
        for name, value in (("promoted", clone.promoted_node_max),
                            ("master", clone.promoted_node_max)):
            meta[f"CRM_meta_{name}_node_max"] = str(value)
    return meta


def op_defaults(ws: WorkingSet) -> dict[str, str]:
    return evaluate_nvsets(ws.cib.op_defaults, RuleContext(now=ws.now))


def default_timeout_ms(ws: WorkingSet) -> int:
    """An action's timeout when its operation sets none: op_defaults, else 20s."""
    return parse_ms(op_defaults(ws).get("timeout"), None) or DEFAULT_TIMEOUT_MS


def _node_key(node: NodeInfo) -> NameKey:
    return natural_key(node.uname)


def numeric_strcasecmp(a: str, b: str) -> int:
    """Pacemaker's node-name comparison: case-insensitive, digit runs compared as numbers."""
    i = j = 0
    while i < len(a) and j < len(b):
        if a[i].isdigit() and b[j].isdigit():
            ei, ej = i, j
            while ei < len(a) and a[ei].isdigit():
                ei += 1
            while ej < len(b) and b[ej].isdigit():
                ej += 1
            na, nb = int(a[i:ei]), int(b[j:ej])
            if na != nb:
                return -1 if na < nb else 1
            if ei - i != ej - j:  # 007 sorts after 7
                return -1 if ei - i < ej - j else 1
            i, j = ei, ej
        else:
            ca, cb = a[i].lower(), b[j].lower()
            if ca != cb:
                return -1 if ca < cb else 1
            i += 1
            j += 1
    if i < len(a):
        return 1
    if j < len(b):
        return -1
    return 0


NameKey = Any
natural_key: Callable[[str], NameKey] = functools.cmp_to_key(numeric_strcasecmp)


def by_priority(resources: Iterable[Rsc]) -> list[Rsc]:
    """Pacemaker's resource list order: configured resources by descending priority (a stable
    sort, so configuration order otherwise), then the orphans found in the status section."""
    listed = list(resources)
    configured = sorted((r for r in listed if not r.orphan), key=lambda r: -r.priority)
    return configured + [r for r in listed if r.orphan]


def _resource_ranks(resources: Iterable[Rsc]) -> dict[int, int]:
    ranks: dict[int, int] = {}

    def walk(rsc: Rsc) -> None:
        # A group's own pseudo actions come before its members'; a clone's after its
        # instances' (Pacemaker expands a clone's children first). A bundle: the clone of
        # what runs inside, then each replica's address, container and connection.
        if isinstance(rsc, BundleRt):
            if rsc.child_clone is not None:
                walk(rsc.child_clone)
            for replica in rsc.replicas:
                for part in (replica.ip, replica.container, replica.connection):
                    if part is not None and id(part) not in ranks:
                        ranks[id(part)] = len(ranks)
            ranks[id(rsc)] = len(ranks)
            return
        if isinstance(rsc, CloneRt):
            for inst in rsc.instances:
                walk(inst)
            ranks[id(rsc)] = len(ranks)
            return
        ranks[id(rsc)] = len(ranks)
        if isinstance(rsc, GroupRt):
            for child in rsc.children:
                walk(child)

    for rsc in by_priority(resources):
        walk(rsc)
    return ranks


def _notify_rank(action: Action) -> float:
    """Where a notification stands among its resource's actions. A clone creates the
    four pseudo actions of each operation right after the operation's own pair (start and
    running, then stop and stopped, promote, demote); an instance's notify operations come
    last of all its actions, operation by operation, each "pre" before its "post"."""
    operation = action.extra.get("notify_operation", "")
    step = action.extra.get("notify_step")
    if step is not None:
        return _COLLECTIVE_RANK.get(operation, 0) + 1 + (int(step) + 1) * 0.2
    late = 0.05 if action.extra.get("notify_type") == "post" else 0.0
    return _PRIM_RANK["notify"] + _NOTIFY_ORDER.get(operation, 0) * 0.1 + late


def _early_singletons(ws: WorkingSet) -> dict[str, int]:
    """The actions of no resource that Pacemaker creates before any other, with their
    creation order: the load_stopped_<node> pseudo actions of utilization-based placement,
    made with each resource's internal orderings (resources by priority, each one's
    current nodes and then its allowed nodes by name)."""
    if ws.config.placement_strategy == "default":
        return {}
    by_id = {n.id: n for n in ws.nodes}
    order: dict[str, int] = {}
    tops = sorted(ws.resources, key=lambda r: -r.priority)  # stable, as g_list_sort is
    for top in tops:
        for prim in top.primitives():
            if not prim.utilization:
                continue
            allowed = sorted((by_id[n] for n in prim.allowed if n in by_id), key=_node_key)
            for node in list(prim.running_on) + allowed:
                order.setdefault(f"load_stopped_{node.uname}", len(order))
    return order


SynapseKey = tuple[int, int, float, int, int, int]


def _synapse_key(action: Action, rsc_rank: dict[int, int], node_rank: dict[str, int],
                 creation: int, singletons: Mapping[str, int]) -> SynapseKey:
    rsc = action.rsc
    node = node_rank.get(action.node.id, 0) if action.node is not None else 0
    if rsc is None or id(rsc) not in rsc_rank:
        # Actions of no resource come last, newest first.
        early = singletons.get(action.uuid) if rsc is None else None
        if early is not None:
            return (1, 1, 0, 0, 0, -early)
        return (1, 0, 0, 0, 0, -creation)
    position = 0
    if isinstance(rsc, Prim):
        rank = _prim_rank(action, rsc)
        if action.task in ("stop", "demote") and action.node in rsc.running_on:
            # Stops and demotes are created walking the nodes it runs on, in status order.
            node = rsc.running_on.index(action.node)
        if action.task == "monitor" and action.interval_ms > 0:
            # Recurring operations are created in the order they are configured, each
            # where the resource is to run and then where it is not (role=Stopped).
            position = 2 * _op_position(rsc, action) + ("stopped_monitor" in action.extra)
    else:
        rank = _COLLECTIVE_RANK.get(action.task, 8)
        if "notify_step" in action.extra:
            rank = _notify_rank(action)
    return (0, rsc_rank[id(rsc)], -rank, -position, -node, -action.interval_ms)


def _op_position(prim: Prim, action: Action) -> int:
    for n, op in enumerate(prim.operations):
        if op.name == action.task and op.interval_ms == action.interval_ms:
            return n
    return len(prim.operations)


def _prim_rank(action: Action, prim: Prim) -> float:
    """When Pacemaker creates ``action`` among its primitive's actions (a higher rank is
    newer, and a resource's synapses list its actions newest first)."""
    task = "probe" if _is_probe(action) else action.task
    node_id = action.node.id if action.node is not None else None
    rank: float = _PRIM_RANK.get(task, 6)
    # A cancel shares its key with the operation it cancels: it is that action.
    recurring = action.extra.get("cancel_task", "monitor") if task == "cancel" else task
    seen = (prim.unpacked_recurring.get((node_id, recurring, action.interval_ms))
            if node_id is not None and action.interval_ms > 0 else None)
    if seen is not None:
        # Created while reading the history (the recurring operations running there):
        # a resource's oldest actions, in the order they were read.
        rank = -4 + seen * 1e-6
    if task == "stop" and prim.failed and node_id in prim.fail_node_ids:
        rank = -2  # recovering a failure: created while reading the history, too
    elif task == "stop" and node_id in prim.agent_changed_on:
        # Another agent runs there: the history check stops it, then forgets it (delete).
        rank = -3.5
    if action.extra.get("from_history") and not (task == "cancel" and seen is not None):
        # Cancels and rescheduled monitors are created while the history is checked
        # for changed definitions, before anything else.
        rank = -1
    elif ((task == "start" and node_id in prim.restart_needed_on)
          or (task == "stop" and node_id in prim.pending_restart_on)):
        # The history check restarts it for a changed definition, before any probe: the
        # start, or the stop when a start still pending there cannot be reloaded.
        rank = -0.5
    elif task == "notify":
        rank = _notify_rank(action)
    elif task == "start" and action.node is prim.assigned and _early_start(prim):
        rank = 1.5  # before the stops and demotes
    return rank


def _early_start(prim: Prim) -> bool:
    """Whether Pacemaker creates the start on the chosen node before anything else the
    resource does: a start already pending, or a promoted resource that stays where it is
    (its create_pending_start, and the start a promoted resource checks for recovery)."""
    if prim.pending_task == "start":
        return True
    current = prim.current_node()
    return (prim.role == "Promoted" and current is not None and current is prim.assigned
            and not prim.failed and not prim.blocked)
