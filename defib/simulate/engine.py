"""Simulate one transition: schedule, execute the graph with simulated results, re-read status.

This is what ``crm_simulate -S`` does: every action succeeds at once, its result is written
into the CIB status (as the controller would record it), and the revised status is read back
from that CIB by the same unpacking code that read the original.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Iterable

from defib.graph.build import build_graph
from defib.graph.executor import ActionOutcome, GraphExecutor, GraphReport
from defib.graph.model import GraphAction, TransitionGraph
from defib.model.cib import Cib
from defib.model.status import LrmResource, NodeState, OpRecord
from defib.scheduler import schedule
from defib.scheduler.pipeline import Transition, unpack
from defib.scheduler.unpack import WorkingSet
from defib.simulate.scores import score_lines
from defib.simulate.status import render_status

# Operations whose results do not change what the status section says runs where.
_NOT_RECORDED = frozenset({"delete", "meta-data", "cancel", "notify"})


def action_line(action: GraphAction, known: frozenset[str] = frozenset(),
                history_name: str | None = None) -> str:
    """One "Executing Cluster Transition" line, as crm_simulate prints it.

    crm_simulate names a clone instance by its configuration name when the status section
    already knows a resource by that name (``known``), else by its instance name: the one its
    history on that node uses (``history_name``) when there is one.
    """
    node = action.node_uname or ""
    if action.kind == "pseudo_event":
        return f"  * Pseudo action:   {action.operation_key}" + (f" on {node}" if node else "")
    if action.kind == "crm_event":
        if action.operation == "stonith":
            how = action.attrs.get("CRM_meta_stonith_action", "reboot")
            return f"  * Fencing {node} ({how})"
        if action.rsc_id:
            return f"  * Cluster action:  {action.operation} for {action.rsc_id} on {node}"
        return f"  * Cluster action:  {action.operation} on {node}"
    rsc = action.rsc_id or ""
    if action.rsc_long_id and rsc not in known:
        rsc = history_name or action.rsc_long_id
    task = action.operation + (f"={action.interval_ms}" if action.interval_ms else "")
    return f"  * Resource action: {rsc:<15} {task} on {node}"


def history_entry(state: NodeState | None, action: GraphAction) -> LrmResource | None:
    """The history entry on the action's node that the action's result belongs to.

    Anonymous clone instances may be recorded under the clone's configuration name or under
    instance names (``rsc:2``) that need not match the instance the scheduler picked. A node
    runs at most one instance of an anonymous clone: the entry that says it is active there
    is the one Pacemaker matched to the running instance.
    """
    if state is None or not action.rsc_id:
        return None
    by_id = {lrm.id: lrm for lrm in state.lrm_resources}
    if not action.rsc_long_id or action.rsc_long_id == action.rsc_id:
        return by_id.get(action.rsc_id)
    prefix = action.rsc_id + ":"
    names = [action.rsc_long_id, action.rsc_id] + [
        lrm.id for lrm in state.lrm_resources
        if lrm.id.startswith(prefix) and lrm.id[len(prefix):].isdigit()]
    entries = [by_id[n] for n in dict.fromkeys(names) if n in by_id]
    active = [lrm for lrm in entries if _active_history(lrm)]
    chosen = active or entries
    return chosen[0] if chosen else None


def _active_history(lrm: LrmResource) -> bool:
    last = None
    for op in sorted(lrm.ops, key=lambda o: o.call_id):
        if op.interval_ms == 0 and op.operation not in _NOT_RECORDED:
            last = op
    if last is None:
        return False
    if last.operation == "monitor":
        return last.rc_code in (0, 8)
    return last.operation in ("start", "promote", "demote", "migrate_from") and last.rc_code == 0


class SimulatedHandlers:
    """Every action succeeds immediately; the order they ran in is kept."""

    def __init__(self) -> None:
        self.executed: list[GraphAction] = []

    async def execute(self, action: GraphAction) -> ActionOutcome:
        self.executed.append(action)
        return ActionOutcome.success(_target_rc(action))


def _target_rc(action: GraphAction) -> int:
    text = action.attrs.get("CRM_meta_op_target_rc")
    return int(text) if text is not None and text.lstrip("-").isdigit() else 0


def run_graph(graph: TransitionGraph) -> tuple[GraphReport, list[GraphAction]]:
    handlers = SimulatedHandlers()
    report = asyncio.run(GraphExecutor(graph, handlers).run())
    return report, handlers.executed


# -- writing the simulated results into the CIB -----------------------------------------------

def apply_results(cib: Cib, executed: Iterable[GraphAction]) -> Cib:
    """The CIB after ``executed`` actions all succeeded."""
    states = {s.id: s for s in cib.node_states}
    order = [s.id for s in cib.node_states]
    call_id = max((op.call_id for s in cib.node_states for r in s.lrm_resources
                   for op in r.ops), default=0)
    ids_by_uname = {n.uname: n.id for n in cib.nodes}
    for action in executed:
        node_id = action.node_id or ids_by_uname.get(action.node_uname or "", None)
        if node_id is None:
            continue
        if node_id not in states:
            states[node_id] = NodeState(id=node_id, uname=action.node_uname)
            order.append(node_id)
        state = states[node_id]
        if action.is_fencing:
            states[node_id] = _fenced(state, action.attrs.get("CRM_meta_stonith_action"))
        elif action.kind == "rsc_op" and action.rsc_id and action.operation not in _NOT_RECORDED:
            call_id += 1
            states[node_id] = _record(state, action, call_id)
    return dataclasses.replace(cib, node_states=tuple(states[i] for i in order))


def _fenced(state: NodeState, how: str | None) -> NodeState:
    if how == "on":
        return dataclasses.replace(state, in_ccm="true", crmd="online", join="member",
                                   expected="member")
    # The fenced node is down and the controller wipes its history and attributes.
    return dataclasses.replace(state, in_ccm="false", crmd="offline", join="down",
                               expected="down", lrm_resources=(), transient_attributes=())


def _record(state: NodeState, action: GraphAction, call_id: int) -> NodeState:
    rsc_id = action.rsc_id or ""
    rc = _target_rc(action)
    op_id = (f"{rsc_id}_last_0" if action.interval_ms == 0
             else f"{rsc_id}_{action.operation}_{action.interval_ms}")
    key = f"{action.id}:0:{rc}:00000000-0000-0000-0000-defib0000000"
    record = OpRecord(
        id=op_id, operation=action.operation, interval_ms=action.interval_ms, call_id=call_id,
        rc_code=rc, op_status=0, operation_key=action.operation_key, transition_key=key,
        transition_magic=f"0:{rc};{key}", on_node=action.node_uname,
        migrate_source=action.attrs.get("CRM_meta_migrate_source"),
        migrate_target=action.attrs.get("CRM_meta_migrate_target"),
    )
    resources = list(state.lrm_resources)
    entry = history_entry(state, action)
    if entry is not None:
        if entry.id != rsc_id:  # Pacemaker names the record after the entry it joins
            op_id = op_id.replace(rsc_id, entry.id, 1)
            record = dataclasses.replace(record, id=op_id)
        n = resources.index(entry)
        ops = tuple(op for op in entry.ops if op.id != op_id) + (record,)
        resources[n] = dataclasses.replace(entry, ops=ops)
    else:
        resources.append(LrmResource(id=rsc_id, rsc_class=action.rsc_class,
                                     provider=action.rsc_provider, type=action.rsc_type,
                                     ops=(record,)))
    return dataclasses.replace(state, lrm_resources=tuple(resources), has_lrm=True)


# -- the whole simulation -----------------------------------------------------------------------

def execution_date(cib: Cib) -> dt.datetime | None:
    """The CIB's recorded execution date (UTC), which crm_simulate uses when not given -t."""
    text = dict(cib.attributes).get("execution-date")
    if text is None or not text.strip().lstrip("-").isdigit():
        return None
    return dt.datetime.fromtimestamp(int(text), dt.UTC).replace(tzinfo=None)


