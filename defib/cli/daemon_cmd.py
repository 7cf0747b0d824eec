"""`defib daemon --config FILE --node NAME`: run one cluster node in the foreground.

Also runnable as ``python -m defib.cli.daemon_cmd ...``: local clusters start daemons that
way, so a daemon does not depend on every other CLI module importing cleanly.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, type=Path, help="cluster file (TOML)")
    parser.add_argument("--node", required=True, help="this node's name in the cluster file")
    parser.add_argument("--debug", action="store_true", help="log at debug level")
    parser.add_argument("--no-controller", action="store_true",
                        help="run the cluster layer only (membership, quorum, CIB)")
    parser.set_defaults(func=_run)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _add_arguments(subparsers.add_parser("daemon", help="run one cluster node (foreground)"))


def _run(args: argparse.Namespace) -> int:
    from defib.cluster.daemon import run_daemon

    level = logging.DEBUG if args.debug else logging.INFO
    if args.no_controller:
        return run_daemon(args.config, args.node, level)
    from defib.controller.attach import attach_controller

    return run_daemon(args.config, args.node, level, attach=attach_controller)


def main(argv: list[str] | None = None) -> int:
    from defib.errors import DefibError

    parser = argparse.ArgumentParser(prog="defib daemon",
                                     description="run one cluster node (foreground)")
    _add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except DefibError as exc:
        print(f"defib: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
