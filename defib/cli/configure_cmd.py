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

from defib.cli.confirm import add_force, confirm
from defib.configure import commands
from defib.configure.agents import AgentCatalog
from defib.configure.commands import CibStore, FileCib, MemoryCib, Result
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
    add_force(p, "erase, delete or stop running resources")
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


def guarded(store: CibStore, args: argparse.Namespace,
            change: Callable[[CibStore], Result], retry: bool = True) -> int:
    """Run ``change`` on a copy first: if it would erase the configuration or delete or stop
    running resources, show that and ask (or need ``--force``); then run it for real (again
    from a fresh read while the DC refuses the write as based on an older configuration)."""
    if getattr(args, "dry_run", False):
        return report(change(store))
    before = store.read()
    trial_store = MemoryCib(before)
    trial = change(trial_store)
    if not trial.ok:
        return report(trial)
    from defib.commands.danger import dangers, preview
    from defib.configure.live import LiveCib

    found = dangers(before, trial_store.xml, live=isinstance(store, LiveCib))
    if found and not confirm(found, preview(before, trial_store.xml),
                             getattr(args, "force", False), "Apply this change"):
        return 1
    if not retry:
        return report(change(store))
    return _retrying(lambda: report(change(store)))


# Options that may also come after the words (``configure show --node node2``): the words
# are taken verbatim (a statement may hold ``-inf:``), so they are picked out here.
_FLAGS = {"--no-defaults": "no_defaults", "--dry-run": "dry_run", "--force": "force"}
_VALUED = {"--file": "file", "--dir": "dir", "--node": "node", "-f": "script",
           "--script": "script"}


def options_after_words(args: argparse.Namespace, words: list[str]) -> list[str]:
    """``words`` without the options in them (set on ``args``); ``--`` ends options."""
    rest: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        name, eq, value = word.partition("=")
        if word == "--":
            return rest + words[i + 1:]
        if word in _FLAGS:
            setattr(args, _FLAGS[word], True)
        elif name in _VALUED and (eq or i + 1 < len(words)):
            if not eq:
                i += 1
                value = words[i]
            setattr(args, _VALUED[name], Path(value) if name == "--dir" else value)
        else:
            rest.append(word)
        i += 1
    return rest


def run(args: argparse.Namespace) -> int:
    words = options_after_words(args, list(args.words))
    store = store_from_args(args)
    agents = commands.default_agents()
    defaults, dry = not args.no_defaults, args.dry_run
    if args.script or not words:
        if not args.script and sys.stdin.isatty():
            print("defib configure: give a command, a statement, -f SCRIPT or a script on "
                  "standard input", file=sys.stderr)
            return 2
        text = _read(args.script) if args.script else sys.stdin.read()
        if not text.strip():
            print("defib configure: nothing to do: give a command, a statement, -f SCRIPT or "
                  "a script on standard input", file=sys.stderr)
            return 2
        return guarded(store, args, lambda s: commands.apply_script(s, text, agents, defaults,
                                                                    dry))
    head, rest = words[0], words[1:]
    if head == "edit":
        return _edit(store, agents, args)
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
        loaded = _read(rest[1])
        return guarded(store, args, lambda s: commands.load(s, rest[0], loaded, agents))
    if head in ("delete", "rm") and rest:
        return guarded(store, args, lambda s: commands.delete(s, rest))
    if head == "rename" and len(rest) == 2:
        return guarded(store, args, lambda s: commands.rename(s, rest[0], rest[1]))
    statement = shlex.join(words)
    return guarded(store, args, lambda s: commands.apply_script(s, statement, agents, defaults,
                                                                dry))


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


def _edit(store: CibStore, agents: AgentCatalog, args: argparse.Namespace) -> int:
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
        code = guarded(store, args, lambda s: commands.apply_edit(s, edited, agents),
                       retry=False)
    except CibConflictError as exc:
        print(f"defib: {exc}", file=sys.stderr)
        print(f"defib: configuration not changed; your edited text is kept in {name}",
              file=sys.stderr)
        return 1
    if code == 0:
        os.unlink(name)
    else:
        print(f"defib: your edited text is kept in {name}", file=sys.stderr)
    return code
