"""The one CLI entry point, ``defib``.

Each sub-command lives in its own module under ``defib.cli`` and exposes
``register(subparsers) -> None``; it sets ``func`` on its parser, a callable
``func(args) -> int`` returning the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import NoReturn

# Modules that provide sub-commands; a missing one is skipped so that partial
# checkouts still give a working CLI for what is there.
COMMAND_MODULES = [
    "defib.cli.simulate_cmd",
    "defib.cli.demo_cmd",
    "defib.cli.daemon_cmd",
    "defib.cli.cluster_cmd",
    "defib.cli.status_cmd",
    "defib.cli.configure_cmd",
    "defib.cli.cib_cmd",
    "defib.cli.completion_cmd",
    "defib.cli.resource_cmd",
    "defib.cli.node_cmd",
    "defib.cli.property_cmd",
    "defib.cli.explain_cmd",
    "defib.cli.history_cmd",
    "defib.cli.ra_cmd",
    "defib.cli.ticket_cmd",
    "defib.cli.attribute_cmd",
    "defib.cli.man_cmd",
    "defib.cli.sandbox_cmd",
    "defib.cli.web_cmd",
]


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("defib")
    except Exception:  # noqa: BLE001 - not installed as a distribution (a bare checkout)
        return "unknown"


class Parser(argparse.ArgumentParser):
    """argparse's parser (sub-commands' parsers are of the same class), whose argument errors
    are, with ``--json`` anywhere on the line, also a JSON result on standard output."""

    json_errors = False

    def error(self, message: str) -> NoReturn:
        if Parser.json_errors:
            print(json.dumps({"ok": False, "changed": False, "reports": [
                {"code": "usage", "severity": "error", "ids": [],
                 "message": f"{self.prog}: {message}"}]}, indent=2))
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="defib",
        description="defib: a high-availability cluster stack (Pacemaker-compatible).",
    )
    parser.add_argument("--version", action="version", version=f"defib {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def chosen_parser(parser: argparse.ArgumentParser,
                  args: argparse.Namespace) -> argparse.ArgumentParser:
    """The innermost sub-command parser ``args`` went through (for its usage on errors)."""
    current = parser
    while True:
        sub = next((a for a in current._actions
                    if isinstance(a, argparse._SubParsersAction)), None)
        name = getattr(args, sub.dest, None) if sub is not None else None
        if sub is None or not isinstance(name, str) or name not in sub._name_parser_map:
            return current
        current = sub._name_parser_map[name]


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    if words[:2] == ["completion", "names"] and len(words) == 3:
        # Asked on every TAB: answered without building the whole parser.
        from defib.cli.completion_cmd import print_names

        return print_names(words[2])
    try:
        return _run(argv)
    except BrokenPipeError:
        # The reader went away (``defib status | head``): nothing left to say to it.
        _silence_stdout()
        return 141
    except KeyboardInterrupt:
        return 130


def _silence_stdout() -> None:
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _run(argv: list[str] | None) -> int:
    from defib.sandbox import activate

    # --sandbox NAME may stand anywhere on the line: taken out before parsing.
    argv, sandbox = activate.strip_option(sys.argv[1:] if argv is None else list(argv))
    parser = build_parser()
    Parser.json_errors = "--json" in argv
    args, extra = parser.parse_known_args(argv)
    if extra:
        # The sub-command's own usage, not the top-level one.
        chosen_parser(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    func = getattr(args, "func", None)
    if func is None:
        chosen_parser(parser, args).print_help()
        return 2
    import xml.etree.ElementTree as ET

    from defib.errors import DefibError

    try:
        activate.enter(args, sandbox)
        code = int(func(args) or 0)
        sys.stdout.flush()
        return code
    except DefibError as exc:
        # A refused command: its reports, as text or (--json) as data; never a traceback.
        from defib.cli.common import emit_error

        emit_error(exc, bool(getattr(args, "json", False)))
    except ET.ParseError as exc:
        print(f"defib: error: not well-formed XML: {exc}", file=sys.stderr)
    except BrokenPipeError:
        raise
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(f"defib: error: {exc.strerror or exc}{where}", file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback
        import os
        import traceback

        if os.environ.get("DEFIB_DEBUG"):
            traceback.print_exc()
        print(f"defib: internal error: {type(exc).__name__}: {exc} (DEFIB_DEBUG=1 shows the "
              "traceback; please report it)", file=sys.stderr)
        return 70
    return 1


if __name__ == "__main__":
    sys.exit(main())
