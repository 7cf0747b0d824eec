"""`defib ra classes|list|info`: installed agents and their metadata (crm ra)."""

from __future__ import annotations

import argparse

from defib.cli.common import Formatter, add_json, emit

EXAMPLES = """examples:
  defib ra classes
  defib ra list ocf:heartbeat
  defib ra list stonith
  defib ra info ocf:heartbeat:IPaddr2       (or: defib ra info IPaddr2)
  defib ra info stonith:fence_xvm --json
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from defib.cli.resource_cmd import SuggestingSubParsers

    parser = subparsers.add_parser("ra", help="resource and fence agents: list, metadata",
                                   description="The agents installed on this machine and "
                                               "what their metadata says (crm ra).",
                                   epilog=EXAMPLES, formatter_class=Formatter)
    sub = parser.add_subparsers(dest="ra_command", metavar="ACTION", required=True,
                                action=SuggestingSubParsers)
    p = sub.add_parser("classes", help="agent classes and OCF providers",
                       epilog="example:\n  defib ra classes", formatter_class=Formatter)
    add_json(p)
    p.set_defaults(func=lambda a: _run(a, "classes"))
    p = sub.add_parser("list", help="the agents of a class (ocf, ocf:PROVIDER, stonith, lsb)",
                       epilog="example:\n  defib ra list ocf:heartbeat",
                       formatter_class=Formatter)
    p.add_argument("what", nargs="?", default="ocf", metavar="CLASS[:PROVIDER]")
    add_json(p)
    p.set_defaults(func=lambda a: _run(a, "list"))
    p = sub.add_parser("info", help="an agent's parameters and operations (its metadata)",
                       epilog="example:\n  defib ra info ocf:heartbeat:IPaddr2",
                       formatter_class=Formatter)
    p.add_argument("agent", metavar="AGENT", help="class:provider:type or class:type")
    add_json(p)
    p.set_defaults(func=lambda a: _run(a, "info"))


def _run(args: argparse.Namespace, what: str) -> int:
    from defib.commands import ra

    if what == "classes":
        result = ra.classes()
    elif what == "list":
        result = ra.listing(args.what)
    else:
        result = ra.info(args.agent)
    return emit(result, bool(args.json))
