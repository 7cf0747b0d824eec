"""`defib attribute`: crm_attribute's options (cluster options, node attributes permanent or
transient, node utilization)."""

from __future__ import annotations

import argparse

from defib.cli.common import DEFAULT_TIMEOUT, Formatter, common_options, env_from_args, finish

EXAMPLES = """examples:
  defib attribute --name stonith-enabled --query            scope=crm_config name=... value=...
  defib attribute -n no-quorum-policy -v freeze
  defib attribute -N node1 -n rack -v r12                   permanent node attribute
  defib attribute -N node1 -n pingd -v 100 -l reboot        transient (status section)
  defib attribute -N node1 -n rack -G -q                    the value only
  defib attribute -N node1 -n cpu -v 8 -z                   node utilization
  defib attribute -n foo -D
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "attribute", help="query, update or delete one attribute (crm_attribute)",
        description="crm_attribute's options over defib's property and node commands: a "
                    "query exits 105 when the attribute is not set (as crm_attribute).",
        parents=[common_options(True)], epilog=EXAMPLES, formatter_class=Formatter)
    p.add_argument("--name", "-n", required=True, metavar="NAME")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--update", "-v", metavar="VALUE", help="set NAME to VALUE")
    what.add_argument("--query", "-G", action="store_true", help="show NAME (the default)")
    what.add_argument("--delete", "-D", action="store_true", help="delete NAME")
    p.add_argument("--node", "-N", metavar="NODE", help="a node's attribute")
    p.add_argument("--type", "-t", choices=("crm_config", "nodes", "status"), default=None,
                   help="scope (default: crm_config; nodes with --node; status with "
                        "--lifetime reboot)")
    p.add_argument("--lifetime", "-l", choices=("forever", "reboot"), default=None,
                   help="forever: the configuration; reboot: transient (status)")
    p.add_argument("--utilization", "-z", action="store_true",
                   help="the node's utilization instead of its attributes")
    p.add_argument("--default", "-d", metavar="VALUE", help="what a query shows when unset")
    p.add_argument("--quiet", "-q", action="store_true", help="print the value only")
    p.set_defaults(func=_run, timeout=DEFAULT_TIMEOUT)


def _run(args: argparse.Namespace) -> int:
    from defib.commands.attribute import EXIT_NOSUCH, attribute
    from defib.errors import CommandError

    env = env_from_args(args)
    try:
        result = attribute(env, args.name, args.type, args.node, args.update, args.delete,
                           args.lifetime, args.default, args.utilization, args.quiet)
    except CommandError as exc:
        if exc.code != "attribute-not-set":
            raise
        from defib.cli.common import emit_error

        emit_error(exc, bool(getattr(args, "json", False)))
        return EXIT_NOSUCH
    return finish(args, env, result)
