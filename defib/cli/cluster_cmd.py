"""`defib cluster keygen|start|stop|setup`: cluster key, a local cluster of N daemons, and
(``setup_cmd``) the files of a cluster of real machines."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

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
    start.set_defaults(func=_start)

    from defib.cli import setup_cmd

    setup_cmd.register(sub)

    stop = sub.add_parser("stop", help="stop the local cluster's daemons (recorded PIDs)")
    stop.add_argument("--dir", type=Path, default=None)
    stop.add_argument("--node", action="append", help="stop only this node (repeatable)")
    stop.set_defaults(func=_stop)


def _keygen(args: argparse.Namespace) -> int:
    from defib.cluster.auth import keygen

    path = keygen(args.path or (args.dir or default_dir()) / "authkey", overwrite=args.force)
    print(f"wrote cluster key {path} (mode 0600)")
    return 0


def _start(args: argparse.Namespace) -> int:
    from defib.cluster import hosts, local
    from defib.cluster.config import QuorumOptions, load_config

    directory = (args.dir or default_dir()).resolve()
    config = directory / local.CONFIG_NAME
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
        print(f"created cluster {directory.name} with {args.nodes} nodes in {directory}")
    elif args.nodes and args.nodes != len(load_config(config).nodes):
        raise ClusterError(f"{config} already defines a different number of nodes;"
                           " stop it and remove the directory to recreate")
    elif args.hosts and hosts.layout(directory) is None:
        raise ClusterError(f"{directory} was created without --hosts; remove it to recreate")
    if hosts.layout(directory) is None:
        print(f"note: {hosts.LIMITS}")
    started = local.start(directory, args.node, controller=not args.no_controller)
    for node in started:
        state = "already running" if node.already_running else "started"
        print(f"{node.name}: {state} (pid {node.pid})")
    if not args.no_wait and not args.node:
        names = [n.name for n in started]
        local.wait_formed(directory, names)
        print(f"membership formed: {' '.join(names)}")
    return 0


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
    for name in stopped:
        print(f"{name}: stopped" if name in running else f"{name}: was not running")
    if not running & set(stopped):
        print(f"the cluster in {directory} is not running", file=sys.stderr)
        return 1
    return 0
