"""Runs lab rounds: scenario after scenario on one cluster of hosts, an audit after each.

A round that fails (a wait times out, an assertion of the scenario) is a violation too;
the runner then heals every fault and brings every node back before the next round, and
starts a fresh cluster if even that fails. The results are a table (scenario x rounds x
violations) and a JSON file with every violation.

The number of hosts may be a range (3 to 5): each fresh cluster then draws its size from
the seed, and a timed run starts a fresh cluster every ``cluster_rounds`` rounds. With
``weather`` on, a share of the rounds runs under network faults of the transport
(delay, jitter, reordering on some nodes' links; ``defib.lab.faults.NetFaults``), drawn
from the round's seed and healed before its audit.
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
    by_hosts: dict[int, int] = field(default_factory=dict)  # rounds per cluster size
    weather: int = 0  # rounds under delay and reordering


@dataclass
class LabRun:
    nodes: tuple[int, int]
    seed: int
    tallies: dict[str, Tally] = field(default_factory=dict)
    final: list[Violation] = field(default_factory=list)

    def total_violations(self) -> int:
        return sum(len(t.violations) for t in self.tallies.values()) + len(self.final)

    def table(self) -> str:
        rows = [f"{'scenario':<22}{'rounds':>7}{'violations':>12}{'median s':>10}"
                f"{'delayed':>9}  hosts:rounds"]
        for name, t in self.tallies.items():
            med = statistics.median(t.seconds) if t.seconds else 0.0
            sizes = " ".join(f"{k}:{v}" for k, v in sorted(t.by_hosts.items()))
            rows.append(f"{name:<22}{t.rounds:>7}{len(t.violations):>12}{med:>10.1f}"
                        f"{t.weather:>9}  {sizes}")
        if self.final:
            rows.append(f"{'(teardown)':<22}{'':>7}{len(self.final):>12}")
        return "\n".join(rows)

    def to_json(self) -> str:
        return json.dumps({"nodes": list(self.nodes), "seed": self.seed,
                           "scenarios": {n: {"rounds": t.rounds, "seconds": t.seconds,
                                             "by_hosts": t.by_hosts, "weather": t.weather,
                                             "violations": [asdict(v) for v in t.violations]}
                                         for n, t in self.tallies.items()},
                           "teardown": [asdict(v) for v in self.final]}, indent=1)


WEATHER_SHARE = 1 / 3  # of the rounds, with weather on


def weather(lab: LabCluster, rng: random.Random) -> str:
    """Delay with jitter and reordering on the links of one or more random nodes; what
    was set, for the log. The worst packet waits 140 ms more: well under ``dead_time``."""
    nodes = rng.sample(lab.names, rng.randint(1, len(lab.names)))
    done = []
    for node in sorted(nodes):
        ms, jitter = rng.uniform(2, 40), rng.uniform(0, 40)
        share, hold = rng.uniform(0.05, 0.3), rng.uniform(10, 60)
        lab.fault.delay(node, ms, jitter)
        lab.fault.reorder(node, share, hold)
        done.append(f"{node} {ms:.0f}+{jitter:.0f}ms reorder {share:.2f}/{hold:.0f}ms")
    return "; ".join(done)


class Runner:
    def __init__(self, workdir: Path, nodes: tuple[int, int], seed: int,
                 weather: bool = False) -> None:
        self.workdir = workdir
        self.nodes = nodes
        self.seed = seed
        self.weather = weather
        self.result = LabRun(nodes, seed)
        self.generation = 0
        self.lab: LabCluster | None = None
        self.auditor: Auditor | None = None

    def _fresh(self) -> tuple[LabCluster, Auditor]:
        self._close()
        self.generation += 1
        size = random.Random(f"{self.seed}:cluster:{self.generation}").randint(*self.nodes)
        log.info("cluster %d: %d hosts", self.generation, size)
        lab = LabCluster(self.workdir / f"c{self.generation}", size)
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

    def fresh_cluster(self) -> None:
        """Start the next rounds on a fresh cluster (of a size drawn again)."""
        self._close()

    def round(self, name: str, index: int) -> list[Violation]:
        lab, auditor = (self.lab, self.auditor) if self.lab and self.auditor else self._fresh()
        rng = random.Random(f"{self.seed}:{name}:{index}")
        tally = self.result.tallies.setdefault(name, Tally())
        tally.rounds += 1
        tally.by_hosts[len(lab.names)] = tally.by_hosts.get(len(lab.names), 0) + 1
        started = time.monotonic()
        found: list[Violation] = []
        sky = ""
        try:
            if self.weather and rng.random() < WEATHER_SHARE:
                tally.weather += 1
                sky = f" under {weather(lab, rng)}"
            SCENARIOS[name].run(lab, rng)
            lab.fault.net.heal()
        except (DefibError, AssertionError, OSError, TimeoutError) as exc:
            log.info("%s round %d failed", name, index, exc_info=True)  # where, for the log
            found.append(Violation("scenario", f"{type(exc).__name__}: {exc}{sky}"[:500]))
            found += self._recover(lab)
        # After a failed recovery the cluster is a fresh one: audit that, not the old one.
        auditor = self.auditor or auditor
        found += auditor.audit()
        tally.seconds.append(round(time.monotonic() - started, 1))
        tally.violations.extend(found)
        log.info("%s round %d on %d hosts%s: %.1fs, %d violation(s)%s", name, index,
                 len(lab.names), sky, tally.seconds[-1], len(found),
                 "".join(f"\n    {v.check}: {v.detail}" for v in found))
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


def run(names: list[str], rounds: int, nodes: int | tuple[int, int], seed: int,
        minutes: float | None, workdir: Path | None = None, weather: bool = False,
        cluster_rounds: int = 25) -> LabRun:
    """Every scenario of ``names`` ``rounds`` times (interleaved), or random scenarios of
    ``names`` until ``minutes`` have passed (a fresh cluster every ``cluster_rounds``)."""
    sizes = (nodes, nodes) if isinstance(nodes, int) else nodes
    with tempfile.TemporaryDirectory(prefix="defib-lab-", dir=workdir) as tmp:
        runner = Runner(Path(tmp), sizes, seed, weather)
        try:
            if minutes is not None:
                pick = random.Random(seed)
                deadline = time.monotonic() + minutes * 60
                index = 0
                while time.monotonic() < deadline:
                    if index and index % cluster_rounds == 0:
                        runner.fresh_cluster()
                    runner.round(pick.choice(names), index)
                    index += 1
            else:
                for index in range(rounds):
                    for name in names:
                        runner.round(name, index)
        finally:
            result = runner.close()
    return result
