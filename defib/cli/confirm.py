"""Asking before a dangerous change: on a terminal a prompt, otherwise ``--force``.

The change is shown first (what is dangerous, then the configuration diff), whatever the
answer will be, so that a refused run still says what it would have done.
"""

from __future__ import annotations

import sys

from defib.commands.danger import Danger


def confirm(found: list[Danger], change: str, force: bool, question: str = "Do it") -> bool:
    """True when the change may go ahead."""
    if not found:
        return True
    for danger in found:
        print(f"WARNING: {danger.message}", file=sys.stderr)
    if change:
        sys.stderr.write(change if change.endswith("\n") else change + "\n")
    if force:
        return True
    if not sys.stdin or not sys.stdin.isatty():
        print("defib: refused: this needs confirmation and there is no terminal to ask on; "
              "run again with --force to do it", file=sys.stderr)
        return False
    sys.stderr.write(f"{question}? [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    if answer.strip().lower() in ("y", "yes"):
        return True
    print("defib: nothing changed", file=sys.stderr)
    return False


def add_force(parser: object, what: str) -> None:
    """``--force``: do ``what`` without asking (for scripts: no terminal, no prompt)."""
    from argparse import ArgumentParser

    assert isinstance(parser, ArgumentParser)
    parser.add_argument("--force", action="store_true",
                        help=f"{what} without asking (needed when not on a terminal)")
