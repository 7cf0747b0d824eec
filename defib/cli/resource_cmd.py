"""`defib resource ...`: everyday resource administration with crm_resource's semantics.

Also home of what the everyday commands (``resource``, ``node``, ``property``) share on the
command line: where the CIB is (``--dir``/``--file``), ``--wait``/``--timeout``, output.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from defib.cli.common import Formatter, Library, action, add_top_options, progress, trial
from defib.commands.env import CommandEnv
from defib.commands.result import Result

EXAMPLES = """examples:
  defib resource move web node2 --wait      prefer node2 (cli-prefer-web), wait until moved
  defib resource ban web node1 --lifetime PT1H
  defib resource clear web                  drop the constraints of move and ban
  defib resource stop web --wait            target-role=Stopped
  defib resource cleanup web                forget failures, re-probe
  defib resource locate web
  defib resource --file cib.xml unmanage web   (edit a CIB file instead of the cluster)
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    r = Library("defib.commands.resource")

    parser = subparsers.add_parser(
        "resource", help="start, stop, move, ban, clean up ... resources",
        description="Everyday resource administration (crm_resource's semantics). Options "
                    "--dir/--file/--wait/--timeout/--json go before or after the action.",
        epilog=EXAMPLES, formatter_class=Formatter)
    add_top_options(parser)
    sub = parser.add_subparsers(dest="resource_command", metavar="ACTION", required=True,
                                action=SuggestingSubParsers)

    def rsc_action(name: str, help_: str, call: Callable[[CommandEnv, str], Result],
                   changes: bool = True, guard: bool = False) -> None:
        def func(a: argparse.Namespace, env: CommandEnv) -> Result:
            return call(env, a.rsc)

        p = action(sub, name, help_, f"defib resource {name} web" + (" --wait" if changes
                                                                    else ""),
                   changes, func, trial(func) if guard else None)
        p.add_argument("rsc", metavar="RESOURCE")

    rsc_action("start", "allow a resource to run (target-role=Started)", r.start)
    rsc_action("stop", "stop a resource (target-role=Stopped); a running one only after "
                       "confirmation or with --force", r.stop, guard=True)
    rsc_action("promote", "promote a promotable clone (target-role=Promoted)", r.promote)
    rsc_action("demote", "demote a promotable clone (target-role=Unpromoted)", r.demote)
    rsc_action("manage", "let the cluster manage a resource again (is-managed=true)", r.manage)
    rsc_action("unmanage", "leave a resource alone (is-managed=false)", r.unmanage)
    rsc_action("locate", "show where a resource runs", r.locate, changes=False)

    p = action(sub, "restart", "stop a resource, wait, start it again, wait",
               "defib resource restart web --timeout 30", True,
               lambda a, env: r.restart(env, a.rsc, float(a.timeout), progress))
    p.add_argument("rsc", metavar="RESOURCE")

    p = action(sub, "maintenance", "put a resource in (or out of) maintenance mode",
               "defib resource maintenance web on", True,
               lambda a, env: r.maintenance(env, a.rsc, _on_off(a.state)))
    p.add_argument("rsc", metavar="RESOURCE")
    p.add_argument("state", nargs="?", default="on", metavar="on|off")

    moves: tuple[tuple[str, str, Callable[..., Result]], ...] = (
        ("move", "move a resource to a node (constraint cli-prefer-RSC); without NODE, away "
                 "from where it runs", r.move),
        ("ban", "keep a resource off a node (constraint cli-ban-RSC-on-NODE); without NODE, "
                "the node where it runs", r.ban),
    )
    for name, help_, call in moves:
        p = action(sub, name, help_, f"defib resource {name} web node2 --lifetime PT30M --wait",
                   True, _placement(call))
        p.add_argument("rsc", metavar="RESOURCE")
        p.add_argument("node_arg", nargs="?", metavar="NODE")
        p.add_argument("--node", "-N", default=None, help="the node (same as NODE)")
        p.add_argument("--lifetime", "-u", help="ISO 8601 duration (PT1H, P1D) after which "
                                                "the constraint expires")
        p.add_argument("--promoted", action="store_true",
                       help="the promoted instance of a promotable clone")

    p = action(sub, "clear", "remove the constraints move and ban created",
               "defib resource clear web", True,
               lambda a, env: r.clear(env, a.rsc, a.node_arg or a.node))
    p.add_argument("rsc", metavar="RESOURCE")
    p.add_argument("node_arg", nargs="?", metavar="NODE")
    p.add_argument("--node", "-N", default=None, help="only the constraints for this node")

    p = action(sub, "cleanup", "forget failures and operation history; the cluster re-probes",
               "defib resource cleanup web --node node1 --wait", True,
               lambda a, env: r.cleanup(env, a.rsc, a.node_arg or a.node))
    p.add_argument("rsc", nargs="?", metavar="RESOURCE", help="default: all resources")
    p.add_argument("node_arg", nargs="?", metavar="NODE")
    p.add_argument("--node", "-N", default=None, help="only on this node")

    p = action(sub, "failcount", "show (or --delete) a resource's fail counts",
               "defib resource failcount web node1 --delete", True,
               lambda a, env: r.failcount(env, a.rsc, a.node_arg or a.node, a.delete))
    p.add_argument("rsc", metavar="RESOURCE")
    p.add_argument("node_arg", nargs="?", metavar="NODE")
    p.add_argument("--node", "-N", default=None, help="only on this node")
    p.add_argument("--delete", action="store_true", help="reset the count (a cleanup)")

    p = action(sub, "attribute", "set, show or --delete a transient node attribute "
                                 "(as attrd_updater; = defib node attribute -l reboot)",
               "defib resource attribute node1 standby on", True,
               lambda a, env: _transient_attribute(a, env))
    p.add_argument("node", metavar="NODE")
    p.add_argument("name", metavar="NAME")
    p.add_argument("value", nargs="?", metavar="VALUE")
    p.add_argument("--delete", "-D", action="store_true", help="delete NAME")

    _more_actions(sub)
    action(sub, "status", "resources, fail counts, failed actions and tickets (crm_mon's "
                          "resource part)", "defib resource status --json", False,
           lambda a, env: _status(env))


