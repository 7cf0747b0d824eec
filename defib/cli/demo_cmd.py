"""`defib demo`: the scheduler at work on a sample cluster when a node dies."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo", help="show what defib decides when a node of a sample cluster dies")
    parser.add_argument("--non-interactive", action="store_true",
                        help="do not pause between steps (the default when stdout is not a TTY)")
    parser.add_argument("--simulated", action="store_true",
                        help="simulate the cluster (the only mode until the live demo exists)")
    parser.set_defaults(func=_run)


def _pause(interactive: bool, prompt: str) -> None:
    if not interactive:
        return
    try:
        input(prompt)
    except EOFError:
        pass


def _run(args: argparse.Namespace) -> int:
    from defib.simulate.demo import run_demo

    interactive = not args.non_interactive and sys.stdout.isatty() and sys.stdin.isatty()
    demo = run_demo()
    print("\n".join(demo.intro()))
    _pause(interactive, f"Press Enter to kill {demo.victim}... ")
    print("\n".join(demo.event()))
    sys.stdout.write(demo.after.text())
    return 0
