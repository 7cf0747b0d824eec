"""`defib node standby|online|maintenance|ready|attribute|utilization|fence`."""

from __future__ import annotations

import argparse
import xml.etree.ElementTree as ET

from defib.cli.common import Formatter, Library, action, add_top_options
from defib.cli.resource_cmd import SuggestingSubParsers, add_name_value, name_to_delete
from defib.commands.danger import Danger, danger
from defib.commands.env import CommandEnv
from defib.commands.result import Result

EXAMPLES = """examples:
  defib node standby node1 --wait           move everything off node1 (standby=on)
  defib node online node1                   standby=off
  defib node maintenance node2 on           leave node2's resources alone
  defib node attribute node1 rack r12       permanent node attribute
  defib node utilization node1 cpu 8
  defib node fence node3
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    n = Library("defib.commands.node")

    parser = subparsers.add_parser(
        "node", help="standby, online, maintenance, attributes, utilization, fence",
        description="Node administration; standby and maintenance are permanent node "
                    "attributes as crm_attribute writes them. Options --dir/--file/--wait/"
                    "--timeout/--json go before or after the action.",
        epilog=EXAMPLES, formatter_class=Formatter)
    add_top_options(parser)
    sub = parser.add_subparsers(dest="node_command", metavar="ACTION", required=True,
                                action=SuggestingSubParsers)

    p = action(sub, "standby", "put a node in standby (its resources move away)",
               "defib node standby node1 --wait", True,
               lambda a, env: n.standby(env, a.node, n.parse_on_off(a.state), a.lifetime))
    p.add_argument("node", metavar="NODE")
    p.add_argument("state", nargs="?", default="on", metavar="on|off")
    _lifetime(p)
    p = action(sub, "online", "take a node out of standby", "defib node online node1 --wait",
               True, lambda a, env: n.online(env, a.node, a.lifetime))
    p.add_argument("node", metavar="NODE")
    _lifetime(p)
    p = action(sub, "maintenance", "put a node in (or out of) maintenance mode",
               "defib node maintenance node1 on", True,
               lambda a, env: n.maintenance(env, a.node, n.parse_on_off(a.state), a.lifetime))
    p.add_argument("node", metavar="NODE")
    p.add_argument("state", nargs="?", default="on", metavar="on|off")
    _lifetime(p)
    p = action(sub, "ready", "take a node out of maintenance mode", "defib node ready node1",
               True, lambda a, env: n.maintenance(env, a.node, False, a.lifetime))
    p.add_argument("node", metavar="NODE")
    _lifetime(p)
    p = action(sub, "attribute", "list, show, set or --delete node attributes",
               "defib node attribute node1 rack r12  (--lifetime reboot: transient)", True,
               _node_attribute)
    _nv_arguments(p)
    _lifetime(p)
    p = action(sub, "utilization", "list, show, set or --delete node utilization",
               "defib node utilization node1 memory 4096", True,
               _node_utilization)
    _nv_arguments(p)
    action(sub, "list", "every node with its id, state and attributes (crm node list)",
           "defib node list --json", False, lambda a, env: n.listing(env))
    p = action(sub, "clearstate", "forget a stopped node's resource history and transient "
                                  "attributes (crm node clearstate)",
               "defib node clearstate node3", True, lambda a, env: n.clearstate(env, a.node))
    p.add_argument("node", metavar="NODE")
    p = action(sub, "delete", "remove a stopped node from the configuration (crm node delete)",
               "defib node delete node3", True, lambda a, env: n.delete(env, a.node))
    p.add_argument("node", metavar="NODE")
    p = action(sub, "fence", "ask the cluster to fence (reboot) a node; asks first (or "
                             "--force)",
               "defib node fence node3 --force  (--confirm: it is down, treat it as fenced)",
               False, lambda a, env: n.fence(env, a.node, a.confirm), _fence_danger)
    p.add_argument("node", metavar="NODE")
    p.add_argument("--confirm", action="store_true",
                   help="the node is known to be down (powered off by hand): record it as "
                        "fenced without running any device (stonith_admin --confirm)")


def _node_attribute(args: argparse.Namespace, env: CommandEnv) -> Result:
    from defib.commands.node import attribute

    name, delete = name_to_delete(args)
    return attribute(env, args.node, name, args.value, delete, args.lifetime)


def _node_utilization(args: argparse.Namespace, env: CommandEnv) -> Result:
    from defib.commands.node import utilization

    name, delete = name_to_delete(args)
    return utilization(env, args.node, name, args.value, delete)


def _fence_danger(args: argparse.Namespace, env: CommandEnv) -> tuple[list[Danger], str]:
    from defib.commands import cibtree

    cibtree.check_node(ET.fromstring(env.read()), args.node)  # a typo is refused, not asked
    if getattr(args, "confirm", False):
        return [], ""  # --confirm is the administrator's word that it is down: nothing runs
    return [danger("fence", f"this fences (reboots) node {args.node}: everything running "
                            "there stops at once", (args.node,))], ""


def _lifetime(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lifetime", "-l", choices=("forever", "reboot"), default="forever",
                   help="forever: the configuration (default); reboot: a transient attribute "
                        "(status section), gone when the node restarts")


def _nv_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("node", metavar="NODE")
    add_name_value(p)
