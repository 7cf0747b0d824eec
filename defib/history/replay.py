"""`defib history transition N`: replay a saved scheduler input and explain it.

What changed since the input before it (the same CIB diff the recorder uses), what the
scheduler decides when replayed (the simulator, as `defib simulate -x pe-input-N.xml`), why
(the decision trace, for every resource that acts), and how the transition ended.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from defib.history.derive import cib_events
from defib.history.render import stamp
from defib.history.store import HistoryEvent


def explain_transition(number: int, xml: str, previous: str | None,
                       events: Sequence[HistoryEvent]) -> str:
    from defib.cib.parse import parse_cib
    from defib.explain import explain, trace_schedule
    from defib.simulate.engine import execution_date, simulate

    cib = parse_cib(xml)
    now = execution_date(cib)
    started = next((e for e in events if e.detail.get("cause")), None)
    lines = [f"Transition {number} (pe-input-{number}.xml)"
             + (f", {stamp(started.ts)}, cause: {started.detail['cause']}" if started else "")]
    lines += ["", f"What changed since pe-input-{number - 1}:"]
    if previous is None:
        lines.append(f"  (pe-input-{number - 1} is not kept: nothing to compare with)")
    else:
        changes = cib_events(ET.fromstring(previous), ET.fromstring(xml), 0.0)
        lines += [f"  - {c.summary}" for c in changes] or ["  (nothing but the time)"]
    sim = simulate(cib, now, execute=False)
    summary = [s for s in sim.transition.summary if s.strip()]
    lines += ["", "What the scheduler decided (replayed):"]
    lines += [f"  {s.strip()}" for s in summary] or ["  nothing to do"]
    acting = sorted({r for r in map(_resource, summary) if r is not None})
    if acting:
        trace = trace_schedule(parse_cib(xml), now)
        lines += ["", "Why:"]
        for rsc in acting:
            try:
                answers = explain(trace, str(rsc))
            except Exception:  # noqa: BLE001 - a name the summary shortened: skip it
                continue
            for answer in answers:
                lines += ["  " + line for line in answer.text().splitlines()]
    ended = [e for e in events if e.kind == "transition" and not e.detail.get("cause")]
    lines += ["", "How it ended:"]
    lines += [f"  {stamp(e.ts)} {e.summary}" for e in ended] or [
        "  (no record: the transition ran on another DC, or is still running)"]
    failures = [e for e in events if e.kind == "operation" and e.detail.get("failed")]
    lines += [f"  {stamp(e.ts)} {e.summary}" for e in failures]
    return "\n".join(lines)


def _resource(summary_line: str) -> str | None:
    # "  * Move       web     ( node1 -> node2 )": the resource is the third word.
    words = summary_line.replace("*", " ").split()
    if len(words) < 2 or words[0] in ("Fence", "Pseudo"):
        return None
    name = words[1]
    return name.split(":", 1)[0] if name[0].isalnum() else None
