"""`defib ticket list|grant|revoke|standby|activate` (crm_ticket)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from defib.cli.common import Formatter, Library, action, add_top_options
from defib.commands.danger import Danger
from defib.commands.env import CommandEnv
from defib.commands.result import Result

EXAMPLES = """examples:
  defib ticket list
  defib ticket grant site-a --wait
  defib ticket standby site-a              resources bound to it stop (asks first)
  defib ticket revoke site-a --force
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from defib.cli.resource_cmd import SuggestingSubParsers
    t = Library("defib.commands.ticket")

    parser = subparsers.add_parser(
        "ticket", help="grant, revoke, standby, activate tickets (crm_ticket)",
        description="Tickets of multi-site clusters: resources bound to a ticket by an "
                    "rsc_ticket constraint run only while it is granted and active. Options "
                    "--dir/--file/--wait/--timeout/--json go before or after the action.",
        epilog=EXAMPLES, formatter_class=Formatter)
    add_top_options(parser)
    sub = parser.add_subparsers(dest="ticket_command", metavar="ACTION", required=True,
                                action=SuggestingSubParsers)
    action(sub, "list", "tickets and their state", "defib ticket list --json", False,
           lambda a, env: t.listing(env))
    for name, help_, call, guard in (
            ("grant", "grant a ticket here", t.grant, False),
            ("revoke", "revoke a ticket: what is bound to it stops (asks first)", t.revoke,
             True),
            ("standby", "put a ticket in standby: what is bound to it stops (asks first)",
             t.standby, True),
            ("activate", "take a ticket out of standby", t.activate, False)):
        p = action(sub, name, help_, f"defib ticket {name} site-a", True, _run(call),
                   _danger if guard else None)
        p.add_argument("ticket", metavar="TICKET")


def _run(call: Callable[[CommandEnv, str], Result]
         ) -> Callable[[argparse.Namespace, CommandEnv], Result]:
    return lambda args, env: call(env, args.ticket)


def _danger(args: argparse.Namespace, env: CommandEnv) -> tuple[list[Danger], str]:
    from defib.commands.ticket import dangers

    return dangers(env, args.ticket), ""
