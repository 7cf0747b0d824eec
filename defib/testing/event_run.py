"""Running event sequences against the reference ``crm_simulate`` and defib's scheduler.

Each state of a sequence is scheduled by both; the reference's own simulated execution
(``crm_simulate -S -O``) gives the state the cluster is in next, so the cluster always
follows Pacemaker's decisions, whatever defib decided. A state agrees when the
``Transition Summary`` line sets are equal. Disagreements are grouped by the event that
led to the state and by what defib did more (or less) than Pacemaker.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from defib.cib.parse import parse_cib
from defib.simulate.conformance import summary_set
from defib.simulate.engine import simulate
from defib.testing.event_seq import (
    START_TIME,
    Event,
    apply_event,
    follow_up,
    sequence,
    settle_status,
)

SETTLE_ROUNDS = 2  # transitions the cluster may run on its own after an event
TIMEOUT_S = 120


@dataclass
class StateResult:
    seed: int
    step: str  # the event that led here ("start", or "after <event>" once it has run)
    reference: frozenset[str]
    defib: frozenset[str]

    @property
    def agrees(self) -> bool:
        return self.reference == self.defib

    def family(self) -> str:
        """What went wrong, by verb: "more:Restart" when defib restarts and Pacemaker does
        not, "less:Start" when defib misses a start, and so on."""
        extra = sorted({_verb(line) for line in self.defib - self.reference})
        missing = sorted({_verb(line) for line in self.reference - self.defib})
        parts = [f"more:{v}" for v in extra] + [f"less:{v}" for v in missing]
        return " ".join(parts) or "same"


def _verb(line: str) -> str:
    words = line.lstrip("* ").split()
    return words[0] if words else "?"


@dataclass
class RunReport:
    states: list[StateResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def agreement(self) -> float:
        if not self.states:
            return 0.0
        return 100.0 * sum(s.agrees for s in self.states) / len(self.states)

    def text(self, details: int = 10) -> str:
        bad = [s for s in self.states if not s.agrees]
        lines = [f"event sequences: {len(self.states) - len(bad)}/{len(self.states)} states "
                 f"agree ({self.agreement:.1f}%)"]
        by_family = Counter(s.family() for s in bad)
        by_event = Counter(s.step.split()[0] if s.step != "start" else "start" for s in bad)
        if bad:
            lines.append("disagreeing families: " + ", ".join(
                f"{fam} ({n})" for fam, n in by_family.most_common()))
            lines.append("after events: " + ", ".join(
                f"{ev} ({n})" for ev, n in by_event.most_common()))
        for s in bad[:details]:
            lines.append(f"seed {s.seed}, {s.step}:")
            lines += [f"  missing: {ln}" for ln in sorted(s.reference - s.defib)]
            lines += [f"  extra:   {ln}" for ln in sorted(s.defib - s.reference)]
        lines += [f"error: {e}" for e in self.errors]
        return "\n".join(lines)


def _stamp(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


class Runner:
    """Drives one sequence: apply an event, compare, advance as the reference says."""

    def __init__(self, workdir: Path, seed: int) -> None:
        self.workdir = workdir
        self.seed = seed
        self.now = START_TIME
        self.results: list[StateResult] = []

    def compare_and_advance(self, text: str, step: str) -> tuple[str, bool]:
        """(the next state, whether the reference's transition did anything)."""
        path = self.workdir / f"s{self.seed}.xml"
        out = self.workdir / f"s{self.seed}.out.xml"
        out.unlink(missing_ok=True)
        path.write_text(text, encoding="utf-8")
        when = _stamp(self.now)
        res = subprocess.run(["crm_simulate", "-x", str(path), "-S", "-O", str(out), "-t", when],
                             capture_output=True, text=True, timeout=TIMEOUT_S)
        if res.returncode != 0 and not out.is_file():
            # (A transition the reference itself found invalid still leaves its output.)
            raise RuntimeError(f"crm_simulate failed on seed {self.seed} ({step}): "
                               f"{res.stderr.strip()[-300:]}")
        reference = summary_set(res.stdout)
        now = dt.datetime.fromtimestamp(self.now, dt.UTC).replace(tzinfo=None)
        try:
            ours = summary_set(simulate(parse_cib(text), now).text())
        except Exception as exc:  # a crash is a disagreement like any other, with its cause
            ours = frozenset({f"defib raised {type(exc).__name__}: {exc}"})
        self.results.append(StateResult(self.seed, step, reference, ours))
        acted = "Executing Cluster Transition:\n  *" in res.stdout
        self.now += 5
        return settle_status(out.read_text(encoding="utf-8")), acted

    def settle(self, text: str, step: str, rounds: int) -> str:
        for _ in range(rounds):
            text, acted = self.compare_and_advance(text, step)
            if not acted:
                break
            step = step if step.startswith("after ") else f"after {step}"
        return text

    def run(self, length: int) -> None:
        seq = sequence(self.seed, length)
        text = self.settle(seq.cib, "start", 3)
        for event in seq.events:
            if event.kind == "time":
                self.now += int(event.arg)
            text = apply_event(text, event, self.now)
            text = self.settle(text, str(event), 1 + SETTLE_ROUNDS)
            extra: Event | None = follow_up(event, text)
            if extra is not None:
                text = apply_event(text, extra, self.now)
                text = self.settle(text, str(extra), 1 + SETTLE_ROUNDS)


def _run_one(seed: int, length: int) -> tuple[list[StateResult], list[str]]:
    with tempfile.TemporaryDirectory(prefix="defib-events-") as tmp:
        runner = Runner(Path(tmp), seed)
        try:
            runner.run(length)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            return runner.results, [re.sub(r"\s+", " ", str(exc))]
        return runner.results, []


def run_sequences(seeds: range, length: int = 6, workers: int = 1) -> RunReport:
    """Every sequence of ``seeds``, ``workers`` at a time (separate processes)."""
    report = RunReport()
    if workers <= 1:
        outcomes = [_run_one(seed, length) for seed in seeds]
    else:
        with ProcessPoolExecutor(workers) as pool:
            outcomes = list(pool.map(_run_one, seeds, [length] * len(seeds)))
    for states, errors in outcomes:
        report.states.extend(states)
        report.errors.extend(errors)
    return report
