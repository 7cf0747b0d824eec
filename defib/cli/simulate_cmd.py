"""`defib simulate -x FILE -S [-t DATETIME] [-G FILE] [-s]`: crm_simulate's output."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "simulate", help="run the scheduler on a CIB file and print what it decides",
        description="Run defib's scheduler on a CIB XML file and print what crm_simulate prints.")
    parser.add_argument("-x", "--xml-file", required=True, metavar="FILE",
                        help="CIB XML file (configuration and status)")
    parser.add_argument("-S", "--simulate", action="store_true",
                        help="simulate the transition's execution and show the revised status")
    parser.add_argument("-t", "--set-datetime", metavar="DATETIME",
                        help="the time to schedule at (ISO 8601, e.g. '2019-05-20 10:00:00')")
    parser.add_argument("-G", "--save-graph", metavar="FILE",
                        help="write the transition graph as Pacemaker's XML to FILE")
    parser.add_argument("-s", "--show-scores", action="store_true",
                        help="show allocation and promotion scores (as assigned; see docs)")
    parser.add_argument("-Q", "--quiet", action="store_true",
                        help="do not print the status (with -G or -s)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from defib.cib.parse import parse_cib_file
    from defib.errors import ConfigError
    from defib.graph.xml import graph_to_xml
    from defib.scheduler.dates import parse_datetime
    from defib.simulate.engine import simulate

    now = None
    if args.set_datetime:
        now = parse_datetime(args.set_datetime)
        if now is None:
            raise ConfigError(f"cannot read date/time {args.set_datetime!r}")
    cib = parse_cib_file(args.xml_file)
    # Like crm_simulate: with no -t and no recorded execution date, "now" is the clock's
    # (failure-timeout and date rules depend on it).
    clock_now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    sim = simulate(cib, now, execute=args.simulate, default_now=clock_now)
    if args.save_graph:
        try:
            Path(args.save_graph).write_text(graph_to_xml(sim.graph), encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot write graph to {args.save_graph}: {exc.strerror}",
                              args.save_graph) from exc
    if args.quiet:
        if args.show_scores:
            sys.stdout.write("\n".join(sim.score_lines()) + "\n")
    elif args.simulate:
        sys.stdout.write(sim.text(scores=args.show_scores))
    else:
        lines = sim.preamble() + sim.status_lines()
        if args.show_scores:
            lines += ["", *sim.score_lines()]
        sys.stdout.write("\n".join(lines) + "\n")
    return 0
