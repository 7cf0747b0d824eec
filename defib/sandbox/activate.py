"""The one hook of sandboxes into the command line: ``--sandbox NAME`` (anywhere on the line)
or ``DEFIB_SANDBOX=NAME`` makes the commands that can work on a CIB file work on the
sandbox's, as ``--file``/``CIB_file`` does; every other command is refused rather than
silently acting on the running cluster while the user believes to be in a sandbox."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

from defib.errors import CommandError

ENV = "DEFIB_SANDBOX"
# Set while a command runs in a sandbox (for messages that name it).
ACTIVE_ENV = "DEFIB_SANDBOX_ACTIVE"
# Commands that work on a CIB file as well as on the running cluster.
FILE_COMMANDS = frozenset({"configure", "resource", "node", "property", "simulate", "cib",
                           "explain", "ticket", "attribute"})
# Commands that touch no CIB, or only read what the cluster recorded (its history).
NEUTRAL_COMMANDS = frozenset({"completion", "sandbox", "history", "report", "ra", "man"})


@dataclass(frozen=True)
class Requested:
    """What the command line says: ``--sandbox NAME``, and whether it names a CIB file."""

    name: str | None
    file_given: bool


def strip_option(argv: list[str]) -> tuple[list[str], Requested]:
    """``argv`` without ``--sandbox NAME`` / ``--sandbox=NAME`` (before a ``--``); the name
    given (the last one) or None. Some commands read their options after their words
    (``configure show --file F``), so a ``--file`` is noticed here, wherever it stands."""
    rest: list[str] = []
    name = None
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            rest += argv[i:]
            break
        if word == "--sandbox" and i + 1 < len(argv):
            name = argv[i + 1]
            i += 2
            continue
        if word.startswith("--sandbox="):
            name = word.partition("=")[2]
            i += 1
            continue
        rest.append(word)
        i += 1
    before_end = rest[:rest.index("--")] if "--" in rest else rest
    file_given = any(w == "--file" or w.startswith("--file=") for w in before_end)
    return rest, Requested(name, file_given)


def _explicit_source(args: argparse.Namespace) -> str | None:
    for attr, option in (("file", "--file"), ("xml_file", "-x"), ("live_check", "-L"),
                         ("xml_pipe", "-p")):
        if getattr(args, attr, None):
            return option
    return None


def enter(args: argparse.Namespace, requested: Requested) -> None:
    """Point the command at the sandbox ``--sandbox`` or ``$DEFIB_SANDBOX`` names."""
    option = requested.name
    name = option or os.environ.get(ENV) or None
    command = getattr(args, "command", None)
    if name is None or command in NEUTRAL_COMMANDS:
        if option is not None and command == "sandbox":
            raise CommandError("defib sandbox takes the sandbox's name as its argument, not "
                               "--sandbox")
        return
    source = "--file" if requested.file_given else _explicit_source(args)
    if source is not None:
        if option is not None:
            raise CommandError(f"give either --sandbox or {source}, not both")
        return  # a CIB named on the command line wins over the environment's sandbox
    how = f"--sandbox {name}" if option is not None else f"{ENV}={name}"
    if command not in FILE_COMMANDS:
        raise CommandError(f"defib {command} works on the running cluster, not in a sandbox "
                           f"({how}); use defib sandbox simulate {name} to see what the "
                           f"cluster would do, or unset {ENV}")
    from defib.sandbox.store import load

    box = load(name)
    os.environ["CIB_file"] = str(box.path)
    os.environ[ACTIVE_ENV] = box.name
    if option is None:  # a reminder, since nothing on the command line says it
        print(f"defib: in sandbox {box.name} ({ENV})", file=sys.stderr)
