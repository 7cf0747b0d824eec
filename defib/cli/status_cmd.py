"""`defib status`: cluster summary and node list as crm_mon's header shows them."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from defib.errors import ClusterError, NotConnectedError

if TYPE_CHECKING:
    from defib.commands.connection import Connection
    from defib.commands.env import CommandEnv
    from defib.commands.status import View


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
                        help="also list inactive resources (with --group-by-node; the full "
                             "list shows them anyway)")
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


def render(status: dict[str, Any]) -> str:
    quorum = status["quorum"]
    dc = status["dc"]
    partition = "partition with quorum" if quorum["quorate"] else "partition WITHOUT quorum"
    dc_text = f"{dc['name']} ({dc['id']}) - {partition}" if dc else "NONE"
    members = [n for n in status["nodes"] if n["member"]]
    offline = [n for n in status["nodes"] if not n["member"]]
    flags = " ".join(quorum["flags"])
    lines = [
        "Cluster Summary:",
        f"  * Stack: defib heartbeat (cluster {status['cluster']})",
        f"  * Current DC: {dc_text}",
        f"  * Last updated: {time.strftime('%a %b %d %H:%M:%S %Y')}"
        f" on {status['node']['name']}",
        f"  * Membership: view {status['view']}, {len(members)} members"
        f" ({'agreed' if status['agreed'] else 'settling'})",
        f"  * Quorum: votes {quorum['total_votes']}/{quorum['expected_votes']},"
        f" need {quorum['quorum']}" + (f" [{flags}]" if flags else "")
        + (" (waiting for all nodes)" if quorum["wait_for_all_pending"] else ""),
        f"  * CIB: version {'.'.join(map(str, status['cib']['version']))}",
        f"  * {len(status['nodes'])} nodes configured",
        "",
        "Node List:",
        f"  * Online: [ {' '.join(n['name'] for n in members)} ]",
    ]
    if offline:
        lines.append(f"  * OFFLINE: [ {' '.join(n['name'] for n in offline)} ]")
    degraded = [
        f"{n['name']} link{i}" for n in members for i, up in enumerate(n["links"]) if not up
    ]
    if degraded:
        lines.append(f"  * Links down: {', '.join(degraded)}")
    return "\n".join(lines)


def fencing_state(connection: Connection) -> dict[str, dict[str, Any]]:
    """The DC's failed fencing attempts per node, as the answering node knows them (the DC
    broadcasts them); empty when the controller does not answer."""
    try:
        answer = connection.request("crm_status")
    except ClusterError:
        return {}
    return {str(k): dict(v) for k, v in dict(answer.get("fencing") or {}).items()}


def fencing_lines(fencing: dict[str, dict[str, Any]], now: float) -> list[str]:
    from defib.controller.fencing import describe_target

    if not fencing:
        return []
    return ["", "Fencing:", *(f"  * {describe_target(t, info, now)}"
                              for t, info in sorted(fencing.items()))]


def _report(env: CommandEnv, args: argparse.Namespace) -> str:
    """One status report: the membership header, completed with the resources (crm_mon -1
    layout) unless --brief."""
    from defib.commands.env import LiveEnv
    from defib.commands.status import (
        crm_mon_xml,
        full_dict,
        full_text,
        instance_line,
        resource_status,
    )

    if not isinstance(env, LiveEnv):
        # A CIB file: what its status section records, without a membership.
        report = resource_status(env)
        if args.json:
            return json.dumps(report.to_dict(), indent=2)
        if args.xml:
            return crm_mon_xml(None, report)
        return "\n".join(["Cluster Summary:", "  * CIB file (no running cluster)",
                          instance_line(report), *report.node_mode_lines(),
                          *report.lines(_view(args))])
    status = env.connection.status()
    if args.brief:
        return json.dumps(status, indent=2) if args.json else render(status)
    report = resource_status(env)
    # Only an unclean node can wait for fencing: no extra request otherwise.
    fencing = fencing_state(env.connection) \
        if any(n.unclean for n in report.ws.nodes) else {}
    if args.json:
        return json.dumps({**full_dict(status, report), "fencing": fencing}, indent=2)
    if args.xml:
        return crm_mon_xml(status, report)
    return "\n".join([full_text(render(status), report, _view(args)),
                      *fencing_lines(fencing, time.time())])


def _view(args: argparse.Namespace) -> View:
    from defib.commands.status import View

    return View(args.inactive, args.group_by_node, args.show_node_attributes, args.failcounts)


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
