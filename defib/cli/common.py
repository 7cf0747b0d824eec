"""What every library command shares on the command line: where the CIB is (``env_from_args``,
the one place that turns options into an environment), ``--json``/``--wait``/``--timeout``,
and rendering a ``Result`` (reports as text on the terminal, or as data with ``--json``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from defib.cli.cluster_cmd import default_dir
from defib.cli.confirm import add_force, confirm
from defib.commands.danger import Danger
from defib.commands.env import CommandEnv, open_env
from defib.commands.report import Report
from defib.commands.result import Result
from defib.errors import DefibError

DEFAULT_TIMEOUT = 60.0
Formatter = argparse.RawDescriptionHelpFormatter


def env_from_args(args: argparse.Namespace, create: bool = False) -> CommandEnv:
    """The environment a command runs in: ``--file`` / ``$CIB_file`` (as Pacemaker's tools),
    otherwise the running cluster of ``--dir`` (through ``--node`` when given). ``create``:
    a CIB file that does not exist yet starts empty (configure, cib import)."""
    path = getattr(args, "file", None) or os.environ.get("CIB_file")
    if path:
        return open_env(file=path, create=create)
    directory = getattr(args, "dir", None) or default_dir()
    # $CIB_user, as Pacemaker's tools: an administrator acting with that user's rights.
    return open_env(directory=directory, node=getattr(args, "node_name", None),
                    user=os.environ.get("CIB_user") or None)


def common_options(changes: bool) -> argparse.ArgumentParser:
    """Options every action takes; SUPPRESS keeps a value given before the action."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dir", type=Path, default=argparse.SUPPRESS,
                        help="cluster directory (default $DEFIB_CLUSTER_DIR or ./defib-local)")
    common.add_argument("--file", metavar="CIB_FILE", default=argparse.SUPPRESS,
                        help="work on a CIB XML file instead (default $CIB_file)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print the result (reports and data) as JSON")
    if changes:
        common.add_argument("--wait", action="store_true", default=argparse.SUPPRESS,
                            help="return once the cluster has settled (shows progress)")
        common.add_argument("--timeout", type=float, default=argparse.SUPPRESS,
                            metavar="SECONDS",
                            help=f"give up waiting after this long (default {DEFAULT_TIMEOUT:g})")
    return common


def add_top_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--file", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", default=False, help=argparse.SUPPRESS)
    parser.add_argument("--wait", action="store_true", default=False, help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help=argparse.SUPPRESS)


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print the result (reports and data) as JSON")


def report_line(report: Report) -> str:
    return report.message if report.severity == "info" else str(report)


def emit(result: Result, as_json: bool = False, refused: str | None = None) -> int:
    """Print ``result``: its output and info reports on standard output, warnings and errors
    on standard error (``refused``: a last line when it has errors); or all of it as JSON.
    The exit status: 0 unless an error was reported."""
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0 if result.ok else 1
    if result.output:
        sys.stdout.write(result.output if result.output.endswith("\n")
                         else result.output + "\n")
    for report in result.reports:
        print(report_line(report), file=sys.stdout if report.severity == "info"
              else sys.stderr)
    if not result.ok and refused:
        print(f"defib: {refused}", file=sys.stderr)
    return 0 if result.ok else 1


def emit_error(exc: DefibError, as_json: bool) -> None:
    """A command the library refused by raising, as text or as data (its reports)."""
    from defib.commands.result import reports_of

    if as_json:
        print(json.dumps({"ok": False, "changed": False,
                          "reports": [r.to_dict() for r in reports_of(exc)]}, indent=2))
        return
    print(f"defib: error: {exc}", file=sys.stderr)


def progress(line: str) -> None:
    print(f"  .. {line}", flush=True)


def finish(args: argparse.Namespace, env: CommandEnv, result: Result) -> int:
    """Print the result; with ``--wait``, then wait for the cluster to settle."""
    as_json = bool(getattr(args, "json", False))
    code = emit(result, as_json)
    if code == 0 and getattr(args, "wait", False):
        from defib.commands.wait import wait_settled

        wait_settled(env, float(getattr(args, "timeout", DEFAULT_TIMEOUT)),
                     None if as_json else progress)
    sys.stdout.flush()
    return code


class Library:
    """A library module whose functions are imported when first called: ``defib --help`` and
    every command's parsing need not load the scheduler that the commands use."""

    def __init__(self, module: str) -> None:
        self._module = module

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            import importlib

            return getattr(importlib.import_module(self._module), name)(*args, **kwargs)

        return call


# What is dangerous about an action, and the change it makes (a diff, may be empty).
Check = Callable[[argparse.Namespace, CommandEnv], tuple[list[Danger], str]]
Command = Callable[[argparse.Namespace, CommandEnv], Result]


def action(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_: str,
           example: str, changes: bool, func: Command,
           check: Check | None = None) -> argparse.ArgumentParser:
    """An action; ``check`` says what is dangerous about it (then it asks, or needs
    ``--force``)."""
    p = sub.add_parser(name, help=help_, description=help_, parents=[common_options(changes)],
                       epilog="example:\n  " + example, formatter_class=Formatter)
    if check is not None:
        add_force(p, name)

    def run(args: argparse.Namespace) -> int:
        env = env_from_args(args)
        if check is not None:
            found, change = check(args, env)
            if not confirmed(args, found, change, f"{name.capitalize()}"):
                return 1
        return finish(args, env, func(args, env))

    p.set_defaults(func=run, parser=p)
    return p


def confirmed(args: argparse.Namespace, found: list[Danger], change: str,
              question: str) -> bool:
    """Ask about ``found`` (or need ``--force``); a refusal with ``--json`` is also a JSON
    result: the dangers as warnings and an error ``confirmation-needed``."""
    if not found or confirm(found, change, bool(getattr(args, "force", False)), question):
        return True
    if getattr(args, "json", False):
        from defib.commands.report import error

        emit(Result((*found, error("confirmation-needed", "not done: this needs "
                                   "confirmation (--force)"))), True)
    return False


def trial(func: Command) -> Check:
    """Dangers of ``func``, found by running it on a copy of the CIB first."""
    def check(args: argparse.Namespace, env: CommandEnv) -> tuple[list[Danger], str]:
        from defib.commands.danger import trial as trial_run

        return trial_run(env, lambda copy: func(args, copy))

    return check
