"""`defib web` (serve the web interface) and `defib web user add|passwd|delete|list`."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from defib.cli.cluster_cmd import default_dir
from defib.cli.common import Formatter, add_json, emit
from defib.errors import CommandError

EXAMPLES = """examples:
  defib web                                  https://127.0.0.1:7630/, prints the first login
  defib web --bind 0.0.0.0 --port 7630       reachable from other machines
  defib web user add alice                   asks for the password twice
  echo secret | defib web user passwd alice --password-stdin
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "web", help="the web interface (HTTPS): live status, actions; its users",
        description="Serve the web interface of the cluster in --dir over HTTPS (a "
                    "self-signed certificate is made on first start in DIR/web). On the "
                    "first start an administrator login is created and printed once. "
                    "What a user may do is decided by the cluster's ACLs, as for CIB_user.",
        epilog=EXAMPLES, formatter_class=Formatter)
    parser.add_argument("--dir", type=Path, default=None,
                        help="cluster directory (default $DEFIB_CLUSTER_DIR or ./defib-local)")
    parser.add_argument("--node", dest="node_name", default=None,
                        help="talk to this node's daemon (default: any that answers)")
    parser.add_argument("--bind", default="127.0.0.1", metavar="ADDR",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=None,
                        help="port (default 7630; 0: any free port, printed)")
    parser.set_defaults(func=_serve)
    sub = parser.add_subparsers(dest="web_command", metavar="ACTION")
    user = sub.add_parser("user", help="the web users (add, passwd, delete, list)",
                          description="The users who may log in to the web interface. A web "
                                      "user is a cluster user: ACL targets name it, and "
                                      "hacluster (admin group) may do everything.")
    users = user.add_subparsers(dest="user_action", metavar="ACTION", required=True)
    for name, help_ in (("add", "add a web user (a cluster user: ACLs name it)"),
                        ("passwd", "set a web user's password"),
                        ("delete", "delete a web user"), ("list", "list the web users")):
        p = users.add_parser(name, help=help_)
        p.add_argument("--dir", type=Path, default=argparse.SUPPRESS,
                       help="cluster directory")
        if name != "list":
            p.add_argument("name", metavar="USER")
        if name in ("add", "passwd"):
            p.add_argument("--password-stdin", action="store_true",
                           help="read the password from standard input (one line)")
        add_json(p)
        p.set_defaults(func=_user)


def _directory(args: argparse.Namespace) -> Path:
    return Path(getattr(args, "dir", None) or default_dir())


def _password(args: argparse.Namespace) -> str:
    from defib.web.auth import NAME

    if not NAME.match(args.name):
        raise CommandError(f"{args.name!r} is not a valid user name (letters, digits, _ . @ -)",
                           args.name, code="web-user-name")
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not sys.stdin.isatty():
        raise CommandError("no terminal to ask the password on: give --password-stdin",
                           args.name, code="web-password")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise CommandError("the passwords differ; nothing changed", args.name,
                               code="web-password")
    if len(password) < 8:
        raise CommandError("a password needs at least 8 characters; nothing changed",
                           args.name, code="web-password")
    return password


def _user(args: argparse.Namespace) -> int:
    from defib.commands.result import done, shown
    from defib.web.auth import Users

    users = Users.of(_directory(args))
    action = args.user_action
    if action == "list":
        names = users.names()
        result = shown(names or ["no web users"], {"users": names})
    elif action == "add":
        users.add(args.name, _password(args))
        result = done("web-user-added", f"web user {args.name} added", args.name)
    elif action == "passwd":
        users.passwd(args.name, _password(args))
        result = done("web-password-changed", f"password of web user {args.name} changed",
                      args.name)
    else:
        users.delete(args.name)
        result = done("web-user-deleted", f"web user {args.name} deleted", args.name)
    return emit(result, bool(getattr(args, "json", False)))


def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from defib.web.run import DEFAULT_PORT, Options, serve

    directory = _directory(args)
    if not directory.is_dir():
        raise CommandError(f"no cluster directory {directory} (give --dir)", str(directory),
                           code="not-connected")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    options = Options(directory, args.node_name, args.bind,
                      DEFAULT_PORT if args.port is None else args.port)

    def say(line: str) -> None:
        print(line, flush=True)

    asyncio.run(serve(options, say))
    return 0
