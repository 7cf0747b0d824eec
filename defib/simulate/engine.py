"""Simulate one transition: schedule, execute the graph with simulated results, re-read status.

This is what ``crm_simulate -S`` does: every action succeeds at once, its result is written
into the CIB status (as the controller would record it), and the revised status is read back
from that CIB by the same unpacking code that read the original.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import re
from collections.abc import Callable

from defib.graph.build import build_graph
from defib.graph.executor import ActionOutcome, GraphExecutor, GraphReport
from defib.graph.model import GraphAction, TransitionGraph
from defib.model.cib import Cib
from defib.scheduler import schedule
from defib.scheduler.pipeline import Transition, unpack
from defib.scheduler.unpack import WorkingSet
from defib.simulate.inject import (
    active_history,
    apply_results,
    history_entry,
    target_rc,
)
from defib.simulate.scores import score_lines
from defib.simulate.status import render_status

_SUMMARY_LINE = re.compile(r"^  \* (\S+)\s+(\S+)\s+\( ?(.*?) ?\)((?:  .*)?)$")


def align_summary(lines: list[str]) -> list[str]:
    """Transition Summary lines in crm_simulate's columns.

    Pacemaker pads the resource column to a width that grows to ``len + 2`` whenever an id
    does not fit (starting at 5), and right-aligns the details to the longest seen; widths
    are final before printing because the same lines were logged once already.
    """
    parsed: list[str | tuple[str, str, str, str]] = []
    rsc_width = detail_width = 5
    for line in lines:
        match = _SUMMARY_LINE.match(line)
        if match is None or line.startswith("  * Fence"):
            parsed.append(line)
            continue
        change, rsc, details, reason = match.groups()
        details = " ".join(details.split())
        if len(rsc) > rsc_width:
            rsc_width = len(rsc) + 2
        detail_width = max(detail_width, len(details))
        parsed.append((change, rsc, details, reason))
    out = []
    for item in parsed:
        if isinstance(item, str):
            out.append(item)
            continue
        change, rsc, details, reason = item
        out.append(f"  * {change:<8}   {rsc:<{rsc_width}}   ( {details:>{detail_width}} ){reason}")
    return out


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


class SimulatedHandlers:
    """Every action succeeds immediately; the order they ran in is kept.

    A subclass may make some fail (``result_of``): their codes go in ``rc_overrides``, what
    to print after their line in ``notes``, and ``revise`` adds to the revised CIB.
    """

    def __init__(self) -> None:
        self.executed: list[GraphAction] = []
        self.rc_overrides: dict[int, int] = {}
        self.notes: dict[int, list[str]] = {}
        # What may still run once an action failed (see GraphExecutor); None: nothing.
        self.after_abort: Callable[[GraphAction], bool] | None = None

    def result_of(self, action: GraphAction) -> int:
        return target_rc(action)

    def revise(self, cib: Cib) -> Cib:
        return cib

    async def execute(self, action: GraphAction) -> ActionOutcome:
        self.executed.append(action)
        rc = self.result_of(action)
        if rc != target_rc(action):
            return ActionOutcome.failure(rc)
        return ActionOutcome.success(rc)


def run_graph(graph: TransitionGraph, handlers: SimulatedHandlers | None = None
              ) -> tuple[GraphReport, list[GraphAction]]:
    handlers = handlers or SimulatedHandlers()
    report = asyncio.run(GraphExecutor(graph, handlers, after_abort=handlers.after_abort).run())
    return report, handlers.executed


def execution_date(cib: Cib) -> dt.datetime | None:
    """The CIB's recorded execution date (UTC), which crm_simulate uses when not given -t."""
    text = dict(cib.attributes).get("execution-date")
    if text is None or not text.strip().lstrip("-").isdigit():
        return None
    try:
        return dt.datetime.fromtimestamp(int(text), dt.UTC).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):  # beyond the years datetime can hold
        return None


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
    # The status as read, before the scheduler decided anything (it marks resources
    # unmanaged, blocked ... as it goes, which crm_simulate's first status does not show).
    current: WorkingSet | None = None
    # Lines printed after an executed action's (what-if failures), by action id.
    notes: dict[int, list[str]] = dataclasses.field(default_factory=dict)

    def preamble(self) -> list[str]:
        lines: list[str] = []
        if self.original_date is not None:
            lines.append(f"Using the original execution date of: "
                         f"{self.original_date:%Y-%m-%d %H:%M:%S}Z")
        ws = self.current or self.transition.working_set
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
        elif ws.config.maintenance_mode:
            return lines
        # The execution date is a plain note; the status follows the other messages after a
        # blank line.
        return lines + ([""] if disabled or blocked else [])

    def status_lines(self) -> list[str]:
        return render_status(self.current or self.transition.working_set,
                             "Current cluster status:")

    def score_lines(self) -> list[str]:
        return score_lines(self.transition.working_set)

    def lines(self, scores: bool = False) -> list[str]:
        out = self.preamble() + self.status_lines()
        if scores:
            out += ["", *self.score_lines()]
        out += ["", "Transition Summary:", *align_summary(self.transition.summary), ""]
        known = frozenset(r.id for s in self.cib.node_states for r in s.lrm_resources)
        states = {s.uname: s for s in self.cib.node_states}

        def line(action: GraphAction) -> str:
            entry = history_entry(states.get(action.node_uname or ""), action)
            # Only the entry of an instance active there names it; an old probe's entry
            # under another instance number does not (crm_simulate prints the new number).
            named = entry is not None and (entry.id == action.rsc_long_id
                                           or active_history(entry))
            return action_line(action, known, entry.id if named and entry else None)

        out.append("Executing Cluster Transition:")
        for action in self.executed:
            out += [line(action), *self.notes.get(action.id, ())]
        if self.original_date is not None:
            out.append(f"Using the original execution date of: "
                       f"{self.original_date:%Y-%m-%d %H:%M:%S}Z")
        if self.revised is None:
            raise ValueError("the transition was not executed: simulate(..., execute=True)")
        out += ["", *render_status(self.revised, "Revised Cluster Status:", show_pending=False)]
        return out

    def text(self, scores: bool = False) -> str:
        return "\n".join(self.lines(scores)) + "\n"


def simulate(cib: Cib, now: dt.datetime | None = None, execute: bool = True,
             default_now: dt.datetime | None = None,
             handlers: SimulatedHandlers | None = None) -> Simulation:
    """Schedule ``cib`` at ``now``; with ``execute``, also run the graph and re-read status.

    Without ``now``, the CIB's recorded execution date is used, else ``default_now`` (the
    caller's clock: crm_simulate uses the current time). ``handlers`` decide each action's
    result (default: all succeed).
    """
    original = None
    if now is None:
        original = execution_date(cib)
        now = original if original is not None else default_now
    current = unpack(cib, now)
    transition = schedule(cib, now)
    graph = build_graph(transition)
    if not execute:
        return Simulation(cib, now, original, transition, graph, None, [], None, None, current)
    handlers = handlers or SimulatedHandlers()
    report, executed = run_graph(graph, handlers)
    revised_cib = handlers.revise(apply_results(cib, executed, handlers.rc_overrides))
    revised = unpack(revised_cib, now)
    return Simulation(cib, now, original, transition, graph, report, executed, revised_cib,
                      revised, current, handlers.notes)
