"""``defib cib``: import/export Pacemaker CIB XML, import a heartbeat v1 cluster."""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from defib.cli.configure_cmd import add_cib_option, report, store_from_args
from defib.cli.confirm import add_force, confirm
from defib.commands.danger import dangers, preview
from defib.configure import commands
from defib.configure.cibdoc import for_pacemaker, parse_cib
from defib.configure.heartbeat import convert
from defib.configure.live import LiveCib
from defib.configure.report import errors
from defib.configure.validate import import_problems

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
    text = sys.stdin.read() if args.source == "-" else Path(args.source).read_text()
    problems = import_problems(text, None if args.source == "-" else args.source)
    if errors(problems):
        return report(commands.Result(False, "", (), tuple(problems)))
    root = parse_cib(text)
    for name in ("admin_epoch", "epoch", "num_updates"):
        root.set(name, root.get(name, "0"))
    store = store_from_args(args)
    before = store.read()
    # What the cluster will hold: the imported configuration over the status it has.
    after = parse_cib(before)
    conf = after.find("configuration")
    new_conf = root.find("configuration")
    if conf is not None and new_conf is not None:
        after.insert(list(after).index(conf), new_conf)
        after.remove(conf)
    after_xml = ET.tostring(after, encoding="unicode")
    found = dangers(before, after_xml, live=isinstance(store, LiveCib), replacing=True)
    if found and not confirm(found, preview(before, after_xml), args.force,
                             "Replace the configuration"):
        return 1
    store.replace(commands.to_xml(root))
    return 0


def _export(args: argparse.Namespace) -> int:
    store = store_from_args(args)
    text = store.read()
    if isinstance(store, LiveCib):
        text = store.scheduler_input(text)
    xml = commands.to_xml(for_pacemaker(parse_cib(text)))
    if args.target:
        Path(args.target).write_text(xml)
    else:
        sys.stdout.write(xml)
    return 0


def _import_heartbeat(args: argparse.Namespace) -> int:
    result = convert(Path(args.ha_cf).read_text(), Path(args.haresources).read_text())
    for note in result.notes:
        print(f"INFO: {note}", file=sys.stderr)
    if args.show:
        sys.stdout.write(result.text)
        return 0
    return report(commands.load(store_from_args(args), "update", result.text,
                                commands.default_agents()))
