"""`defib property [NAME [VALUE]]`: cluster options, validated against the known ones."""

from __future__ import annotations

import argparse

from defib.cli.common import DEFAULT_TIMEOUT, Formatter, common_options, env_from_args, finish

EXAMPLES = """examples:
  defib property                            options set in the cluster
  defib property --all                      every known option with its value or default
  defib property no-quorum-policy           one option (its default when not set)
  defib property stonith-enabled false --wait
  defib property maintenance-mode=true
  defib property --delete maintenance-mode
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "property", help="list, show, set or delete cluster options",
        description="Cluster options (crm_config), checked against the options Pacemaker "
                    "knows: an unknown name or an invalid value is refused.",
        parents=[common_options(True)], epilog=EXAMPLES, formatter_class=Formatter)
    p.add_argument("name", nargs="?", metavar="NAME", help="option name (or NAME=VALUE)")
    p.add_argument("value", nargs="?", metavar="VALUE")
    p.add_argument("--delete", "-D", action="store_true", help="delete NAME (default applies)")
    p.add_argument("--all", action="store_true", help="list every known option")
    p.set_defaults(func=_run, timeout=DEFAULT_TIMEOUT, parser=p)


def _run(args: argparse.Namespace) -> int:
    from defib.commands import cluster_property as prop

    env = env_from_args(args)
    name, value = args.name, args.value
    if name and "=" in name and value is None:
        name, value = name.split("=", 1)
    if args.delete:
        if not name:
            args.parser.error("--delete needs NAME")
        outcome = prop.delete(env, name)
    elif value is not None:
        outcome = prop.set_property(env, name, value)
    else:
        if getattr(args, "wait", False):
            args.wait = False  # nothing changes: nothing to wait for
        outcome = prop.show(env, name, args.all)
    return finish(args, env, outcome)