@dataclasses.dataclass
class Simulation:
    cib: Cib
    now: dt.datetime | None
    original_date: dt.datetime | None  # printed when the CIB's own date is used
    transition: Transition
    graph: TransitionGraph
    # What the simulated execution did; None when only the decisions were asked for.
    report: GraphReport | None
    executed: list[GraphAction]
    revised_cib: Cib | None
    revised: WorkingSet | None

    def preamble(self) -> list[str]:
        lines: list[str] = []
        if self.original_date is not None:
            lines.append(f"Using the original execution date of: "
                         f"{self.original_date:%Y-%m-%d %H:%M:%S}Z")
        ws = self.transition.working_set
        if ws.config.maintenance_mode:
            lines += ["", "              *** Resource management is DISABLED ***",
                      "  The cluster will not attempt to start, stop or recover services", ""]
        # Orphans that no longer run are history, not instances.
        prims = [p for p in ws.all_primitives() if not p.orphan or p.running_on]
        disabled = sum(1 for p in prims if (p.meta.get("target-role") or "").lower() == "stopped")
        blocked = sum(1 for p in prims if p.blocked)
        if disabled or blocked:
            lines.append(f"{disabled} of {len(prims)} resource instances DISABLED and "
                         f"{blocked} BLOCKED from further action due to failure")
        return lines + ([""] if lines else [])

    def status_lines(self) -> list[str]:
        return render_status(self.transition.working_set, "Current cluster status:")

    def score_lines(self) -> list[str]:
        return score_lines(self.transition.working_set)

    def lines(self, scores: bool = False) -> list[str]:
        out = self.preamble() + self.status_lines()
        if scores:
            out += ["", *self.score_lines()]
        out += ["", "Transition Summary:", *self.transition.summary, ""]
        known = frozenset(r.id for s in self.cib.node_states for r in s.lrm_resources)
        states = {s.uname: s for s in self.cib.node_states}

        def line(action: GraphAction) -> str:
            entry = history_entry(states.get(action.node_uname or ""), action)
            return action_line(action, known, entry.id if entry is not None else None)

        out += ["Executing Cluster Transition:", *(line(a) for a in self.executed)]
        if self.original_date is not None:
            out.append(f"Using the original execution date of: "
                       f"{self.original_date:%Y-%m-%d %H:%M:%S}Z")
        if self.revised is None:
            raise ValueError("the transition was not executed: simulate(..., execute=True)")
        out += ["", *render_status(self.revised, "Revised Cluster Status:", show_pending=False)]
        return out

    def text(self, scores: bool = False) -> str:
        return "\n".join(self.lines(scores)) + "\n"


