"""`defib simulate -x FILE -S [-t DATETIME] [-G FILE] [-s] [what-if options]`: crm_simulate's
output, with crm_simulate's synthetic cluster events (node up/down/fail, injected and failing
operations, tickets, quorum, watchdog)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from defib.commands.result import Result
    from defib.simulate.engine import Simulation
    from defib.simulate.whatif import Injections, WhatIf

EXAMPLES = """examples:
  defib simulate -x cib.xml -S                       what would the cluster do?
  defib simulate -x cib.xml -S -f node2              ... if node2 failed
  defib simulate -x cib.xml -S -i web_monitor_10000@node1=7 -F web_stop_0@node1=1
  defib simulate -L -S -d node3 --svg graph.svg      the live cluster without node3
  defib simulate --sandbox try1 -S                   a sandbox (see defib sandbox)
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "simulate", help="run the scheduler on a CIB file and print what it decides",
        description="Run defib's scheduler on a CIB and print what crm_simulate prints, "
                    "optionally after synthetic cluster events (what-if).",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_argument_group("data source")
    source.add_argument("-x", "--xml-file", metavar="FILE",
                        help="CIB XML file (configuration and status); default $CIB_file")
    source.add_argument("-p", "--xml-pipe", action="store_true",
                        help="read the CIB XML from standard input")
    source.add_argument("-L", "--live-check", action="store_true",
                        help="use the running cluster's CIB (--dir DIR, default ./defib-local)")
    source.add_argument("--dir", type=Path, default=None, help=argparse.SUPPRESS)
    ops = parser.add_argument_group("operations")
    ops.add_argument("-R", "--run", action="store_true",
                     help="show what actions the cluster would take")
    ops.add_argument("-S", "--simulate", action="store_true",
                     help="simulate the transition's execution and show the revised status")
    ops.add_argument("-s", "--show-scores", action="store_true",
                     help="show allocation and promotion scores (as assigned; see docs)")
    ops.add_argument("-Q", "--quiet", action="store_true",
                     help="do not print the status (with -G or -s)")
    what_if_options(parser.add_argument_group(
        "synthetic cluster events (what-if)",
        "OPSPEC is ${resource}_${task}_${interval_in_ms}@${node}=${rc}, "
        "e.g. web_monitor_10000@node1=7"))
    art = parser.add_argument_group("artifacts")
    art.add_argument("-I", "--save-input", metavar="FILE",
                     help="save the input CIB (after the injected events) to FILE")
    art.add_argument("-O", "--save-output", metavar="FILE",
                     help="save the CIB after the simulated transition to FILE (implies -S); "
                          "simulate it again with -x FILE to see what happens next")
    ops.add_argument("-X", "--in-place", action="store_true",
                     help="like -S, and store the resulting CIB back into the -x FILE")
    art.add_argument("-G", "--save-graph", metavar="FILE",
                     help="write the transition graph as Pacemaker's XML to FILE "
                          "(as an SVG picture when FILE ends in .svg)")
    art.add_argument("-D", "--save-dotfile", metavar="FILE",
                     help="write the transition graph in graphviz's dot language to FILE")
    art.add_argument("--svg", metavar="FILE",
                     help="draw the transition graph as SVG: one lane per node, actions in "
                          "execution order, dependencies as arrows")
    parser.add_argument("--json", action="store_true",
                        help="print the decisions, the graph's actions and the output as JSON")
    parser.set_defaults(func=_run)


def what_if_options(group: argparse._ArgumentGroup) -> None:
    def many(short: str, long: str, meta: str, text: str) -> None:
        group.add_argument(short, long, metavar=meta, action="append", default=[], help=text)

    many("-u", "--node-up", "NODE", "simulate bringing a node online")
    many("-d", "--node-down", "NODE", "simulate taking a node offline")
    many("-f", "--node-fail", "NODE", "simulate a node failing")
    many("-i", "--op-inject", "OPSPEC", "inject an operation result for the cluster to react to")
    many("-F", "--op-fail", "OPSPEC",
         "if this operation runs in the simulation, make it fail with ${rc} (the transition "
         "stops there)")
    group.add_argument("-t", "--set-datetime", metavar="DATETIME",
                       help="the time to schedule at (ISO 8601, e.g. '2019-05-20 10:00:00')")
    group.add_argument("-q", "--quorum", metavar="QUORUM",
                       help="'1' or 'true': the cluster has quorum ('0'/'false': it has not)")
    group.add_argument("-w", "--watchdog", metavar="DEVICE",
                       help="'1' or 'true': the cluster has an active watchdog device")
    many("-g", "--ticket-grant", "TICKET", "simulate granting a ticket")
    many("-r", "--ticket-revoke", "TICKET", "simulate revoking a ticket")
    many("-b", "--ticket-standby", "TICKET", "simulate making a ticket standby")
    many("-e", "--ticket-activate", "TICKET", "simulate activating a ticket")


