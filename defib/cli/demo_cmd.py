"""`defib demo`: a live local 3-node cluster and its failover (``--simulated``: the scheduler
at work on a sample cluster when a node dies)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo", help="run a local 3-node cluster, crash the web node, watch the failover")
    parser.add_argument("--non-interactive", action="store_true",
                        help="do not pause between steps (the default when stdout is not a TTY)")
    parser.add_argument("--simulated", action="store_true",
                        help="no daemons: show what the scheduler decides on a sample cluster")
    parser.add_argument("--dir", type=Path, default=None,
                        help="live demo: keep the cluster (state, logs, pe-inputs) in DIR"
                        " (default: a temporary directory, removed at the end)")
    parser.set_defaults(func=_run)


def _pause(interactive: bool, prompt: str) -> None:
    if not interactive:
        return
    try:
        input(prompt)
    except EOFError:
        pass


def _live(directory: Path | None, interactive: bool) -> int:
    from defib.controller.demo import run_demo as run_live

    def emit(line: str) -> None:
        print(line, flush=True)

    report = run_live(emit, interactive, directory)
    print(f"failover: {report.crashed} -> {report.recovered_on}, web recorded started after"
          f" {report.recorded_s:.3f}s, answering HTTP after {report.http_s:.3f}s"
          " (fencing included)")
    return 0


def _run(args: argparse.Namespace) -> int:
    from defib.simulate.demo import run_demo

    interactive = not args.non_interactive and sys.stdout.isatty() and sys.stdin.isatty()
    if not args.simulated:
        return _live(args.dir, interactive)
    demo = run_demo()
    print("\n".join(demo.intro()))
    _pause(interactive, f"Press Enter to kill {demo.victim}... ")
    print("\n".join(demo.event()))
    sys.stdout.write(demo.after.text())
    return 0
