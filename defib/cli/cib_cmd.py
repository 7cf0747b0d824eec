"""``defib cib``: import/export Pacemaker CIB XML, import a heartbeat v1 cluster."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from defib.cli.common import confirmed, emit, env_from_args
from defib.cli.configure_cmd import add_cib_option, report
from defib.cli.confirm import add_force

EXAMPLES = """examples:
  defib cib import --file cib.xml pacemaker-cib.xml
  defib cib export --file cib.xml backup.xml
  defib cib import-heartbeat --file cib.xml --ha-cf /etc/ha.d/ha.cf \\
        --haresources /etc/ha.d/haresources
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("cib", help="import/export CIB XML, import heartbeat v1",
                              epilog=EXAMPLES,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cib_command", metavar="ACTION", required=True)
    imp = sub.add_parser("import", help="replace the CIB by a Pacemaker CIB XML file",
                         epilog="example: defib cib import --file cib.xml pacemaker.xml")
    add_cib_option(imp)
    imp.add_argument("source", help="CIB XML file ('-' for standard input)")
    add_force(imp, "replace a live configuration or one with running resources")
    imp.set_defaults(func=_import)
    exp = sub.add_parser("export", help="write the CIB as XML",
                         epilog="example: defib cib export --file cib.xml backup.xml")
    add_cib_option(exp)
    exp.add_argument("target", nargs="?", help="output file (default: standard output)")
    exp.set_defaults(func=_export)
    hb = sub.add_parser("import-heartbeat", help="turn ha.cf + haresources into configuration",
                        epilog="example: defib cib import-heartbeat --file cib.xml "
                               "--ha-cf ha.cf --haresources haresources")
    add_cib_option(hb)
    hb.add_argument("--ha-cf", required=True, help="heartbeat's ha.cf")
    hb.add_argument("--haresources", required=True, help="heartbeat's haresources")
    hb.add_argument("--show", action="store_true",
                    help="print the configure text instead of applying it")
    hb.set_defaults(func=_import_heartbeat)


def _import(args: argparse.Namespace) -> int:
    from defib.commands.cib import commit_import, prepare_import
    from defib.commands.danger import dangers, preview
    from defib.commands.result import Result

    text = sys.stdin.read() if args.source == "-" else Path(args.source).read_text()
    env = env_from_args(args, create=True)
    prepared = prepare_import(env, text, None if args.source == "-" else args.source)
    if not prepared.ok:
        return report(args, Result(prepared.reports))
    found = dangers(prepared.before, prepared.after, live=env.live, replacing=True)
    if not confirmed(args, found, preview(prepared.before, prepared.after),
                     "Replace the configuration"):
        return 1
    return report(args, commit_import(env, prepared))


def _export(args: argparse.Namespace) -> int:
    from defib.commands.cib import export_cib
    from defib.commands.result import Result

    result = export_cib(env_from_args(args))
    if args.target:
        Path(args.target).write_text(result.output)
        return emit(Result(result.reports, "", False, {"target": args.target}),
                    bool(args.json))
    return emit(result, bool(args.json))


def _import_heartbeat(args: argparse.Namespace) -> int:
    from defib.commands.report import info
    from defib.commands.result import Result
    from defib.configure import commands
    from defib.configure.heartbeat import convert

    result = convert(Path(args.ha_cf).read_text(), Path(args.haresources).read_text())
    notes = tuple(info("heartbeat-note", note) for note in result.notes)
    if args.show:
        return emit(Result(notes, result.text), bool(args.json))
    loaded = commands.load(env_from_args(args, create=True), "update", result.text,
                           commands.default_agents())
    return report(args, Result((*notes, *loaded.reports), loaded.output, loaded.changed))