def _more_actions(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ri = Library("defib.commands.rsc_info")

    for kind, what in (("param", "instance attributes (agent parameters)"),
                       ("meta", "meta attributes"), ("utilization", "utilization values")):
        p = action(sub, kind, f"list, show, set or --delete a resource's {what}",
                   f"defib resource {kind} web NAME VALUE   (no NAME: list; --delete NAME)",
                   True, _attribute(kind))
        p.add_argument("rsc", metavar="RESOURCE")
        add_name_value(p)
    action(sub, "list", "every resource and its state (crm_resource --list)",
           "defib resource list", False, lambda a, env: ri.listing(env))
    p = action(sub, "operations", "the operation history of the resources (crm_resource "
                                  "--list-operations)",
               "defib resource operations web --node node1", False,
               lambda a, env: ri.operations(env, a.rsc, a.node))
    p.add_argument("rsc", nargs="?", metavar="RESOURCE", help="default: all resources")
    p.add_argument("--node", "-N", default=None, help="only on this node")
    p = action(sub, "refresh", "forget a resource's history whether it failed or not; the "
                               "cluster probes it again",
               "defib resource refresh web --wait", True,
               lambda a, env: ri.refresh(env, a.rsc, a.node_arg or a.node))
    p.add_argument("rsc", nargs="?", metavar="RESOURCE", help="default: all resources")
    p.add_argument("node_arg", nargs="?", metavar="NODE")
    p.add_argument("--node", "-N", default=None, help="only on this node")
    p = action(sub, "why", "why a resource runs where it does, or does not run "
                           "(crm_resource --why)",
               "defib resource why web", False,
               lambda a, env: ri.why(env, a.rsc, a.node_arg or a.node))
    p.add_argument("rsc", metavar="RESOURCE")
    p.add_argument("node_arg", nargs="?", metavar="NODE")
    p.add_argument("--node", "-N", default=None, help="only this node")


def add_name_value(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("value", nargs="?", metavar="VALUE")
    # ``--delete NAME`` as well as ``NAME --delete`` (argparse would take NAME after the
    # option as an extra word once the positionals were filled).
    p.add_argument("--delete", "-D", nargs="?", const=True, default=False, metavar="NAME",
                   help="delete NAME")


def name_to_delete(args: argparse.Namespace) -> tuple[str | None, bool]:
    """NAME and whether to delete it, from NAME --delete or --delete NAME."""
    if isinstance(args.delete, str):
        if args.name is not None and args.name != args.delete:
            args.parser.error(f"two names to delete: {args.name} and {args.delete}")
        return args.delete, True
    return args.name, bool(args.delete)


def _attribute(kind: str) -> Callable[[argparse.Namespace, CommandEnv], Result]:
    def run(args: argparse.Namespace, env: CommandEnv) -> Result:
        from defib.commands.rsc_info import attribute

        name, delete = name_to_delete(args)
        return attribute(env, args.rsc, kind, name, args.value, delete)

    return run


def _placement(call: Callable[..., Result]) -> Callable[[argparse.Namespace, CommandEnv],
                                                          Result]:
    def run(args: argparse.Namespace, env: CommandEnv) -> Result:
        return call(env, args.rsc, args.node_arg or args.node, args.lifetime, args.promoted)

    return run


def _transient_attribute(args: argparse.Namespace, env: CommandEnv) -> Result:
    from defib.commands.node import attribute

    return attribute(env, args.node, args.name, args.value, args.delete, lifetime="reboot")


def _on_off(text: str) -> bool:
    from defib.commands.node import parse_on_off

    return parse_on_off(text)


def _status(env: CommandEnv) -> Result:
    from defib.commands.status import resources

    return resources(env)


class _AnyName(dict):  # type: ignore[type-arg]
    """The parsers by name, letting every name through argparse's choice check so that the
    action itself can answer an unknown one with a suggestion."""

    def __init__(self, parsers: dict[str, argparse.ArgumentParser]) -> None:
        super().__init__()
        self.parsers = parsers

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.parsers)

    def __len__(self) -> int:
        return len(self.parsers)

    def __getitem__(self, key: str) -> argparse.ArgumentParser:
        return self.parsers[key]

    def keys(self):  # type: ignore[no-untyped-def]
        return self.parsers.keys()

    def values(self):  # type: ignore[no-untyped-def]
        return self.parsers.values()

    def items(self):  # type: ignore[no-untyped-def]
        return self.parsers.items()


class SuggestingSubParsers(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Sub-command choice that suggests the closest action on a typo (``mvoe`` -> ``move``)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.choices = _AnyName(self._name_parser_map)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        if not isinstance(values, list):
            raise TypeError("sub-command values come as a list")
        name = values[0] if values else None
        if isinstance(name, str) and name not in self._name_parser_map.keys():
            from defib.commands.cibtree import did_you_mean

            hint = did_you_mean(name, sorted(self._name_parser_map))
            parser.error(f"unknown action {name!r}{hint}; actions: "
                         + ", ".join(self._name_parser_map))
        super().__call__(parser, namespace, values, option_string)
