"""``defib configure``: crmsh's configure language on the CIB.

Until the live cluster client is plugged in, the CIB is a file: ``--file FILE`` or the
environment variable ``CIB_file`` (as Pacemaker's tools do).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from defib.configure import commands
from defib.configure.agents import AgentCatalog
from defib.configure.commands import CibStore, FileCib, Result
from defib.errors import CibConflictError, NotConnectedError

EXAMPLES = """examples:
  defib configure --file cib.xml primitive ip1 ocf:heartbeat:IPaddr2 params ip=198.18.0.10
  defib configure show
  defib configure show xml ip1
  defib configure -f web.crm            (or: defib configure < web.crm)
  defib configure load update web.crm
  defib configure rename ip1 vip
  defib configure delete vip
  defib configure verify
  CIB_file=cib.xml defib configure edit
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "configure", help="show and change the configuration in crmsh syntax",
        description="Show and change the cluster configuration in crmsh's configure language. "
                    "Sub-commands: show [xml] [ID...], verify, load replace|update FILE|-, "
                    "delete ID..., rename OLD NEW, edit; any other words are one configure "
                    "statement (primitive, group, location, ...). Without words, a script "
                    "is read from -f FILE or standard input.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_cib_option(p)
    p.add_argument("-f", "--script", metavar="SCRIPT", help="apply a configure script file")
    p.add_argument("--no-defaults", action="store_true",
                   help="do not add operations from agent metadata and clone interleave "
                        "(crmsh's interactive defaults)")
    p.add_argument("--dry-run", action="store_true", help="check, but do not write")
    p.add_argument("words", nargs=argparse.REMAINDER,
                   help="show|verify|load|delete|rename|edit ... or a configure statement")
    p.set_defaults(func=run)


def add_cib_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--file", metavar="CIB_FILE",
                   help="CIB XML file to work on (default: $CIB_file, else the running cluster)")
    p.add_argument("--dir", type=Path, default=None,
                   help="cluster directory of the running cluster "
                        "(default $DEFIB_CLUSTER_DIR or ./defib-local)")
    p.add_argument("--node", help="talk to this node (default: the first that answers)")


def store_from_args(args: argparse.Namespace) -> CibStore:
    """``--file`` / ``$CIB_file`` as Pacemaker's tools, otherwise the running cluster."""
    path = getattr(args, "file", None) or os.environ.get("CIB_file")
    if path:
        return FileCib(Path(path))
    from defib.configure.live import LiveCib

    directory = getattr(args, "dir", None) or Path(
        os.environ.get("DEFIB_CLUSTER_DIR", "defib-local"))
    if not (directory / "cluster.toml").is_file():
        raise NotConnectedError(f"no CIB: give --file FILE, set CIB_file, or run a cluster "
                                f"({directory}/cluster.toml not found)", str(directory))
    return LiveCib(directory.resolve(), getattr(args, "node", None))


def report(result: Result, writes: bool = True) -> int:
    if result.output:
        sys.stdout.write(result.output)
    for note in result.notes:
        print(f"INFO: {note}", file=sys.stderr)
    for problem in result.problems:
        print(str(problem), file=sys.stderr)
    if not result.ok:
        print("defib: configuration not changed" if writes else
              "defib: errors found: configuration not valid", file=sys.stderr)
    return 0 if result.ok else 1


def _read(path: str) -> str:
    return sys.stdin.read() if path == "-" else Path(path).read_text()


def run(args: argparse.Namespace) -> int:
    store = store_from_args(args)
    agents = commands.default_agents()
    words: list[str] = list(args.words)
    if words[:1] == ["--"]:
        words = words[1:]
    if args.script or not words:
        if not args.script and sys.stdin.isatty():
            print("defib configure: give a command, a statement, -f SCRIPT or a script on "
                  "standard input", file=sys.stderr)
            return 2
        text = _read(args.script) if args.script else sys.stdin.read()
        return _retrying(lambda: report(commands.apply_script(
            store, text, agents, not args.no_defaults, args.dry_run)))
    if words[0] == "edit":
        return _edit(store, agents)
    loaded = _read(words[2]) if words[0] == "load" and len(words) == 3 else None
    return _retrying(lambda: _command(store, agents, args, words, loaded))


def _retrying(command: Callable[[], int]) -> int:
    """Run a read-modify-write command again from a fresh read while the DC refuses its
    write as based on a configuration another writer changed meanwhile."""
    from defib.configure.live import CONFLICT_RETRIES, retry_on_conflict

    try:
        return retry_on_conflict(command)
    except CibConflictError as exc:
        print(f"defib: {exc} (gave up after {CONFLICT_RETRIES} attempts)", file=sys.stderr)
        print("defib: configuration not changed", file=sys.stderr)
        return 1


def _command(store: CibStore, agents: AgentCatalog, args: argparse.Namespace,
             words: list[str], loaded: str | None) -> int:
    head, rest = words[0], words[1:]
    if head == "show":
        if rest[:1] == ["xml"]:
            return report(commands.show_xml(store, rest[1:]))
        return report(commands.show(store, rest))
    if head == "verify":
        return report(commands.verify(store, agents), writes=False)
    if head == "load":
        if len(rest) != 2:
            print("usage: defib configure load replace|update FILE|-", file=sys.stderr)
            return 2
        return report(commands.load(store, rest[0], loaded or "", agents))
    if head in ("delete", "rm") and rest:
        return report(commands.delete(store, rest))
    if head == "rename" and len(rest) == 2:
        return report(commands.rename(store, rest[0], rest[1]))
    statement = shlex.join(words)
    return report(commands.apply_script(store, statement, agents, not args.no_defaults,
                                        args.dry_run))


def _edit(store: CibStore, agents: AgentCatalog) -> int:
    """Open $EDITOR on the configuration text; an invalid result is refused (kept in a file)."""
    text = commands.edit_text(store)
    editor = os.environ.get("EDITOR") or os.environ.get("VISUAL") or "vi"
    fd, name = tempfile.mkstemp(prefix="defib-edit-", suffix=".crm")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    subprocess.run(shlex.split(editor) + [name], check=False)
    edited = Path(name).read_text()
    if edited == text:
        os.unlink(name)
        print("INFO: no changes", file=sys.stderr)
        return 0
    try:
        result = commands.apply_edit(store, edited, agents)
    except CibConflictError as exc:
        print(f"defib: {exc}", file=sys.stderr)
        print(f"defib: configuration not changed; your edited text is kept in {name}",
              file=sys.stderr)
        return 1
    code = report(result)
    if result.ok:
        os.unlink(name)
    else:
        print(f"defib: your edited text is kept in {name}", file=sys.stderr)
    return code