def with_recorded_intervals(cib: Cib) -> Cib:
    """``lrm_rsc_op`` intervals are milliseconds, but ``defib.cib.parse`` (not ours) still reads
    them as a time spec (a bare number = seconds), which makes every recorded recurring monitor
    look unknown. Re-read the recorded attribute; a no-op once the parser is fixed."""

    def fix(op: OpRecord) -> OpRecord:
        raw = dict(op.attributes).get("interval", "").strip()
        if raw.isdigit() and int(raw) != op.interval_ms:
            return dataclasses.replace(op, interval_ms=int(raw))
        return op

    states = tuple(
        dataclasses.replace(state, lrm_resources=tuple(
            dataclasses.replace(lrm, ops=tuple(fix(op) for op in lrm.ops))
            for lrm in state.lrm_resources))
        for state in cib.node_states)
    return dataclasses.replace(cib, node_states=states)


def simulate(cib: Cib, now: dt.datetime | None = None, execute: bool = True) -> Simulation:
    """Schedule ``cib`` at ``now``; with ``execute``, also run the graph and re-read status."""
    cib = with_recorded_intervals(cib)
    original = None
    if now is None:
        original = execution_date(cib)
        now = original
    transition = schedule(cib, now)
    graph = build_graph(transition)
    if not execute:
        return Simulation(cib, now, original, transition, graph, None, [], None, None)
    report, executed = run_graph(graph)
    revised_cib = apply_results(cib, executed)
    revised = unpack(revised_cib, now)
    return Simulation(cib, now, original, transition, graph, report, executed, revised_cib,
                      revised)
