"""Event-sequence differential at scale: defib against ``crm_simulate`` on many sequences.

    python -m bench.event_sequences [--seeds 200] [--start 0] [--length 6] [--workers 2]

Prints the share of states whose decisions agree, the disagreeing families (what defib
does more or less than Pacemaker, and after which event) and the first disagreements with
their seeds; ``tests/conformance/test_event_sequences.py`` runs the first few seeds.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from defib.testing.event_run import run_sequences


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.event_sequences")
    parser.add_argument("--seeds", type=int, default=200, help="how many sequences")
    parser.add_argument("--start", type=int, default=0, help="the first seed")
    parser.add_argument("--length", type=int, default=6, help="events per sequence")
    parser.add_argument("--workers", type=int, default=2, help="sequences run at a time")
    parser.add_argument("--details", type=int, default=30, help="disagreements shown")
    args = parser.parse_args(argv)
    began = time.monotonic()
    report = run_sequences(range(args.start, args.start + args.seeds), args.length,
                           args.workers)
    print(report.text(details=args.details))
    print(f"{args.seeds} sequences, {len(report.states)} states in "
          f"{time.monotonic() - began:.0f} s")
    return 0 if not report.errors else 1


if __name__ == "__main__":
    sys.exit(main())
