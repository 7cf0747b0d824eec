"""`defib cluster setup NAME NODE=ADDR...`: the files of a cluster of real machines;
`defib cluster status`: do all members have the same files?

Registered under `defib cluster` by ``cluster_cmd`` (kept apart: it writes system files,
the rest of `cluster` runs local clusters).
"""

from __future__ import annotations

import argparse
from pathlib import Path

EXAMPLE = """\
example:
  defib cluster setup web node1=192.0.2.11 node2=192.0.2.12 node3=192.0.2.13 --stack corosync
  # then copy /etc/defib and /etc/corosync (keys included) to every node, and on each:
  systemctl enable --now corosync defib

two links per node: node1=192.0.2.11,198.51.100.11 (one address per link, every node alike)
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from defib.cli.common import add_json

    setup = sub.add_parser(
        "setup", help="write the cluster file, keys, corosync.conf and defib.service for"
                      " real machines",
        description="Write the files of a cluster of real machines: /etc/defib/cluster.toml"
                    " and its key, for --stack corosync /etc/corosync/corosync.conf and its"
                    " authkey, and the systemd unit defib.service (state under"
                    " /var/lib/defib). Every node gets the same files.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    setup.add_argument("name", help="cluster name")
    setup.add_argument("nodes", nargs="+", metavar="NODE=ADDR[,ADDR]",
                       help="node name (its short host name) and its address on each link")
    setup.add_argument("--stack", choices=("heartbeat", "corosync"), default="heartbeat",
                       help="messaging layer (default: defib's own heartbeat layer)")
    setup.add_argument("--port", type=int, default=5405, help="UDP port of link 0")
    setup.add_argument("--two-node", action="store_true", default=None,
                       help="two-node cluster (one vote keeps quorum; default with 2 nodes)")
    setup.add_argument("--wait-for-all", action=argparse.BooleanOptionalAction, default=None,
                       help="no quorum until all nodes were seen once (default: two_node)")
    setup.add_argument("--token", type=int, default=3000, metavar="MS",
                       help="corosync's totem token timeout (default 3000)")
    setup.add_argument("--root", type=Path, default=Path("/"),
                       help="write under this directory instead of / (images, tests)")
    setup.add_argument("--etc", type=Path, default=Path("/etc/defib"),
                       help="directory of the cluster file and key (default /etc/defib)")
    setup.add_argument("--state-dir", type=Path, default=Path("/var/lib/defib"),
                       help="state directory of the nodes (default /var/lib/defib)")
    setup.add_argument("--corosync-etc", type=Path, default=Path("/etc/corosync"),
                       help="where corosync.conf goes (default /etc/corosync)")
    setup.add_argument("--unit-dir", type=Path, default=Path("/etc/systemd/system"),
                       help="where defib.service goes (default /etc/systemd/system)")
    setup.add_argument("--force", action="store_true",
                       help="replace an existing setup (new keys: copy them everywhere)")
    add_json(setup)
    setup.set_defaults(func=_setup)

    status = sub.add_parser(
        "status", help="check that every member has the same cluster file and keys",
        description="Ask every member (through one node's daemon) for fingerprints of its"
                    " cluster file, defib key and, on the Corosync stack, corosync.conf and"
                    " Corosync's authkey; exit 1 if any node differs or does not answer.")
    where = status.add_mutually_exclusive_group()
    where.add_argument("--dir", type=Path, help="a local cluster's directory")
    where.add_argument("--config", type=Path,
                       help="cluster file (default /etc/defib/cluster.toml)")
    status.add_argument("--node", help="ask this node's daemon (default: the first that"
                                       " answers)")
    add_json(status)
    status.set_defaults(func=_status)


def _status(args: argparse.Namespace) -> int:
    from defib.cli.common import emit
    from defib.cluster.agreement import differences
    from defib.cluster.client import ControlClient
    from defib.cluster.config import load_config
    from defib.commands.report import error, info
    from defib.commands.result import Result
    from defib.errors import ClusterError, NotConnectedError

    config = (args.dir / "cluster.toml" if args.dir
              else args.config or Path("/etc/defib/cluster.toml"))
    cfg = load_config(config)
    names = [args.node] if args.node else [n.name for n in cfg.nodes]
    answer = None
    for name in names:
        try:
            answer = ControlClient.for_node(cfg.state_dir, name, 10.0).request("config_check")
            break
        except NotConnectedError:
            continue
    if answer is None:
        raise ClusterError(f"no daemon of {', '.join(names)} answers under {cfg.state_dir}")
    prints: dict[str, dict[str, str]] = answer["nodes"]
    nodes = sorted(prints)
    files = sorted({f for p in prints.values() for f in p})
    width = max([len(f) for f in files] + [4])
    lines = [" ".join([f"{'file':{width}}", *(f"{n:16}" for n in nodes)])]
    for name in files:
        lines.append(" ".join([f"{name:{width}}",
                               *(f"{prints[n].get(name, 'missing')[:16]:16}" for n in nodes)]))
    odd = differences(prints)
    reports = [error("file-differs", f"{name}: differs on {', '.join(who)}", name, *who)
               for name, who in odd.items()]
    if answer["silent"]:
        reports.append(error("no-answer", f"no answer from {', '.join(answer['silent'])}",
                             *answer["silent"]))
    if not reports:
        reports.append(info("members-agree", f"all {len(nodes)} members agree", *nodes))
    return emit(Result(tuple(reports), output="\n".join(lines),
                       data={"fingerprints": prints, "silent": list(answer["silent"])}),
                bool(args.json))


def _setup(args: argparse.Namespace) -> int:
    from defib.cli.common import emit
    from defib.cluster.config import QuorumOptions
    from defib.cluster.corosync.conf import TotemOptions
    from defib.cluster.install import Plan, parse_nodes, write
    from defib.commands.report import info
    from defib.commands.result import Result
    from defib.errors import ConfigError

    nodes = parse_nodes(args.nodes, args.port)
    if not 0 < args.port < 65536 - len(nodes[0].addresses):
        raise ConfigError(f"--port {args.port}: out of range", "port")
    two_node = len(nodes) == 2 if args.two_node is None else args.two_node
    plan = Plan(name=args.name, nodes=nodes, stack=args.stack,
                quorum=QuorumOptions(two_node=two_node, wait_for_all=args.wait_for_all),
                etc=args.etc.absolute(), state_dir=args.state_dir.absolute(),
                corosync_etc=args.corosync_etc.absolute(), unit_dir=args.unit_dir.absolute(),
                totem=TotemOptions(token_ms=args.token))
    written = [str(path) for path in write(plan, args.root, force=args.force)]
    reports = [info("file-written", f"wrote {path}", path) for path in written]
    reports.append(info("next-steps", f"copy {args.etc}"
                        + (f" and {args.corosync_etc}" if args.stack == "corosync" else "")
                        + " to every node (keys included); then on each: systemctl "
                        "daemon-reload &&" + (" systemctl enable --now corosync defib"
                                              if args.stack == "corosync"
                                              else " systemctl enable --now defib")))
    return emit(Result(tuple(reports), changed=True, data={"written": written}),
                bool(args.json))
