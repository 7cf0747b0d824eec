"""``python -m defib.lab``: run the fault lab (root only; nodes are hosts)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from defib.cluster import hosts
from defib.lab.runner import run
from defib.lab.scenarios import SCENARIOS


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
    parser.add_argument("--nodes", type=int, default=3, help="hosts, 3 to 5 (default 3)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write every violation to this file")
    parser.add_argument("--list", action="store_true", help="list the scenarios")
    parser.add_argument("--verbose", "-v", action="store_true")
    args = parser.parse_args(argv)
    if args.list:
        for entry in SCENARIOS.values():
            print(f"{entry.name:<22}{entry.doc}")
        return 0
    if not 3 <= args.nodes <= 5:
        parser.error("--nodes must be between 3 and 5")
    reason = hosts.unavailable_reason()
    if reason is not None:
        print(f"defib lab: nodes cannot run as hosts here: {reason}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(message)s")
    result = run(args.scenario or list(SCENARIOS), args.rounds, args.nodes, args.seed,
                 args.minutes)
    print(result.table())
    print(f"total violations: {result.total_violations()}")
    if args.json:
        args.json.write_text(result.to_json())
    return 1 if result.total_violations() else 0


if __name__ == "__main__":
    sys.exit(main())
