"""`defib status`: cluster summary and node list as crm_mon's header shows them."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from defib.errors import NotConnectedError

if TYPE_CHECKING:
    from defib.commands.env import CommandEnv


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("status", help="nodes, quorum, DC and resources (crm_mon -1)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="cluster directory (default $DEFIB_CLUSTER_DIR or ./defib-local)")
    parser.add_argument("--node", dest="node_name", metavar="NODE",
                        help="ask this node (default: the first that answers)")
    parser.add_argument("--file", metavar="CIB_FILE",
                        help="the status a CIB file records (as crm_mon with CIB_file)")
    parser.add_argument("--json", action="store_true",
                        help="print the status (membership and resources) as JSON")
    parser.add_argument("--xml", action="store_true",
                        help="print the status as crm_mon --output-as=xml does")
    parser.add_argument("--watch", nargs="?", const=2.0, type=float, default=None,
                        metavar="SECONDS", help="refresh every SECONDS (default 2) until Ctrl-C")
    parser.add_argument("--brief", action="store_true",
                        help="membership only: nodes, quorum and DC, no resources")
    parser.add_argument("-r", "--inactive", action="store_true",
                        help="also list inactive resources (the full list, as crm_mon -r;"
                             " without it only active resources are shown)")
    parser.add_argument("-n", "--group-by-node", action="store_true",
                        help="resources under the node they run on")
    parser.add_argument("-A", "--show-node-attributes", action="store_true",
                        help="node attributes (permanent and transient)")
    parser.add_argument("-f", "--failcounts", action="store_true",
                        help="the migration summary for every node, failures or not")
    parser.epilog = ("examples:\n  defib status\n  defib status --watch\n"
                     "  defib status --json | jq .resources")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.set_defaults(func=_run)


def _report(env: CommandEnv, args: argparse.Namespace) -> str:
    """One status report: the membership header, completed with the resources (crm_mon -1
    layout) unless --brief."""
    from defib.commands.cluster_status import as_json, cluster_status
    from defib.commands.status import View

    result = cluster_status(env, View(args.inactive, args.group_by_node,
                                      args.show_node_attributes, args.failcounts),
                            args.brief, args.xml and not args.json)
    return as_json(result) if args.json else result.output


def _run(args: argparse.Namespace) -> int:
    from defib.cli.common import env_from_args

    env = env_from_args(args)
    if args.watch is None:
        print(_report(env, args))
        return 0
    try:
        while True:
            try:
                text = _report(env, args)
            except NotConnectedError as exc:
                text = f"(no answer: {exc})"
            print("\033[H\033[2J" + text, flush=True)
            time.sleep(max(0.2, args.watch))
    except KeyboardInterrupt:
        return 0
