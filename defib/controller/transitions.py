"""The DC's transitions, apart from running them: the plan (scheduler and graph, pure, for
a worker thread), the pe series it is saved in, and the gate that keeps a failed transition
on an unchanged input from being run again in a loop.

Nothing here reads a clock or does I/O except ``PeRecorder`` (it writes the series).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Protocol

from defib.controller.cibinput import parse_input
from defib.controller.isolate import Scheduler, schedule_isolating
from defib.graph.build import build_graph
from defib.graph.model import TransitionGraph
from defib.graph.xml import graph_to_xml
from defib.scheduler import Transition, schedule
from defib.simulate.engine import execution_date


class PeStore(Protocol):
    """The bounded series of scheduler inputs and graphs (``history.series.PeSeries``)."""

    keep: int

    def next_number(self) -> int: ...

    def save(self, kind: str, number: int, text: str) -> object: ...


RETRY_FIRST_S = 1.0  # a failed transition whose input did not change waits this long ...
RETRY_MAX_S = 10.0  # ... doubling up to this, before it is run again
NEVER = float("inf")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def written_properties(root: ET.Element) -> dict[str, str]:
    """The cluster options as written (the first value of each name), before the scheduler
    has evaluated them: what the DC needs before its first scheduler run."""
    out: dict[str, str] = {}
    for nv in root.iterfind("configuration/crm_config/cluster_property_set/nvpair"):
        out.setdefault(nv.get("name", ""), nv.get("value", ""))
    return out


def undated(xml: str) -> str:
    """The scheduler input without its execution date: equal texts, same decisions."""
    return re.sub(r' execution-date="[0-9]*"', "", xml, count=1)


@dataclass(frozen=True)
class Plan:
    """One scheduler run: its input, the transition and its graph (numbered 0)."""

    xml: str
    key: str  # the input without its execution date
    transition: Transition
    graph: TransitionGraph
    graph_text: str
    # The scheduler failed on the whole input: why, and the top-level resources left out
    # (left as they are) so that the rest could be scheduled (``isolate``).
    error: str = ""
    skipped: tuple[str, ...] = ()

    def numbered_text(self, number: int) -> str:
        return self.graph_text.replace(' transition_id="0"', f' transition_id="{number}"', 1)


def make_plan(xml: str, scheduler: Scheduler = schedule) -> Plan:
    """Pure (runs in a worker thread): schedule at the input's own execution date, as a
    replay of the saved input does, and build the graph ``defib simulate -G`` writes.
    A scheduler failure is isolated to the resources causing it where possible
    (``SchedulerFailure`` when it cannot be)."""
    cib = parse_input(xml)
    transition, skipped, error = schedule_isolating(cib, execution_date(cib) or utc_now(),
                                                    scheduler)
    graph = build_graph(transition, 0)
    return Plan(xml, undated(xml), transition, graph, graph_to_xml(graph), error, skipped)


class PeRecorder:
    """Numbers graphs and saves them with their inputs; an input and graph identical to the
    last saved ones (execution date aside) keep its number and are not written again."""

    def __init__(self, series: PeStore) -> None:
        self.series = series
        self._last: tuple[str, str, int] | None = None  # input key, graph text, number

    def number(self, plan: Plan) -> TransitionGraph:
        last = self._last
        if last is not None and last[0] == plan.key and last[1] == plan.graph_text:
            return dataclasses.replace(plan.graph, transition_id=last[2])
        number = self.series.next_number()
        if self.series.keep != 0:  # pe-input-series-max=0: nothing is saved
            self.series.save("input", number, plan.xml)
            self.series.save("graph", number, plan.numbered_text(number))
        self._last = (plan.key, plan.graph_text, number)
        return dataclasses.replace(plan.graph, transition_id=number)


class RetryGate:
    """After a transition failed, the same input runs again only once its retry is due
    (1 s, then 2, 4 ... 10 s), or never by itself when nothing can change the outcome.
    An input whose transition completed does not run again until something changes (its
    graph could only repeat what was done), unless time itself changed the answer: the
    recheck timer ``force``s the next run."""

    def __init__(self) -> None:
        self._input: str | None = None
        self._failed = False
        self._complete = False
        self._forced = False
        self._delay = RETRY_FIRST_S
        self.retry_at = 0.0

    def remaining(self, key: str, now: float) -> float:
        """How long ``key`` must wait (0: it may run now; ``NEVER``: until a change)."""
        if key != self._input or self._forced:
            self._forced = False
            return 0.0
        if not self._failed:
            return NEVER if self._complete else 0.0
        return max(0.0, self.retry_at - now)

    def force(self) -> None:
        """Let the next input run whatever ran before (failure expiry, recheck interval)."""
        self._forced = True

    def ended(self, key: str, failed: bool, retryable: bool, now: float,
              complete: bool = False) -> None:
        """The transition of ``key`` ended; ``retryable``: running it again may help;
        ``complete``: every action of it ran (it was not aborted)."""
        self._input = key
        self._failed = failed
        self._complete = complete
        if not failed:
            self._delay = RETRY_FIRST_S
        elif not retryable:
            self.retry_at = NEVER
        else:
            self.retry_at = now + self._delay
            self._delay = min(RETRY_MAX_S, self._delay * 2)
