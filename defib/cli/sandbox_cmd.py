"""`defib sandbox ...`: change a copy of the configuration, see what the cluster would do,
then commit it, only if nobody changed the cluster meanwhile (crm shadow, made safe)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from defib.cli.confirm import add_force
from defib.commands.report import Report, error, info
from defib.commands.result import Result

EXAMPLES = """examples:
  defib sandbox new try1                  copy the running cluster's CIB into sandbox try1
  defib configure --sandbox try1 primitive db ocf:heartbeat:Dummy
  export DEFIB_SANDBOX=try1               ... or make it the active one for what follows
  defib sandbox diff try1                 what it changes (crmsh syntax)
  defib sandbox simulate try1 --svg g.svg what the cluster would do, and the graph
  defib sandbox inject try1 node-fail node2      ... after node2 failed
  defib sandbox commit try1               apply it (refused if the cluster changed since)
  defib sandbox list / delete try1
"""

INJECT_EVENTS = {
    "node-up": "node_up", "node-down": "node_down", "node-fail": "node_fail",
    "op": "op_inject", "ticket-grant": "ticket_grant", "ticket-revoke": "ticket_revoke",
    "ticket-standby": "ticket_standby", "ticket-activate": "ticket_activate",
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from defib.cli.common import add_json
    from defib.cli.simulate_cmd import what_if_options

    parser = subparsers.add_parser(
        "sandbox", help="change a copy of the configuration, simulate it, then commit it",
        description="Sandboxes: named private copies of the CIB. Every configure, resource "
                    "and node command works in one with --sandbox NAME (or DEFIB_SANDBOX=NAME "
                    "in the environment); commit applies it only if the cluster's "
                    "configuration has not changed since the copy.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)

    p = sub.add_parser("new", help="copy the running cluster's CIB (or --file FILE) into NAME")
    p.add_argument("name")
    p.add_argument("--file", metavar="CIB_FILE", help="copy this CIB file instead (a commit "
                   "writes back to it)")
    p.add_argument("--dir", type=Path, help="the cluster's directory (default "
                   "$DEFIB_CLUSTER_DIR or ./defib-local)")
    add_force(p, "copy again over an existing sandbox of that name")
    add_json(p)
    p.set_defaults(func=_new)

    p = sub.add_parser("list", help="the sandboxes, with what they change")
    add_json(p)
    p.set_defaults(func=_list)

    p = sub.add_parser("path", help="the sandbox's CIB file (for CIB_file=...)")
    p.add_argument("name")
    add_json(p)
    p.set_defaults(func=_path)

    p = sub.add_parser("diff", help="what the sandbox changes, in crmsh syntax")
    p.add_argument("name")
    p.add_argument("--live", action="store_true", help="three-way: also what changed in the "
                   "cluster since the copy, and the conflicts")
    add_json(p)
    p.set_defaults(func=_diff)

    p = sub.add_parser("simulate", help="what the cluster would do with the sandbox's CIB "
                       "(as defib simulate -S), optionally after what-if events")
    p.add_argument("name")
    p.add_argument("-s", "--show-scores", action="store_true", help="show allocation scores")
    p.add_argument("-R", "--run", action="store_true",
                   help="only the decisions, without simulating their execution")
    p.add_argument("--svg", metavar="FILE", help="draw the transition graph as SVG")
    p.add_argument("-G", "--save-graph", metavar="FILE",
                   help="the transition graph as Pacemaker's XML (SVG when FILE ends .svg)")
    what_if_options(p.add_argument_group("what-if events (as defib simulate)"))
    add_json(p)
    p.set_defaults(func=_simulate)

    p = sub.add_parser("inject", help="record a what-if event in the sandbox's status",
                       description="Record an event in the sandbox's status section, as "
                                   "crm_simulate injects it; later simulations start from it. "
                                   "Status is never committed.")
    p.add_argument("name")
    p.add_argument("event", metavar="EVENT",
                   help="node-up|node-down|node-fail NODE, op OPSPEC "
                        "(rsc_task_interval@node=rc), ticket-grant|ticket-revoke|"
                        "ticket-standby|ticket-activate TICKET, quorum 0|1")
    p.add_argument("values", nargs="+", metavar="VALUE")
    add_json(p)
    p.set_defaults(func=_inject)

    p = sub.add_parser("commit", help="apply the sandbox's configuration to where it was "
                       "copied from, if that has not changed since")
    p.add_argument("name")
    add_force(p, "commit a change that stops or deletes running resources")
    add_json(p)
    p.set_defaults(func=_commit)

    p = sub.add_parser("delete", help="delete the sandbox")
    p.add_argument("name")
    add_force(p, "delete a sandbox holding changes not committed")
    add_json(p)
    p.set_defaults(func=_delete)


def _emit(args: argparse.Namespace, reports: list[Report], output: str = "",
          changed: bool = False, **data: Any) -> int:
    from defib.cli.common import emit

    return emit(Result(tuple(reports), output=output, changed=changed, data=data),
                bool(args.json))


def _new(args: argparse.Namespace) -> int:
    from defib.cli.cluster_cmd import default_dir
    from defib.sandbox import ops
    from defib.sandbox.store import Source

    if args.file:
        source = Source("file", str(Path(args.file).resolve()))
    else:
        source = Source("live", str((args.dir or default_dir()).resolve()))
    box = ops.new(args.name, source, replace=args.force)
    version = ".".join(str(v) for v in box.base_version)
    return _emit(args, [
        info("sandbox-created", f"sandbox {box.name}: a copy of {source.describe()} at version "
             f"{version}", box.name),
        info("sandbox-hint", f"  work in it: --sandbox {box.name}, or export "
             f"DEFIB_SANDBOX={box.name}")], changed=True, sandbox=box.name,
        path=str(box.path), version=version)


def _list(args: argparse.Namespace) -> int:
    from defib.sandbox import ops, store

    names = store.names()
    if not names:
        return _emit(args, [info("no-sandboxes", "no sandboxes (defib sandbox new NAME makes "
                                 "one)")], sandboxes=[])
    active = os.environ.get("DEFIB_SANDBOX")
    lines, rows = [], []
    for name in names:
        box = store.load(name)
        changes = ops.changed(box)
        count = sum(1 for line in changes.splitlines()
                    if line[:1] in "+-" and not line.startswith(("+++", "---")))
        state = f"{count} lines changed" if count else "unchanged"
        mark = "*" if name == active else " "
        version = ".".join(str(v) for v in box.base_version)
        lines.append(f"{mark} {name:<20} {state:<18} copied {box.created} by {box.user} from "
                     f"{box.source.describe()} at {version}")
        rows.append({"name": name, "active": name == active, "lines_changed": count,
                     "created": str(box.created), "user": box.user,
                     "source": box.source.describe(), "version": version})
    return _emit(args, [], "\n".join(lines), sandboxes=rows)


def _path(args: argparse.Namespace) -> int:
    from defib.sandbox import store

    path = str(store.load(args.name).path)
    return _emit(args, [], path, path=path)


def _diff(args: argparse.Namespace) -> int:
    from defib.sandbox import ops, store
    from defib.sandbox.diff import three_way

    box = store.load(args.name)
    if not args.live:
        text = ops.changed(box)
    else:
        live = ops.env_for(box.source).read()
        text = three_way(box.read_base(), box.read(), live).text(box.name)
    return _emit(args, [], text, diff=text)


def _simulate(args: argparse.Namespace) -> int:
    from defib.cli.simulate_cmd import as_result, injections_from, write_graphs
    from defib.errors import ConfigError
    from defib.sandbox import store
    from defib.scheduler.dates import parse_datetime
    from defib.simulate.whatif import run_what_if

    box = store.load(args.name)
    now = None
    if args.set_datetime:
        now = parse_datetime(args.set_datetime)
        if now is None:
            raise ConfigError(f"cannot read date/time {args.set_datetime!r}")
    clock_now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    result = run_what_if(box.read(), injections_from(args), now, clock_now, int(time.time()),
                         run=args.run, execute=not args.run, scores=args.show_scores,
                         date_text=args.set_datetime)
    write_graphs(result.simulation, args.save_graph, args.svg, f"sandbox {box.name}")
    from defib.cli.common import emit

    return emit(as_result(result), bool(args.json))


def _inject(args: argparse.Namespace) -> int:
    from defib.errors import CommandError
    from defib.sandbox import store
    from defib.simulate.whatif import Injections, inject

    if args.event not in (*INJECT_EVENTS, "quorum"):
        raise CommandError(f"unknown event {args.event!r}: one of "
                           + ", ".join([*INJECT_EVENTS, "quorum"]), args.event)
    box = store.load(args.name)
    injections = Injections()
    if args.event == "quorum":
        if len(args.values) != 1:
            raise CommandError("quorum takes one value: 1 (quorate) or 0")
        injections.quorum = args.values[0]
    else:
        getattr(injections, INJECT_EVENTS[args.event]).extend(args.values)
    root = ET.fromstring(box.read())
    done = inject(root, injections, int(time.time()))
    if done.errors:
        return _emit(args, [error("injection-refused", e) for e in done.errors])
    box.write(ET.tostring(root, encoding="unicode"))
    events = [line.strip().removeprefix("* ") for line in done.lines[1:]]
    return _emit(args, [info("injected", e, box.name) for e in events], changed=True,
                 events=events)


def _commit(args: argparse.Namespace) -> int:
    from defib.cli.common import confirmed
    from defib.commands.danger import dangers
    from defib.errors import CibConflictError
    from defib.sandbox import ops, store

    box = store.load(args.name)
    plan = ops.plan_commit(box)
    where = box.source.describe()
    if plan.stale is not None:
        return _emit(args, [error(
            "sandbox-stale", f"refused: the configuration of {where} changed since sandbox "
            f"{box.name} was copied (epoch {plan.base[1]} -> "
            f"{ET.fromstring(plan.live_xml).get('epoch')}); nothing committed. Copy again "
            f"(defib sandbox new {box.name} --force) and redo the change.", box.name)],
            plan.stale.text(box.name))
    if not plan.changes:
        return _emit(args, [info("nothing-to-commit", f"sandbox {box.name} changes nothing in "
                                 f"{where}: nothing to commit", box.name)])
    found = dangers(plan.live_xml, plan.after_xml, live=box.source.kind == "live")
    if not confirmed(args, found, plan.changes, "Commit"):
        return 1
    try:
        after = ops.commit(plan)
    except CibConflictError:
        return _emit(args, [error("cib-conflict", f"refused: {where} changed while "
                                  f"committing; nothing committed (defib sandbox diff "
                                  f"{box.name} --live shows what changed)", box.name)])
    return _emit(args, [info("sandbox-committed", f"committed sandbox {box.name} to {where} "
                             f"(now at epoch {after.base_version[1]})", box.name)],
                 "" if found else plan.changes, changed=True, epoch=after.base_version[1])


def _delete(args: argparse.Namespace) -> int:
    from defib.cli.common import confirmed
    from defib.commands.danger import Danger
    from defib.sandbox import ops, store

    box = store.load(args.name)
    changes = ops.changed(box)
    if changes:
        found = [Danger("sandbox-changes", f"sandbox {box.name} holds changes that were "
                        "never committed")]
        if not confirmed(args, found, changes, "Delete it"):
            return 1
    store.delete(box.name)
    return _emit(args, [info("sandbox-deleted", f"deleted sandbox {box.name}", box.name)],
                 changed=True)
