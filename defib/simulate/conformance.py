"""Measuring defib against Pacemaker's scheduler regression cases (../shared/scheduler-cases).

The three metrics are those of the cases' README:

* decisions: the set of ``Transition Summary:`` lines equals the expected set, each line with
  runs of white space collapsed;
* full output: the whole ``simulate -S`` output equals the expected one, ignoring white space
  and blank lines (what ``diff --ignore-all-space --ignore-blank-lines`` accepts);
* graph: the same actions (resource, task, interval, node) and ordering edges as ``exp/``;
* scores (ours, beyond the README's three): ``-s`` score lines equal ``scores/`` as sets.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from defib.graph.model import GraphAction, TransitionGraph
from defib.graph.xml import graph_from_xml

METRICS = ("decisions", "full_output", "graph", "scores")


def summary_set(text: str) -> frozenset[str]:
    """The lines under ``Transition Summary:``, runs of white space collapsed."""
    lines: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("Transition Summary:"):
            inside = True
            continue
        if inside:
            if not line.strip():
                continue
            if not line.startswith(" "):
                break
            lines.append(re.sub(r"\s+", " ", line.strip()))
    return frozenset(lines)


def squeezed(text: str) -> list[str]:
    """Lines without any white space, blank lines dropped."""
    out = []
    for line in text.splitlines():
        bare = re.sub(r"\s+", "", line)
        if bare:
            out.append(bare)
    return out


ActionId = tuple[str, str, int, str]


def _action_id(action: GraphAction) -> ActionId:
    return (action.operation_key, action.operation, action.interval_ms, action.node_uname or "")


def graph_signature(graph: TransitionGraph) -> tuple[frozenset[ActionId],
                                                     frozenset[tuple[ActionId, ActionId]]]:
    actions = frozenset(_action_id(s.action) for s in graph)
    edges = frozenset((_action_id(graph.action(i)), _action_id(s.action))
                      for s in graph for i in s.inputs)
    return actions, edges


def family(name: str) -> str:
    """A case's family: its name up to the first '-' or '_' (numbered cases together)."""
    head = re.split(r"[-_]", name, maxsplit=1)[0]
    return "numbered" if head.isdigit() else head


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    datetime: str | None
    directory: Path

    @property
    def xml(self) -> Path:
        return self.directory / "xml" / f"{self.name}.xml"

    @property
    def summary(self) -> Path:
        return self.directory / "summary" / f"{self.name}.summary"

    @property
    def exp(self) -> Path:
        return self.directory / "exp" / f"{self.name}.exp"

    @property
    def scores(self) -> Path:
        return self.directory / "scores" / f"{self.name}.scores"


def load_cases(directory: Path) -> list[Case]:
    cases = []
    lines = (directory / "cases.tsv").read_text(encoding="utf-8").splitlines()
    for line in lines[1:]:
        if not line.strip():
            continue
        name, description, when = (line.split("\t") + ["", ""])[:3]
        cases.append(Case(name, description, when.strip() or None, directory))
    return cases


@dataclass
class CaseResult:
    name: str
    passed: dict[str, bool] = field(default_factory=dict)
    error: str | None = None
    byte_exact: bool = False  # the whole output, white space included


def run_case(case: Case) -> CaseResult:
    from defib.cib.parse import parse_cib_file
    from defib.graph.build import build_graph
    from defib.scheduler.dates import parse_datetime
    from defib.simulate.engine import simulate

    result = CaseResult(case.name, {m: False for m in METRICS})
    try:
        now = parse_datetime(case.datetime) if case.datetime else None
        sim = simulate(parse_cib_file(str(case.xml)), now, default_now=_current_time())
        text = sim.text()
        graph = build_graph(sim.transition)
    except Exception as exc:  # one broken case must not hide the others' results
        result.error = f"{type(exc).__name__}: {exc}"
        return result
    expected = case.summary.read_text(encoding="utf-8")
    result.passed["decisions"] = summary_set(text) == summary_set(expected)
    result.passed["full_output"] = squeezed(text) == squeezed(expected)
    result.byte_exact = text == expected
    stuck = graph.blocked_by_cycle()
    if stuck:
        result.error = ("ordering cycle in the graph: " + ", ".join(
            a.describe() for a in stuck[:4]) + (" ..." if len(stuck) > 4 else ""))
    result.passed["graph"] = graph_signature(graph) == graph_signature(
        graph_from_xml(case.exp.read_bytes()))
    if case.scores.is_file():
        expected_scores = {line for line in case.scores.read_text(encoding="utf-8").splitlines()
                           if line.strip()}
        result.passed["scores"] = set(sim.score_lines()) == expected_scores
    return result


