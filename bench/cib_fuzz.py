"""CIB fuzz: mutated Pacemaker cases through parse, schedule, graph, simulate and every output.

    python -m bench.cib_fuzz [--inputs 10000] [--seed 1] [--jobs 2] [--save DIR]

Each input is one of ../shared/scheduler-cases with random mutations
(1-8 of them, ``defib.testing.cib_mutate``): hostile numbers, dates and durations, removed, emptied,
duplicated and moved elements, colliding and dangling ids. An input passes when it is
scheduled or refused with a clean ``DefibError``; anything else (a traceback, more than
``--case-timeout`` seconds, more than 3 GiB) is a crash, saved under ``--save`` to replay with
``defib simulate -x FILE -S``. The exit status is 1 when anything crashed.
"""

from __future__ import annotations

import argparse
import collections
import logging
import multiprocessing
import random
import resource
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from defib.testing.cib_mutate import Outcome, mutate, run_one

CASES = Path(__file__).resolve().parents[2] / "shared" / "scheduler-cases" / "xml"
MAX_CASE_BYTES = 60_000  # the larger cases cost seconds each and add no new shapes


def _timeout(signum: int, frame: FrameType | None) -> None:
    raise TimeoutError("case timeout")


def _init(case_timeout: int) -> None:
    logging.disable(logging.WARNING)  # the reports of skipped objects are expected here
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    signal.signal(signal.SIGALRM, _timeout)
    global CASE_TIMEOUT
    CASE_TIMEOUT = case_timeout


CASE_TIMEOUT = 60


def cases(directory: Path = CASES) -> list[Path]:
    return sorted(p for p in directory.glob("*.xml") if p.stat().st_size <= MAX_CASE_BYTES)


def one(task: tuple[int, int, str]) -> tuple[int, str, Outcome, bytes]:
    """Input number ``index`` of the run with ``seed``: reproducible on its own."""
    seed, index, case = task
    rng = random.Random(f"{seed}:{index}")
    xml = mutate(Path(case).read_bytes(), rng, rng.randint(1, 8))
    signal.alarm(CASE_TIMEOUT)
    try:
        outcome = run_one(xml, execute=rng.random() < 0.5)
    except TimeoutError:
        outcome = Outcome("crash", f"TimeoutError: more than {CASE_TIMEOUT}s")
    finally:
        signal.alarm(0)
    return index, Path(case).name, outcome, xml


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--case-timeout", type=int, default=60)
    parser.add_argument("--save", type=Path, default=Path("cib-fuzz-crashes"))
    args = parser.parse_args(argv)
    pool_cases = cases()
    if not pool_cases:
        print(f"no cases under {CASES}", file=sys.stderr)
        return 2
    picker = random.Random(args.seed)
    tasks = [(args.seed, i, str(picker.choice(pool_cases))) for i in range(args.inputs)]
    kinds: collections.Counter[str] = collections.Counter()
    crashes: collections.Counter[str] = collections.Counter()
    started = time.monotonic()
    with multiprocessing.Pool(args.jobs, _init, (args.case_timeout,)) as pool:
        for done, (index, case, outcome, xml) in enumerate(
                pool.imap_unordered(one, tasks, chunksize=8), 1):
            kinds[outcome.kind] += 1
            if outcome.kind == "crash":
                last = outcome.detail.strip().splitlines()[-1][:120]
                if not crashes[last]:
                    args.save.mkdir(parents=True, exist_ok=True)
                    (args.save / f"crash-{args.seed}-{index}-{case}").write_bytes(xml)
                    print(f"crash on input {index} ({case}):\n{outcome.detail}", flush=True)
                crashes[last] += 1
            if done % 1000 == 0:
                print(f"{done} inputs, {dict(kinds)}, {time.monotonic() - started:.0f}s",
                      flush=True)
    elapsed = time.monotonic() - started
    print(f"{args.inputs} inputs from {len(pool_cases)} cases in {elapsed:.0f}s"
          f" ({args.inputs / elapsed:.1f}/s): {kinds['scheduled']} scheduled,"
          f" {kinds['refused']} refused cleanly, {kinds['crash']} crashed")
    for last, count in crashes.most_common():
        print(f"  {count} x {last}")
    return 1 if kinds["crash"] else 0


if __name__ == "__main__":
    sys.exit(main())
