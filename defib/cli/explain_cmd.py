"""`defib explain RESOURCE [--node NODE] [--scores]`: why it runs there, or does not run."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

EPILOG = """examples:
  defib explain web                   why web runs where it runs, or why it does not run
  defib explain web --node node2      only what concerns node2 (why not there?)
  defib explain web --scores          the placement scores, cause by cause, as a table
  defib explain web --file cib.xml    on a saved CIB (a pe-input, an export) instead
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "explain", help="why a resource runs where it runs, or why it does not run",
        description="Run the scheduler on the cluster's current state with a decision trace "
                    "and say, in plain words, what it decided for RESOURCE and why.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("resource", metavar="RESOURCE", help="a resource (primitive, group, "
                        "clone: each instance is explained)")
    parser.add_argument("--node", help="explain only what concerns this node")
    parser.add_argument("--scores", action="store_true",
                        help="print the placement scores as a table (cause by cause)")
    parser.add_argument("--json", action="store_true", help="print the explanation as JSON")
    parser.add_argument("--dir", type=Path, default=None,
                        help="cluster directory (default $DEFIB_CLUSTER_DIR or ./defib-local)")
    parser.add_argument("--file", metavar="CIB_FILE", default=None,
                        help="a CIB XML file instead of the live cluster (default $CIB_file)")
    parser.add_argument("-t", "--set-datetime", metavar="DATETIME",
                        help="decide as at this time (default: the file's execution date, "
                             "else now)")
    parser.set_defaults(func=_run)


def scheduler_input(args: argparse.Namespace) -> tuple[str, bool]:
    """The CIB the scheduler would see now, and whether it comes from a live cluster."""
    path = args.file or os.environ.get("CIB_file")
    if path:
        return Path(path).read_text(encoding="utf-8"), False
    from defib.cli.cluster_cmd import default_dir
    from defib.commands.env import LiveEnv

    env = LiveEnv((args.dir or default_dir()).resolve())
    return env.scheduler_input(env.read()), True


def decision_time(args: argparse.Namespace, cib_xml: str, live: bool) -> dt.datetime:
    from defib.cib.parse import parse_cib
    from defib.errors import ConfigError
    from defib.scheduler.dates import parse_datetime
    from defib.simulate.engine import execution_date

    if args.set_datetime:
        now = parse_datetime(args.set_datetime)
        if now is None:
            raise ConfigError(f"cannot read date/time {args.set_datetime!r}")
        return now
    recorded = None if live else execution_date(parse_cib(cib_xml))
    return recorded or dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _fence_failures(args: argparse.Namespace) -> dict[str, str]:
    """What the DC reports of failed fencing (node -> reason); nothing when unknown."""
    from defib.cli.cluster_cmd import default_dir
    from defib.commands.env import LiveEnv
    from defib.errors import DefibError

    try:
        answer = LiveEnv((args.dir or default_dir()).resolve()).request("crm_status")
    except DefibError:
        return {}
    failures = answer.get("fence_failures") or {}
    return {str(k): str(v) for k, v in failures.items() if v}


def _run(args: argparse.Namespace) -> int:
    from defib.cib.parse import parse_cib
    from defib.explain import explain, trace_schedule
    from defib.explain.scores import score_table

    xml, live = scheduler_input(args)
    trace = trace_schedule(parse_cib(xml), decision_time(args, xml, live))
    if live:
        trace.fence_failures = _fence_failures(args)
    answers = explain(trace, args.resource, args.node)
    if args.json:
        json.dump([a.as_dict() for a in answers], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    sys.stdout.write("\n\n".join(a.text() for a in answers) + "\n")
    if args.scores:
        sys.stdout.write("\nPlacement scores:\n" + score_table(trace, args.resource) + "\n")
    return 0