def injections_from(args: argparse.Namespace) -> Injections:
    from defib.simulate.whatif import Injections

    return Injections(
        node_up=args.node_up, node_down=args.node_down, node_fail=args.node_fail,
        op_inject=args.op_inject, op_fail=args.op_fail, ticket_grant=args.ticket_grant,
        ticket_revoke=args.ticket_revoke, ticket_standby=args.ticket_standby,
        ticket_activate=args.ticket_activate, quorum=args.quorum, watchdog=args.watchdog)


def read_source(args: argparse.Namespace) -> str | bytes:
    """The CIB text the options name: -x FILE, -p, -L, else $CIB_file (a sandbox)."""
    from defib.errors import ConfigError

    if args.xml_pipe:
        return sys.stdin.buffer.read()
    if args.live_check:
        from defib.cli.cluster_cmd import default_dir
        from defib.commands.env import LiveEnv

        env = LiveEnv((args.dir or default_dir()).resolve())
        return env.scheduler_input(env.read())
    path = args.xml_file or os.environ.get("CIB_file")
    if not path:
        raise ConfigError("no CIB: give -x FILE, -p (standard input), -L (the running "
                          "cluster) or --sandbox NAME")
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read CIB file {path}: {exc.strerror}", path) from exc


def _run(args: argparse.Namespace) -> int:
    from defib.errors import ConfigError
    from defib.scheduler.dates import parse_datetime
    from defib.simulate.whatif import run_what_if

    now = None
    if args.set_datetime:
        now = parse_datetime(args.set_datetime)
        if now is None:
            raise ConfigError(f"cannot read date/time {args.set_datetime!r}")
    if args.in_place and not args.xml_file:
        raise ConfigError("-X (--in-place) needs -x FILE")
    args.simulate = args.simulate or args.in_place or bool(args.save_output)
    text = read_source(args)
    # Like crm_simulate: with no -t and no recorded execution date, "now" is the clock's
    # (failure-timeout and date rules depend on it); injected results carry the clock's time.
    clock_now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    result = run_what_if(text, injections_from(args), now, clock_now, int(time.time()),
                         run=args.run, execute=args.simulate, scores=args.show_scores,
                         quiet=args.quiet, date_text=args.set_datetime)
    for error in result.errors:
        print(error, file=sys.stderr)
    if args.save_input:
        _write(args.save_input, result.input_xml)
    for target in (args.save_output, args.xml_file if args.in_place else None):
        if target:
            _write(target, result.output_xml(int(time.time())))
    write_graphs(result.simulation, args.save_graph, args.svg, _source_name(args))
    if args.save_dotfile:
        from defib.graph.dot import graph_to_dot

        _write(args.save_dotfile, graph_to_dot(result.simulation.graph))
    if args.json:
        from defib.cli.common import emit

        return emit(as_result(result), as_json=True)
    if result.lines:
        sys.stdout.write("\n".join(result.lines) + "\n")
    return 0


def as_result(result: WhatIf) -> Result:
    """What ``--json`` prints: the transition summary, every action of the graph (with its
    place in the simulated execution), skipped injections as warnings, and the text output."""
    from defib.commands.report import warning
    from defib.commands.result import Result

    sim = result.simulation
    order = {a.id: n for n, a in enumerate(sim.executed)}
    actions = [{"id": a.id, "key": a.operation_key, "task": a.operation,
                "resource": a.rsc_id, "node": a.node_uname, "interval_ms": a.interval_ms,
                "kind": a.kind, "executed_as": order.get(a.id)}
               for a in sim.graph.actions()]
    summary = [" ".join(line.split()).removeprefix("* ") for line in sim.transition.summary]
    return Result(tuple(warning("injection-skipped", e) for e in result.errors),
                  output="\n".join(result.lines),
                  data={"summary": summary, "actions": actions})


def write_graphs(sim: Simulation, save_graph: str | None, svg: str | None, source: str
                 ) -> None:
    """-G FILE (Pacemaker's XML, or SVG by the name) and --svg FILE."""
    for name in (f for f in (save_graph, svg) if f):
        if name is svg or name.lower().endswith(".svg"):
            from defib.graph.svg import graph_to_svg

            # With -S, numbered in the order the simulation ran them.
            _write(name, graph_to_svg(sim.graph, [a.id for a in sim.executed] or None,
                                      title=f"Transition graph: {source}"))
        else:
            from defib.graph.xml import graph_to_xml

            _write(name, graph_to_xml(sim.graph))


def _source_name(args: argparse.Namespace) -> str:
    if args.live_check:
        return "the running cluster"
    if args.xml_pipe:
        return "standard input"
    sandbox = os.environ.get("DEFIB_SANDBOX_ACTIVE")
    if not args.xml_file and sandbox:
        return f"sandbox {sandbox}"
    return str(args.xml_file or os.environ.get("CIB_file", ""))


def _write(name: str, text: str | bytes) -> None:
    from defib.errors import ConfigError

    try:
        Path(name).write_bytes(text.encode() if isinstance(text, str) else text)
    except OSError as exc:
        raise ConfigError(f"cannot write {name}: {exc.strerror}", name) from exc
