"""`defib history` (timeline, `transition N`) and `defib report` (one archive of everything).

Both read the live cluster through the nodes' control sockets; the report's files travel
from every member to the node asked over the cluster's messaging layer (no SSH).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import io
import json
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

from defib.errors import ClusterError, CommandError, ConfigError

HISTORY_EPILOG = """examples:
  defib history                                 the whole timeline (as the DC recorded it)
  defib history --resource web --since 12h      what happened to web in the last 12 hours
  defib history --since "2026-12-02 22:00" --until "2026-12-03 06:00" --node node2
  defib history --svg night.svg --since 12h     the same as a picture
  defib history transition 42                   replay pe-input-42: what changed, what was
                                                decided and why
  defib history --db DIR/node1/history.sqlite   read a database directly (e.g. from a report)
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "history", help="what happened when: the cluster's event timeline",
        description="Print the events every node records (membership, operations and their "
                    "results, fencing, configuration changes with their user, transitions "
                    "with their pe-input), or replay one transition.",
        epilog=HISTORY_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="*", metavar="transition N",
                        help="`transition N`: replay pe-input-N and explain it")
    parser.add_argument("--resource", "-r", help="only events about this resource")
    parser.add_argument("--node", "-N", help="only events about this node")
    parser.add_argument("--since", metavar="TIME",
                        help="from TIME: '2026-12-02 22:00', or a duration ago ('12h', '30min')")
    parser.add_argument("--until", metavar="TIME", help="up to TIME (same forms)")
    parser.add_argument("--kind", action="append", choices=sorted(
        ["operation", "fencing", "config", "transition", "membership", "node", "quorum", "dc"]),
        help="only events of this kind (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the events as JSON")
    parser.add_argument("--svg", metavar="FILE", help="write the timeline as an SVG picture")
    parser.add_argument("--dir", type=Path, default=None,
                        help="cluster directory (default $DEFIB_CLUSTER_DIR or ./defib-local)")
    parser.add_argument("--from", dest="source", metavar="NODE",
                        help="read this node's history (default: the DC's)")
    parser.add_argument("--db", type=Path, help="read this history database file instead")
    parser.set_defaults(func=_history)

    report = subparsers.add_parser(
        "report", help="gather logs, history, CIBs and pe-inputs of every node in one archive",
        description="Ask the cluster (through one node's control socket; the files of the "
                    "other members come over the cluster's messaging layer, no SSH) for "
                    "each node's CIB, history, log and newest scheduler inputs, and write "
                    "them into one tar archive, as crm_report does.",
        epilog="examples:\n  defib report\n  defib report -o /tmp/incident.tar.gz",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("-o", "--output", type=Path, default=None,
                        help="archive to write (default defib-report-DATE.tar.gz)")
    report.add_argument("--dir", type=Path, default=None,
                        help="cluster directory (default $DEFIB_CLUSTER_DIR or ./defib-local)")
    report.add_argument("--json", action="store_true",
                        help="print the result (reports and data) as JSON")
    report.set_defaults(func=_report)


def parse_when(text: str | None, now: float) -> float | None:
    """A point in time: an ISO date/time (local time), or a duration before ``now``."""
    if text is None:
        return None
    from defib.cib.timespec import parse_ms

    ago = parse_ms(text, None) if text.strip()[:1].isdigit() and ":" not in text \
        and "-" not in text else None
    if ago is not None:
        return now - ago / 1000
    try:
        return dt.datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise ConfigError(f"cannot read time {text!r}: give '2026-12-02 22:00' or a duration "
                          "ago such as '12h' or '30min'", text) from None


# -- talking to the cluster -----------------------------------------------------------------

def _cluster_dir(args: argparse.Namespace) -> Path:
    from defib.cli.cluster_cmd import default_dir

    return Path(args.dir or default_dir()).resolve()


def _ask(args: argparse.Namespace, op: str, at: str | None = None,
         timeout: float = 10.0, **fields: Any) -> dict[str, Any]:
    """``op`` on node ``at`` (default: the DC, else the first node that answers)."""
    from defib.cluster.client import ControlClient
    from defib.commands.env import LiveEnv

    directory = _cluster_dir(args)
    if at is None:
        status = LiveEnv(directory).request("status")
        dc = status.get("dc")
        at = str(dc["name"]) if dc else str(status["node"]["name"])
    try:
        return ControlClient.for_node(directory, at, timeout).request(op, **fields)
    except ClusterError as exc:
        if "unknown op" in str(exc):
            raise CommandError(f"{at} records no history (a daemon started without its "
                               "controller, or an older version)", at) from exc
        raise


# -- defib history ----------------------------------------------------------------------------

def _history(args: argparse.Namespace) -> int:
    if args.what:
        if len(args.what) != 2 or args.what[0] != "transition" or not args.what[1].isdigit():
            raise ConfigError("usage: defib history transition N  (N: a pe-input number)")
        return _transition(args, int(args.what[1]))
    from defib.history.render import svg, timeline
    from defib.history.store import HistoryEvent, HistoryStore

    now = time.time()
    query: dict[str, Any] = {
        "rsc": args.resource, "node": args.node, "since": parse_when(args.since, now),
        "until": parse_when(args.until, now), "kinds": args.kind}
    if args.db is not None:
        store = HistoryStore.open_readonly(args.db)
        try:
            events = store.query(**query)
        finally:
            store.close()
    else:
        if args.resource:
            query["rsc"] = _members(args, args.resource)
        answer = _ask(args, "history", args.source, **query)
        events = [HistoryEvent(**e) for e in answer["events"]]
    if args.svg:
        Path(args.svg).write_text(svg(events), encoding="utf-8")
        print(f"{len(events)} events drawn in {args.svg}")
        return 0
    if args.json:
        json.dump([e.as_dict() for e in events], sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    print(timeline(events))
    return 0


def _members(args: argparse.Namespace, name: str) -> list[str]:
    """``name`` and what a group, clone or bundle of that name holds (by the running
    configuration), so that ``--resource GROUP`` shows what happened to its members."""
    import xml.etree.ElementTree as ET

    from defib.commands.cibtree import with_members
    from defib.commands.env import LiveEnv

    return with_members(ET.fromstring(LiveEnv(_cluster_dir(args)).read()), name)


def _transition(args: argparse.Namespace, number: int) -> int:
    from defib.history.replay import explain_transition
    from defib.history.store import HistoryEvent

    answer = _ask(args, "history_pe_input", args.source, number=number)
    if not answer.get("xml") and args.source is None:
        # Saved by whichever node was DC then: look on the others.
        answer = _pe_input_elsewhere(args, number, str(answer.get("node"))) or answer
    if not answer.get("xml"):
        raise CommandError(f"no node has pe-input-{number}.xml (saved by the DC of the time; "
                           "pruned beyond pe-input-series-max)", str(number))
    events = [HistoryEvent(**e) for e in _ask(args, "history", str(answer["node"]),
                                              transition=number)["events"]]
    print(explain_transition(number, str(answer["xml"]), answer.get("previous"), events))
    return 0


def _pe_input_elsewhere(args: argparse.Namespace, number: int,
                        asked: str) -> dict[str, Any] | None:
    from defib.cluster.config import load_config
    from defib.cluster.local import CONFIG_NAME
    from defib.errors import DefibError

    directory = _cluster_dir(args)
    for node in load_config(directory / CONFIG_NAME).nodes:
        if node.name == asked:
            continue
        try:
            answer = _ask(args, "history_pe_input", node.name, number=number)
        except DefibError:
            continue
        if answer.get("xml"):
            return answer
    return None


# -- defib report -----------------------------------------------------------------------------

def _report(args: argparse.Namespace) -> int:
    answer = _ask(args, "history_report", timeout=30.0)
    nodes: dict[str, str] = answer.get("nodes", {})
    if not nodes:
        raise CommandError("no node sent its files")
    output = args.output or Path(f"defib-report-{time.strftime('%Y%m%d-%H%M%S')}.tar.gz")
    top = output.name.split(".tar")[0]
    files = 0
    with tarfile.open(output, "w:gz") as out:
        for name, encoded in sorted(nodes.items()):
            with tarfile.open(fileobj=io.BytesIO(base64.b64decode(encoded)),
                              mode="r:gz") as part:
                for member in part.getmembers():
                    data = part.extractfile(member)
                    if data is None:
                        continue
                    member.name = f"{top}/{name}/{member.name}"
                    out.addfile(member, data)
                    files += 1
        summary = json.dumps({"created": time.time(), "nodes": sorted(nodes),
                              "missing": answer.get("missing", [])}, indent=1).encode()
        info = tarfile.TarInfo(f"{top}/report.json")
        info.size, info.mtime, info.mode = len(summary), int(time.time()), 0o600
        out.addfile(info, io.BytesIO(summary))
    output.chmod(0o600)  # it holds the CIBs (passwords in parameters included)
    missing = answer.get("missing") or []
    from defib.cli.common import emit
    from defib.commands.report import info as info_report
    from defib.commands.report import warning
    from defib.commands.result import Result

    reports = [info_report("report-written", f"{output}: {files} files from {len(nodes)} "
                           f"node(s) ({', '.join(sorted(nodes))})", str(output))]
    if missing:
        reports.append(warning("no-answer", f"no answer from {', '.join(missing)}", *missing))
    return emit(Result(tuple(reports), changed=True,
                       data={"archive": str(output), "files": files, "nodes": sorted(nodes),
                             "missing": list(missing)}), bool(args.json))
