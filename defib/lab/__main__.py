"""``python -m defib.lab``: run the fault lab (root only; nodes are hosts)."""

from __future__ import annotations

import argparse
import logging
import random
import sys
from pathlib import Path

from defib.cluster import hosts
from defib.lab.runner import run
from defib.lab.scenarios import SCENARIOS


def _sizes(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    try:
        return int(low), int(high or low)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not N or LO-HI") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m defib.lab",
        description="Pacemaker's CTS scenarios on local hosts, with an audit after every"
                    " round: one configuration everywhere, settled where the scheduler says,"
                    " no resource on two hosts at once, no committed change lost, no daemon"
                    " crash, nothing left behind.")
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS),
                        metavar="NAME", help="run this scenario (repeatable; default: all)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of each (default 1)")
    parser.add_argument("--minutes", type=float, help="random scenarios for this long instead")
    parser.add_argument("--nodes", "--hosts", type=_sizes, metavar="N|LO-HI",
                        help="hosts per cluster, 3 to 5, or a range drawn from the seed for"
                             " each fresh cluster (default 3; 3-5 with --minutes)")
    parser.add_argument("--seed", type=int,
                        help="default 1; with --minutes a random one (printed)")
    parser.add_argument("--weather", action=argparse.BooleanOptionalAction,
                        help="run a third of the rounds under delay and reordering"
                             " (default: on with --minutes)")
    parser.add_argument("--cluster-rounds", type=int, default=25,
                        help="with --minutes, a fresh cluster every this many rounds")
    parser.add_argument("--json", type=Path, help="write every violation to this file")
    parser.add_argument("--list", action="store_true", help="list the scenarios")
    parser.add_argument("--verbose", "-v", action="store_true")
    args = parser.parse_args(argv)
    if args.list:
        for entry in SCENARIOS.values():
            print(f"{entry.name:<22}{entry.doc}")
        return 0
    timed = args.minutes is not None
    nodes = args.nodes or ((3, 5) if timed else (3, 3))
    if not 3 <= nodes[0] <= nodes[1] <= 5:
        parser.error("--nodes must be between 3 and 5")
    seed = args.seed if args.seed is not None else (
        random.SystemRandom().randrange(1, 1 << 31) if timed else 1)
    weather = args.weather if args.weather is not None else timed
    reason = hosts.unavailable_reason()
    if reason is not None:
        print(f"defib lab: nodes cannot run as hosts here: {reason}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(message)s")
    size = f"{nodes[0]}" if nodes[0] == nodes[1] else f"{nodes[0]}-{nodes[1]}"
    print(f"defib lab: seed {seed}, {size} hosts, weather {'on' if weather else 'off'}"
          + (f", {args.minutes:g} minutes" if timed else f", {args.rounds} round(s)"),
          flush=True)
    result = run(args.scenario or list(SCENARIOS), args.rounds, nodes, seed,
                 args.minutes, weather=weather, cluster_rounds=args.cluster_rounds)
    print(result.table())
    print(f"total violations: {result.total_violations()}")
    if args.json:
        args.json.write_text(result.to_json())
    return 1 if result.total_violations() else 0


if __name__ == "__main__":
    sys.exit(main())
