"""Runs lab rounds: scenario after scenario on one cluster of hosts, an audit after each.

A round that fails (a wait times out, an assertion of the scenario) is a violation too;
the runner then heals every fault and brings every node back before the next round, and
starts a fresh cluster if even that fails. The results are a table (scenario x rounds x
violations) and a JSON file with every violation.
"""

from __future__ import annotations

import json
import logging
import random
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from defib.errors import DefibError
from defib.lab.audit import Auditor, Violation, strays
from defib.lab.cluster import LabCluster
from defib.lab.scenarios import SCENARIOS

log = logging.getLogger("defib.lab")


@dataclass
class Tally:
    rounds: int = 0
    violations: list[Violation] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


@dataclass
class LabRun:
    nodes: int
    seed: int
    tallies: dict[str, Tally] = field(default_factory=dict)
    final: list[Violation] = field(default_factory=list)

    def total_violations(self) -> int:
        return sum(len(t.violations) for t in self.tallies.values()) + len(self.final)

    def table(self) -> str:
        rows = [f"{'scenario':<22}{'rounds':>7}{'violations':>12}{'median s':>10}"]
        for name, t in self.tallies.items():
            med = statistics.median(t.seconds) if t.seconds else 0.0
            rows.append(f"{name:<22}{t.rounds:>7}{len(t.violations):>12}{med:>10.1f}")
        if self.final:
            rows.append(f"{'(teardown)':<22}{'':>7}{len(self.final):>12}")
        return "\n".join(rows)

    def to_json(self) -> str:
        return json.dumps({"nodes": self.nodes, "seed": self.seed,
                           "scenarios": {n: {"rounds": t.rounds, "seconds": t.seconds,
                                             "violations": [asdict(v) for v in t.violations]}
                                         for n, t in self.tallies.items()},
                           "teardown": [asdict(v) for v in self.final]}, indent=1)


class Runner:
    def __init__(self, workdir: Path, nodes: int, seed: int) -> None:
        self.workdir = workdir
        self.nodes = nodes
        self.seed = seed
        self.result = LabRun(nodes, seed)
        self.generation = 0
        self.lab: LabCluster | None = None
        self.auditor: Auditor | None = None

    def _fresh(self) -> tuple[LabCluster, Auditor]:
        self._close()
        self.generation += 1
        lab = LabCluster(self.workdir / f"c{self.generation}", self.nodes)
        lab.__enter__()
        self.lab, self.auditor = lab, Auditor(lab)
        # The first audit waits for everything to start: a baseline, not a round.
        for v in self.auditor.audit(settle_timeout=120):
            self.result.tallies.setdefault("(start)", Tally()).violations.append(v)
        return lab, self.auditor

    def _close(self) -> None:
        if self.lab is not None:
            lab, self.lab = self.lab, None
            lab.__exit__(None, None, None)
            self.result.final.extend(strays(lab.dir))

    def round(self, name: str, index: int) -> list[Violation]:
        lab, auditor = (self.lab, self.auditor) if self.lab and self.auditor else self._fresh()
        rng = random.Random(f"{self.seed}:{name}:{index}")
        tally = self.result.tallies.setdefault(name, Tally())
        tally.rounds += 1
        started = time.monotonic()
        found: list[Violation] = []
        try:
            SCENARIOS[name].run(lab, rng)
        except (DefibError, AssertionError, OSError, TimeoutError) as exc:
            found.append(Violation("scenario", f"{type(exc).__name__}: {exc}"[:500]))
            found += self._recover(lab)
        found += auditor.audit()
        tally.seconds.append(round(time.monotonic() - started, 1))
        tally.violations.extend(found)
        log.info("%s round %d: %.1fs, %d violation(s)%s", name, index, tally.seconds[-1],
                 len(found), "".join(f"\n    {v.check}: {v.detail}" for v in found))
        return found

    def _recover(self, lab: LabCluster) -> list[Violation]:
        try:
            lab.fault.heal()
            lab.bring_back()
            lab.restore_baseline()
            return []
        except (DefibError, OSError, TimeoutError) as exc:
            self._fresh()
            return [Violation("recovery", f"a fresh cluster was needed: {exc}"[:500])]

    def close(self) -> LabRun:
        self._close()
        return self.result


def run(names: list[str], rounds: int, nodes: int, seed: int, minutes: float | None,
        workdir: Path | None = None) -> LabRun:
    """Every scenario of ``names`` ``rounds`` times (interleaved), or random scenarios of
    ``names`` until ``minutes`` have passed."""
    with tempfile.TemporaryDirectory(prefix="defib-lab-", dir=workdir) as tmp:
        runner = Runner(Path(tmp), nodes, seed)
        try:
            if minutes is not None:
                pick = random.Random(seed)
                deadline = time.monotonic() + minutes * 60
                index = 0
                while time.monotonic() < deadline:
                    runner.round(pick.choice(names), index)
                    index += 1
            else:
                for index in range(rounds):
                    for name in names:
                        runner.round(name, index)
        finally:
            result = runner.close()
    return result
