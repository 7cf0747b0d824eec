"""Pacemaker's node-attribute tools for resource agents: ``crm_attribute``, ``crm_master``,
``attrd_updater`` and ``crm_node``, answered by the local defib daemon.

Agents such as ``ocf:pacemaker:Stateful`` call ``${HA_SBIN_DIR}/crm_attribute --promotion
-v 10``; the executor points ``HA_SBIN_DIR`` at ``defib/controller/sbin``, whose scripts
run this module. Transient (``-l reboot``) attributes only: they go to the DC through the
node's control socket (``DEFIB_CONTROL_SOCKET``) and are read back from the CIB.
Exit codes are Pacemaker's: 0 ok, 64 usage, 105 no such attribute, 102 not connected.
"""

from __future__ import annotations

import argparse
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from defib.cluster.client import ControlClient
from defib.errors import DefibError

EX_OK, EX_USAGE, EX_UNIMPLEMENTED, EX_NOT_CONNECTED, EX_NOSUCH = 0, 64, 3, 102, 105


def _client() -> ControlClient:
    path = os.environ.get("DEFIB_CONTROL_SOCKET")
    if not path:
        marker = os.environ.get("DEFIB_LOCAL_NODE", "")
        directory, _, node = marker.rpartition(":")
        path = str(Path(directory) / node / "control.sock") if directory else ""
    return ControlClient(Path(path), timeout=10.0)


def local_node() -> str:
    name = os.environ.get("DEFIB_NODE_NAME") or os.environ.get("OCF_RESKEY_CRM_meta_on_node")
    if not name:
        name = os.environ.get("DEFIB_LOCAL_NODE", "").rpartition(":")[2]
    return name


def _query(node: str, name: str) -> str | None:
    root = ET.fromstring(str(_client().get_cib()["xml"]))
    for state in root.iterfind("status/node_state"):
        if node not in (state.get("uname"), state.get("id")):
            continue
        for nv in state.iterfind("transient_attributes/instance_attributes/nvpair"):
            if nv.get("name") == name:
                return nv.get("value", "")
    return None


def _set(node: str, name: str, value: str | None) -> None:
    _client().request("crm_attribute", node=node, name=name, value=value)


def _promotion_name(rsc: str | None) -> str:
    instance = rsc or os.environ.get("OCF_RESOURCE_INSTANCE", "")
    return "master-" + instance.split(":", 1)[0]


def _run(node: str, name: str, query: bool, delete: bool, value: str | None, quiet: bool,
         lifetime: str | None) -> int:
    if lifetime not in (None, "reboot", "status", "transient"):
        print(f"{sys.argv[0]}: only transient (-l reboot) attributes are supported here",
              file=sys.stderr)
        return EX_UNIMPLEMENTED
    if query:
        found = _query(node, name)
        if found is None:
            print(f"Error performing operation: No such device or address ({name})",
                  file=sys.stderr)
            return EX_NOSUCH
        print(found if quiet else f"scope=status  name={name} value={found}")
        return EX_OK
    if delete:
        _set(node, name, None)
        return EX_OK
    if value is None:
        print(f"{sys.argv[0]}: give -v VALUE, -D or -G", file=sys.stderr)
        return EX_USAGE
    _set(node, name, value)
    return EX_OK


def crm_attribute(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="crm_attribute")
    p.add_argument("-N", "--node")
    p.add_argument("-n", "--name")
    p.add_argument("-v", "--update", "--value", dest="value")
    p.add_argument("-D", "--delete", action="store_true")
    p.add_argument("-G", "--query", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-l", "--lifetime")
    p.add_argument("-t", "--type")
    p.add_argument("-p", "--promotion", nargs="?", const="", default=None)
    p.add_argument("-d", "--default")
    args = p.parse_args(argv)
    lifetime = args.lifetime or ("reboot" if args.type == "status" else None)
    if args.promotion is not None:
        name, lifetime = _promotion_name(args.promotion or None), "reboot"
    elif args.name:
        name = args.name
    else:
        print("crm_attribute: give -n NAME or --promotion", file=sys.stderr)
        return EX_USAGE
    if lifetime is None and args.type not in (None, "status"):
        lifetime = "forever"
    if args.query and args.default is not None:
        found = _query(args.node or local_node(), name)
        print(found if found is not None else args.default)
        return EX_OK
    return _run(args.node or local_node(), name, args.query, args.delete, args.value,
                args.quiet, lifetime or "reboot")


def crm_master(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="crm_master")
    p.add_argument("-N", "--node")
    p.add_argument("-v", "--update", "--value", dest="value")
    p.add_argument("-D", "--delete", action="store_true")
    p.add_argument("-G", "--query", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-l", "--lifetime", default="reboot")
    p.add_argument("-r", "--resource")
    args = p.parse_args(argv)
    return _run(args.node or local_node(), _promotion_name(args.resource), args.query,
                args.delete, args.value, args.quiet, args.lifetime)


def attrd_updater(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="attrd_updater")
    p.add_argument("-n", "--name", required=True)
    p.add_argument("-N", "--node")
    p.add_argument("-U", "-v", "--update", dest="value")
    p.add_argument("-D", "--delete", action="store_true")
    p.add_argument("-Q", "--query", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-l", "--lifetime")
    args = p.parse_args(argv)
    return _run(args.node or local_node(), args.name, args.query, args.delete, args.value,
                args.quiet, None)


def crm_node(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="crm_node")
    p.add_argument("-n", "--name", action="store_true")
    p.add_argument("-q", "--quorum", action="store_true")
    p.add_argument("-p", "--partition", action="store_true")
    p.add_argument("-l", "--list", action="store_true")
    args = p.parse_args(argv)
    if args.name:
        print(local_node())
        return EX_OK
    status = _client().status()
    if args.quorum:
        print("1" if status["quorum"]["quorate"] else "0")
    elif args.partition:
        print(" ".join(n["name"] for n in status["nodes"] if n["member"]))
    elif args.list:
        for n in status["nodes"]:
            print(f"{n['id']} {n['name']} {'member' if n['member'] else 'lost'}")
    else:
        print("crm_node: give -n, -q, -p or -l", file=sys.stderr)
        return EX_USAGE
    return EX_OK


TOOLS = {"crm_attribute": crm_attribute, "crm_master": crm_master,
         "attrd_updater": attrd_updater, "crm_node": crm_node}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in TOOLS:
        print(f"usage: python -m defib.controller.pcmk_tools {{{','.join(TOOLS)}}} ...",
              file=sys.stderr)
        return EX_USAGE
    try:
        return TOOLS[args[0]](args[1:])
    except DefibError as exc:
        print(f"{args[0]}: {exc}", file=sys.stderr)
        return EX_NOT_CONNECTED


if __name__ == "__main__":
    sys.exit(main())
