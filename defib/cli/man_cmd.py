"""``defib man [COMMAND]``: manual pages in troff, generated from the argument parser itself
(so they never disagree with ``--help``): defib(1) and one page per command, defib-COMMAND(1),
with its actions, options and examples. ``--write DIR`` writes them all as files."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("man", help="print a manual page (troff), generated from the "
                                          "parser",
                              epilog="examples:\n  defib man resource | man -l -\n"
                                     "  defib man --write /usr/local/share/man/man1",
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("page", nargs="?", metavar="COMMAND", help="a command (default: defib(1))")
    p.add_argument("--write", type=Path, metavar="DIR",
                   help="write defib.1 and every defib-COMMAND.1 into DIR")
    p.set_defaults(func=run, man_parser=p)


def _esc(text: str) -> str:
    """Text safe in troff: backslashes, and lines that would start with a control char."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line
                     for line in text.splitlines())


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action._name_parser_map.items())
    return {}


def _helps(parser: argparse.ArgumentParser) -> dict[str, str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {a.dest: a.help or "" for a in action._get_subactions()}
    return {}


# Options every action of resource, node, ticket ... takes: described once per page.
COMMON = {"-h", "--dir", "--file", "--json", "--wait", "--timeout"}


def _options(parser: argparse.ArgumentParser, skip: set[str] | None = None) -> list[str]:
    out = []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._SubParsersAction):
            continue
        if skip and (set(action.option_strings) & skip or not action.help):
            continue
        if action.option_strings:
            names = ", ".join(action.option_strings)
            if action.nargs != 0:
                names += f" {action.metavar or action.dest.upper()}"
        else:
            names = str(action.metavar or action.dest)
        out += [".TP", f"\\fB{_esc(names)}\\fR", _esc(action.help or "")]
    return out


_COMMON_USAGE = re.compile(r"\[(?:-h|--dir DIR|--file CIB_FILE|--json|--wait|"
                           r"--timeout SECONDS)\] ?")


def _usage(parser: argparse.ArgumentParser, short: bool = False) -> str:
    """The parser's usage line (``short``: without the options every action takes)."""
    text = " ".join(parser.format_usage().removeprefix("usage: ").split())
    return _COMMON_USAGE.sub("", text).strip() if short else text


def _shared(parser: argparse.ArgumentParser) -> list[str]:
    """The common options as ``parser`` (one action) describes them."""
    out = []
    for action in parser._actions:
        if set(action.option_strings) & (COMMON - {"-h"}) and action.help:
            names = ", ".join(action.option_strings)
            if action.nargs != 0:
                names += f" {action.metavar or action.dest.upper()}"
            out += [".TP", f"\\fB{_esc(names)}\\fR", _esc(action.help)]
    return out


def page(root: argparse.ArgumentParser, name: str | None) -> str:
    """The troff text of defib(1) (``name`` None) or of defib-``name``(1)."""
    commands = _subparsers(root)
    parser = root if name is None else commands.get(name)
    if parser is None:
        from defib.commands.cibtree import did_you_mean
        from defib.errors import CommandError

        raise CommandError(f"no command {name!r}" + did_you_mean(name or "", sorted(commands)),
                           name, code="usage")
    title = "defib" if name is None else f"defib-{name}"
    helps = _helps(root)
    summary = root.description if name is None else (helps.get(name) or parser.description)
    date = dt.date.today().isoformat()
    out = [f'.TH {_esc(title.upper())} 1 "{date}" "defib" "defib manual"',
           ".SH NAME", f"{_esc(title)} \\- {_esc(summary or '')}",
           ".SH SYNOPSIS", f"\\fB{_esc(_usage(parser))}\\fR"]
    if parser.description:
        out += [".SH DESCRIPTION", _esc(parser.description)]
    actions = _subparsers(parser)
    if actions:
        out.append(".SH COMMANDS" if name is None else ".SH ACTIONS")
        sub_helps = _helps(parser)
        for action, sub in actions.items():
            out += [".TP", f"\\fB{_esc(_usage(sub, short=True))}\\fR",
                    _esc(sub_helps.get(action, ""))]
            own = _options(sub, COMMON) if name is not None else []
            if own:
                out += [".RS", *own, ".RE"]
        shared = _shared(next(iter(actions.values()))) if name is not None else []
        if shared:
            out += [".SH COMMON OPTIONS",
                    "Every action takes these, before or after its arguments:", *shared]
    options = _options(parser)
    if options:
        out += [".SH OPTIONS", *options]
    if parser.epilog:
        out += [".SH EXAMPLES", ".nf", _esc(parser.epilog.removeprefix("examples:").strip("\n")),
                ".fi"]
    if name is not None:
        out += [".SH SEE ALSO", "\\fBdefib\\fR(1)"]
    else:
        out += [".SH SEE ALSO", ", ".join(f"\\fBdefib\\-{_esc(c)}\\fR(1)" for c in commands)]
    return "\n".join(out) + "\n"


def run(args: argparse.Namespace) -> int:
    from defib.cli.main import build_parser

    root = build_parser()
    if args.write is not None:
        args.write.mkdir(parents=True, exist_ok=True)
        names: list[str | None] = [None, *_subparsers(root)]
        for name in names:
            target = args.write / (f"defib-{name}.1" if name else "defib.1")
            target.write_text(page(root, name))
        print(f"{len(names)} manual pages written to {args.write}")
        return 0
    sys.stdout.write(page(root, args.page))
    return 0
