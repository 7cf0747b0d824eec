"""``defib configure``: crmsh's configure language on the CIB (the running cluster, or a CIB
file with ``--file FILE`` / ``$CIB_file`` as Pacemaker's tools do). The work is done by
``defib.configure.commands``; this module parses the words and renders the result."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from defib.cli.common import Library, confirmed, emit, env_from_args
from defib.cli.confirm import add_force
from defib.commands.env import CommandEnv, MemoryEnv
from defib.commands.result import Result
from defib.errors import CibConflictError

if TYPE_CHECKING:
    from defib.configure.agents import AgentCatalog

# Loaded when a configure command runs, not when the command line is parsed.
commands = Library("defib.configure.commands")

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
    p.add_argument("--node", dest="node_name", metavar="NODE",
                   help="talk to this node (default: the first that answers)")
    p.add_argument("--json", action="store_true",
                   help="print the result (reports and data) as JSON")


def report(args: argparse.Namespace, result: Result, writes: bool = True) -> int:
    return emit(result, bool(getattr(args, "json", False)),
                "configuration not changed" if writes
                else "errors found: configuration not valid")


def _read(path: str) -> str:
    return sys.stdin.read() if path == "-" else Path(path).read_text()


def guarded(env: CommandEnv, args: argparse.Namespace,
            change: Callable[[CommandEnv], Result]) -> int:
    """Run ``change`` on a copy first: if it would erase the configuration or delete or stop
    running resources, show that and ask (or need ``--force``); then run it for real."""
    if getattr(args, "dry_run", False):
        return report(args, change(env))
    before = env.read()
    trial_env = MemoryEnv(before, is_live=False)
    trial = change(trial_env)
    if not trial.ok:
        return report(args, trial)
    from defib.commands.danger import dangers, preview

    found = dangers(before, trial_env.xml, live=env.live)
    if not confirmed(args, found, preview(before, trial_env.xml), "Apply this change"):
        return 1
    return report(args, change(env))


# Options that may also come after the words (``configure show --node node2``): the words
# are taken verbatim (a statement may hold ``-inf:``), so they are picked out here.
_FLAGS = {"--no-defaults": "no_defaults", "--dry-run": "dry_run", "--force": "force",
          "--json": "json"}
_VALUED = {"--file": "file", "--dir": "dir", "--node": "node_name", "-f": "script",
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
    env = env_from_args(args, create=True)
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
        return guarded(env, args, lambda e: commands.apply_script(e, text, agents, defaults,
                                                                  dry))
    head, rest = words[0], words[1:]
    if head == "edit":
        return _edit(env, agents, args)
    if head == "show":
        if rest[:1] == ["xml"]:
            return report(args, commands.show_xml(env, rest[1:]))
        return report(args, commands.show(env, rest))
    if head == "verify":
        return report(args, commands.verify(env, agents), writes=False)
    if head == "load":
        if len(rest) != 2:
            print("usage: defib configure load replace|update FILE|-", file=sys.stderr)
            return 2
        loaded = _read(rest[1])
        return guarded(env, args, lambda e: commands.load(e, rest[0], loaded, agents))
    if head in ("delete", "rm") and rest:
        return guarded(env, args, lambda e: commands.delete(e, rest))
    if head == "rename" and len(rest) == 2:
        return guarded(env, args, lambda e: commands.rename(e, rest[0], rest[1]))
    # One quoted argument is a whole statement (``defib configure 'primitive a Dummy'``).
    statement = words[0] if len(words) == 1 else shlex.join(words)
    return guarded(env, args, lambda e: commands.apply_script(e, statement, agents, defaults,
                                                              dry))


def _edit(env: CommandEnv, agents: AgentCatalog, args: argparse.Namespace) -> int:
    """Open $EDITOR on the configuration text; an invalid result is refused (kept in a file),
    and so is one made from a configuration that changed while the editor was open."""
    text, base = commands.edit_text(env)
    editor = os.environ.get("EDITOR") or os.environ.get("VISUAL") or "vi"
    fd, name = tempfile.mkstemp(prefix="defib-edit-", suffix=".crm")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    subprocess.run(shlex.split(editor) + [name], check=False)
    edited = Path(name).read_text()
    if edited == text:
        os.unlink(name)
        print("no changes", file=sys.stderr)
        return 0
    try:
        code = guarded(env, args, lambda e: commands.apply_edit(e, edited, base, agents))
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
