"""`defib resource status|cleanup|move|clear|attribute`: resources of a running cluster."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("resource", help="where resources run; cleanup, move, clear")
    parser.add_argument("--dir", type=Path, default=None,
                        help="cluster directory (default $DEFIB_CLUSTER_DIR or ./defib-local)")
    sub = parser.add_subparsers(dest="resource_command", metavar="ACTION", required=True)
    sub.add_parser("status", help="nodes, resources, fail counts, fencing failures")
    cleanup = sub.add_parser("cleanup", help="clear fail counts and re-probe (all by default)")
    cleanup.add_argument("rsc", nargs="?")
    cleanup.add_argument("--node")
    move = sub.add_parser("move", help="move a resource to a node (cli-prefer constraint)")
    move.add_argument("rsc")
    move.add_argument("node")
    clear = sub.add_parser("clear", help="remove the constraint of a move")
    clear.add_argument("rsc")
    attr = sub.add_parser("attribute",
                          help="set (or --delete) a transient node attribute, as attrd_updater")
    attr.add_argument("node")
    attr.add_argument("name")
    attr.add_argument("value", nargs="?")
    attr.add_argument("--delete", action="store_true")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from defib.cli.cluster_cmd import default_dir
    from defib.controller import commands
    from defib.errors import CommandError

    directory = (args.dir or default_dir()).resolve()
    if args.resource_command == "status":
        print("\n".join(commands.resource_view(directory).lines()))
    elif args.resource_command == "cleanup":
        commands.cleanup(directory, args.rsc, args.node)
        print(f"cleanup of {args.rsc or 'all resources'} requested")
    elif args.resource_command == "move":
        commands.move(directory, args.rsc, args.node)
        print(f"{args.rsc}: prefers {args.node} (constraint cli-prefer-{args.rsc})")
    elif args.resource_command == "clear":
        found = commands.clear(directory, args.rsc)
        print(f"{args.rsc}: " + ("move constraint removed" if found else "no move constraint"))
    elif args.resource_command == "attribute":
        if args.value is None and not args.delete:
            raise CommandError("give a VALUE or --delete", args.name)
        commands.request(directory, "crm_attribute", node=args.node, name=args.name,
                         value=None if args.delete else args.value)
        print(f"{args.node}: {args.name} " + ("deleted" if args.delete else f"= {args.value}"))
    return 0
