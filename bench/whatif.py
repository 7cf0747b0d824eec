"""What-if options against ``crm_simulate`` on every reference case that fits.

    python -m bench.whatif [--list full_output|decisions|all] [--step N] [--workers 2]

Each case's scenarios (node fail/down/up, quorum, watchdog, tickets, injected monitor failure,
failed start and stop; see ``defib.simulate.whatif_compare``) run through crm_simulate and
defib; prints the match rate by kind of injection and every difference.
``tests/conformance/test_whatif_cases.py`` runs every 15th case of the full-output list.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from defib.simulate.whatif_compare import case_jobs, compare, report

REPO = Path(__file__).resolve().parents[1]
CASES = REPO / ".." / "shared" / "scheduler-cases"
LISTS = REPO / "tests" / "conformance" / "scheduler_passing.json"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.whatif")
    parser.add_argument("--list", default="full_output",
                        help="cases: a list of scheduler_passing.json, or 'all'")
    parser.add_argument("--step", type=int, default=1, help="every Nth case")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if args.list == "all":
        names = sorted(p.stem for p in (CASES / "xml").glob("*.xml"))
    else:
        names = sorted(json.loads(LISTS.read_text(encoding="utf-8"))[args.list])
    names = names[::args.step]
    began = time.monotonic()
    jobs = case_jobs(CASES, names)
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        outcomes = list(pool.map(lambda job: compare(*job), jobs))
    print(f"what-if vs crm_simulate: {len(names)} cases, {len(outcomes)} runs, "
          f"{time.monotonic() - began:.0f} s")
    print(report(outcomes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