@dataclass
class Report:
    results: list[CaseResult]

    def rate(self, metric: str) -> float:
        if not self.results:
            return 0.0
        return 100.0 * sum(r.passed[metric] for r in self.results) / len(self.results)

    def failing_by_family(self, metric: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for r in self.results:
            if not r.passed[metric]:
                out.setdefault(family(r.name), []).append(r.name)
        return dict(sorted(out.items(), key=lambda kv: (-len(kv[1]), kv[0])))

    def passing(self, metric: str) -> list[str]:
        return sorted(r.name for r in self.results if r.passed[metric])

    def errors(self) -> list[CaseResult]:
        return [r for r in self.results if r.error]

    def text(self) -> str:
        total = len(self.results)
        lines = []
        for metric in METRICS:
            count = sum(r.passed[metric] for r in self.results)
            lines.append(f"{metric}: {count}/{total} = {self.rate(metric):.1f}%")
            if metric == "full_output":
                exact = sum(r.byte_exact for r in self.results)
                lines.append(f"  (of which byte-identical, white space included: {exact})")
        for metric in METRICS:
            lines.append(f"failing ({metric}) by family:")
            for fam, names in self.failing_by_family(metric).items():
                lines.append(f"  {fam} ({len(names)}): {' '.join(names)}")
        errors = self.errors()
        if errors:
            lines.append(f"cases that raised or gave a cyclic graph ({len(errors)}):")
            lines.extend(f"  {r.name}: {r.error}" for r in errors)
        return "\n".join(lines)


@dataclass(frozen=True)
class ListDiff:
    """How a run compares with the per-case lists of passing cases kept in the repository."""

    lost: dict[str, list[str]]    # metric -> cases listed as passing that now fail
    gained: dict[str, list[str]]  # metric -> cases passing now that the list lacks

    def text(self) -> str:
        lines = []
        for title, table in (("no longer passing", self.lost), ("newly passing", self.gained)):
            for metric, names in table.items():
                if names:
                    lines.append(f"{title} ({metric}, {len(names)}): {' '.join(names)}")
        return "\n".join(lines)


def compare_with_lists(report: Report, lists: dict[str, list[str]]) -> ListDiff:
    """Cases lost and gained per metric against ``lists`` (metric -> names that passed).

    Only cases of this run count: a listed case absent from the reference directory is
    neither lost nor gained."""
    ran = {r.name for r in report.results}
    lost: dict[str, list[str]] = {}
    gained: dict[str, list[str]] = {}
    for metric in METRICS:
        now = set(report.passing(metric))
        before = set(lists.get(metric, ())) & ran
        lost[metric] = sorted(before - now)
        gained[metric] = sorted(now - before)
    return ListDiff(lost, gained)


def passing_lists(report: Report) -> dict[str, list[str]]:
    """The per-case lists to store: metric -> sorted names of the cases that pass."""
    return {metric: report.passing(metric) for metric in METRICS}


def raised_floors(report: Report, floors: dict[str, object]) -> dict[str, object]:
    """``floors`` with each rate floor raised to this run's whole percent (never lowered)."""
    out = dict(floors)
    for metric in METRICS:
        old = floors.get(metric, 0)
        current = int(report.rate(metric))
        if isinstance(old, (int, float)) and current > old:
            out[metric] = current
    return out


def run_all(cases: Iterable[Case]) -> Report:
    return Report([run_case(c) for c in cases])


def _current_time() -> dt.datetime:
    """What crm_simulate uses when a case gives no date: the current time (UTC)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
