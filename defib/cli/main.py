"""The one CLI entry point, ``defib``.

Each sub-command lives in its own module under ``defib.cli`` and exposes
``register(subparsers) -> None``; it sets ``func`` on its parser, a callable
``func(args) -> int`` returning the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys

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
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="defib",
        description="defib: a high-availability cluster stack (Pacemaker-compatible).",
    )
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    from defib.errors import DefibError

    try:
        return int(func(args) or 0)
    except DefibError as exc:
        print(f"defib: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
