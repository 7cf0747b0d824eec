"""`defib daemon --config FILE --node NAME`: run one cluster node in the foreground."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("daemon", help="run one cluster node (foreground)")
    parser.add_argument("--config", required=True, type=Path, help="cluster file (TOML)")
    parser.add_argument("--node", required=True, help="this node's name in the cluster file")
    parser.add_argument("--debug", action="store_true", help="log at debug level")
    parser.add_argument("--no-controller", action="store_true",
                        help="run the cluster layer only (membership, quorum, CIB)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from defib.cluster.daemon import run_daemon

    level = logging.DEBUG if args.debug else logging.INFO
    if args.no_controller:
        return run_daemon(args.config, args.node, level)
    from defib.controller.attach import attach_controller

    return run_daemon(args.config, args.node, level, attach=attach_controller)
