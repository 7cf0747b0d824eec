"""``defib status`` as a library command: the membership a node reports (crm_mon's header)
with the resource part of ``defib.commands.status``, as text in crm_mon -1's layout, as
crm_mon's XML, and as data; from a running cluster or, without a membership, a CIB file."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from defib.commands.env import CommandEnv, LiveEnv
from defib.commands.result import Result
from defib.commands.status import (
    View,
    crm_mon_xml,
    full_dict,
    full_text,
    instance_line,
    resource_status,
)
from defib.errors import ClusterError

if TYPE_CHECKING:
    from defib.commands.connection import Connection


def cluster_status(env: CommandEnv, view: View | None = None, brief: bool = False,
                   as_xml: bool = False) -> Result:
    """The whole status: ``output`` is the text (crm_mon's XML with ``as_xml``), ``data``
    the same as a dict (what ``defib status --json`` prints)."""
    view = view or View()
    if not isinstance(env, LiveEnv):
        # A CIB file: what its status section records, without a membership.
        report = resource_status(env)
        text = crm_mon_xml(None, report) if as_xml else "\n".join(
            ["Cluster Summary:", "  * CIB file (no running cluster)", instance_line(report),
             *report.node_mode_lines(), *report.lines(view)])
        return Result(output=text, data=report.to_dict())
    status = env.connection.status()
    if brief:
        return Result(output=render(status), data=status)
    report = resource_status(env)
    dc_state = controller_state(env.connection)
    # Only an unclean node can wait for fencing.
    fencing = {str(k): dict(v) for k, v in dict(dc_state.get("fencing") or {}).items()} \
        if any(n.unclean for n in report.ws.nodes) else {}
    scheduler = dc_state.get("scheduler") or None
    data = {**full_dict(status, report), "fencing": fencing, "scheduler": scheduler}
    if as_xml:
        return Result(output=crm_mon_xml(status, report), data=data)
    text = "\n".join([full_text(render(status), report, view),
                      *fencing_lines(fencing, time.time()), *scheduler_lines(scheduler)])
    return Result(output=text, data=data)


def as_json(result: Result) -> str:
    return json.dumps(result.data, indent=2)


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
    lines += [f"  * UNHEALTHY: {n['name']} ({n['health']})"
              for n in status["nodes"] if n.get("health")]
    return "\n".join(lines + clock_lines(status))


def clock_lines(status: dict[str, Any]) -> list[str]:
    """How far each node's clock is from the answering node's (measured from heartbeats),
    and the nodes refused because of it."""
    me = status["node"]["name"]
    limit = status.get("max_clock_offset_ms")
    measured, refused = [], []
    for node in status["nodes"]:
        offset = node.get("clock_offset_ms")
        if node["name"] == me or not isinstance(offset, int | float):
            continue
        measured.append(f"{node['name']} {round(offset):+d} ms")
        if isinstance(limit, int | float) and abs(offset) > limit:
            refused.append(f"  * REFUSED: {node['name']}: its clock is {abs(offset) / 1000:.1f} s"
                           f" {'ahead of' if offset > 0 else 'behind'} {me}'s, more than"
                           f" max_clock_offset = {limit / 1000:g} s (synchronise the clocks)")
    if not measured:
        return []
    return [f"  * Clock offsets from {me} (heartbeats): {', '.join(measured)}", *refused]


def controller_state(connection: Connection) -> dict[str, Any]:
    """What the DC's controller says (failed fencing, a failing scheduler); empty when no
    controller answers."""
    try:
        return connection.request_dc("crm_status")
    except ClusterError:
        return {}


def scheduler_lines(scheduler: dict[str, Any] | None) -> list[str]:
    """A scheduler that fails on the CIB: the error, since when, and what it left out."""
    if not scheduler:
        return []
    since = scheduler.get("since")
    when = time.strftime("%H:%M:%S", time.localtime(since)) if since else "?"
    skipped = scheduler.get("skipped")
    lines = ["", "Scheduler:",
             f"  * FAILING since {when} ({scheduler.get('failures')} runs): {scheduler['error']}"]
    if skipped is None:
        lines.append("  * nothing is scheduled: fix or remove what the error names")
    else:
        lines.append(f"  * left as they are, not managed: {', '.join(skipped)}"
                     " (everything else is scheduled)")
    return lines


def fencing_lines(fencing: dict[str, dict[str, Any]], now: float) -> list[str]:
    from defib.controller.fencing import describe_target

    if not fencing:
        return []
    return ["", "Fencing:", *(f"  * {describe_target(t, info, now)}"
                              for t, info in sorted(fencing.items()))]


