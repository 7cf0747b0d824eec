"""`defib cluster keygen|start|stop|setup`: cluster key, a local cluster of N daemons, and
(``setup_cmd``) the files of a cluster of real machines."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from defib.commands.report import Report, error, info
from defib.commands.result import Result
from defib.errors import ClusterError


def default_dir() -> Path:
    return Path(os.environ.get("DEFIB_CLUSTER_DIR", "defib-local"))


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("cluster", help="cluster key, local cluster start/stop")
    sub = parser.add_subparsers(dest="cluster_command", metavar="ACTION", required=True)

    keygen = sub.add_parser("keygen", help="create the cluster key file (mode 0600) that "
                                           "'cluster start' uses",
                            description="Create the cluster key: DIR/authkey, which "
                                        "'defib cluster start' then uses (it creates one only "
                                        "when there is none).")
    keygen.add_argument("path", nargs="?", type=Path, default=None,
                        help="key file (default DIR/authkey)")
    keygen.add_argument("--dir", type=Path, default=None,
                        help="cluster directory (default $DEFIB_CLUSTER_DIR or ./defib-local)")
    keygen.add_argument("--force", action="store_true", help="overwrite an existing key")
    _add_json(keygen)
    keygen.set_defaults(func=_keygen)

    start = sub.add_parser("start", help="start a local cluster (node i on 127.0.0.(10+i))")
    start.add_argument("-n", "--nodes", type=int, help="number of nodes (creates the cluster)")
    start.add_argument("--dir", type=Path, default=None,
                       help="cluster directory (default $DEFIB_CLUSTER_DIR or ./defib-local)")
    start.add_argument("--node", action="append", help="start only this node (repeatable)")
    start.add_argument("--port", type=int, default=0, help="UDP port of link 0 (default: free)")
    start.add_argument("--links", type=int, default=2, help="redundant links per node")
    start.add_argument("--two-node", action="store_true", default=None)
    start.add_argument("--wait-for-all", action="store_true", default=None)
    start.add_argument("--last-man-standing", action="store_true")
    start.add_argument("--encrypt", action="store_true", help="AES-GCM on top of HMAC")
    start.add_argument("--no-wait", action="store_true", help="do not wait for membership")
    start.add_argument("--no-controller", action="store_true",
                       help="run the cluster layer only (no resource management)")
    start.add_argument("--hosts", action=argparse.BooleanOptionalAction, default=None,
                       help="run each node as a host: own PID/mount/UTS/network namespaces,"
                            " 198.18.<link>.(10+i) on a bridge (root; at creation)")

    start.add_argument("--stack", choices=("heartbeat", "corosync"), default="heartbeat",
                       help="messaging layer; corosync runs in each host (needs --hosts;"
                            " at creation)")
    _add_json(start)
    start.set_defaults(func=_start)

    from defib.cli import setup_cmd

    setup_cmd.register(sub)

    stop = sub.add_parser("stop", help="stop the local cluster's daemons (recorded PIDs)")
    stop.add_argument("--dir", type=Path, default=None)
    stop.add_argument("--node", action="append", help="stop only this node (repeatable)")
    _add_json(stop)
    stop.set_defaults(func=_stop)


def _add_json(parser: argparse.ArgumentParser) -> None:
    from defib.cli.common import add_json

    add_json(parser)


def _emit(args: argparse.Namespace, reports: list[Report], **data: Any) -> int:
    from defib.cli.common import emit

    return emit(Result(tuple(reports), data=data, changed=bool(data.get("changed"))),
                bool(args.json))


def _keygen(args: argparse.Namespace) -> int:
    from defib.cluster.auth import keygen

    path = keygen(args.path or (args.dir or default_dir()) / "authkey", overwrite=args.force)
    return _emit(args, [info("key-written", f"wrote cluster key {path} (mode 0600)",
                             str(path))], path=str(path), changed=True)


def _start(args: argparse.Namespace) -> int:
    from defib.cluster import hosts, local
    from defib.cluster.config import QuorumOptions, load_config

    directory = (args.dir or default_dir()).resolve()
    config = directory / local.CONFIG_NAME
    reports: list[Report] = []
    if not config.exists():
        if not args.nodes:
            raise ClusterError(f"{config} does not exist: give -n N to create a cluster")
        two_node = bool(args.two_node) if args.two_node is not None else args.nodes == 2
        quorum = QuorumOptions(two_node=two_node, wait_for_all=args.wait_for_all,
                               last_man_standing=args.last_man_standing)
        if args.hosts and (why := hosts.unavailable_reason()):
            raise ClusterError(f"--hosts: {why}")
        as_hosts = hosts.by_default() if args.hosts is None else args.hosts
        if args.stack == "corosync" and args.hosts is None and not hosts.unavailable_reason():
            as_hosts = True  # each Corosync needs a host of its own
        local.create(directory, args.nodes, args.port, args.links, quorum, args.encrypt,
                     hosts=as_hosts, stack=args.stack)
        reports.append(info("cluster-created", f"created cluster {directory.name} with"
                            f" {args.nodes} nodes in {directory}", directory.name))
    elif args.nodes and args.nodes != len(load_config(config).nodes):
        raise ClusterError(f"{config} already defines a different number of nodes;"
                           " stop it and remove the directory to recreate")
    elif args.hosts and hosts.layout(directory) is None:
        raise ClusterError(f"{directory} was created without --hosts; remove it to recreate")
    if hosts.layout(directory) is None:
        reports.append(info("marker-limits", f"note: {hosts.LIMITS}"))
    started = local.start(directory, args.node, controller=not args.no_controller)
    for node in started:
        state = "already running" if node.already_running else "started"
        reports.append(info(f"node-{state.replace(' ', '-')}",
                            f"{node.name}: {state} (pid {node.pid})", node.name))
    formed = not args.no_wait
    if formed:
        # Every running node, those started before included: a node started alone must
        # join them, or the command fails saying which did not and why (its clock ...).
        names = [n.name for n in load_config(config).nodes
                 if local.daemon_pid(directory, n.name) is not None]
        local.wait_formed(directory, names)
        reports.append(info("membership-formed", f"membership formed: {' '.join(names)}",
                            *names))
    return _emit(args, reports, directory=str(directory), changed=True,
                 nodes=[{"name": n.name, "pid": n.pid, "already_running": n.already_running}
                        for n in started], formed=formed)


def _stop(args: argparse.Namespace) -> int:
    from defib.cluster import local
    from defib.cluster.config import load_config

    directory = (args.dir or default_dir()).resolve()
    if not (directory / local.CONFIG_NAME).is_file():
        raise ClusterError(f"no cluster in {directory} ({local.CONFIG_NAME} not found)",
                           str(directory))
    running = {n.name for n in load_config(directory / local.CONFIG_NAME).nodes
               if local.daemon_pid(directory, n.name) is not None}
    stopped = local.stop(directory, args.node)
    reports = [info("node-stopped" if name in running else "node-not-running",
                    f"{name}: stopped" if name in running else f"{name}: was not running",
                    name) for name in stopped]
    if not running & set(stopped):
        reports.append(error("cluster-not-running",
                             f"the cluster in {directory} is not running", str(directory)))
    return _emit(args, reports, stopped=sorted(running & set(stopped)),
                 changed=bool(running & set(stopped)))
