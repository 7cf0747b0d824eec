"""corosync.conf and authkey for a defib cluster, and the node list as Corosync has it.

One corosync.conf is written from the same nodes and quorum options as the cluster file
(``defib cluster setup`` and local clusters of hosts), so the two agree by construction: one
knet link per address of a node (``ringX_addr``), the node's votes as ``quorum_votes``,
votequorum's ``two_node``/``wait_for_all``/``last_man_standing`` from ``[quorum]``.
At run time the node list, votes and quorum are read back from Corosync (cmap), which is
what counts: a node the cluster file knows and Corosync does not is left out, with a warning.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

from defib.cluster.config import ClusterConfig, NodeConfig
from defib.cluster.corosync.lib import Cmap
from defib.errors import ClusterError

AUTHKEY_BYTES = 256  # corosync-keygen's default size


@dataclass(frozen=True)
class TotemOptions:
    token_ms: int = 3000          # Corosync's defaults
    token_coefficient_ms: int = 650
    crypto: bool = True           # knet: aes256 + sha256 with the authkey
    to_syslog: bool = True        # False: stderr (local clusters keep it in a file)
    # knet's link checks (0: Corosync's default, derived from the token). A dead link must
    # be found well within the token, or losing one of two links costs a membership change.
    knet_ping_interval_ms: int = 0
    knet_ping_timeout_ms: int = 0


def render(cfg: ClusterConfig, totem: TotemOptions | None = None,
           keyfile: str = "/etc/corosync/authkey") -> str:
    totem = totem or TotemOptions()
    q = cfg.quorum
    crypto = ("    crypto_cipher: aes256\n    crypto_hash: sha256\n"
              f"    keyfile: {keyfile}\n") if totem.crypto else \
        "    crypto_cipher: none\n    crypto_hash: none\n"
    quorum = ["    provider: corosync_votequorum"]
    if q.two_node:
        quorum.append("    two_node: 1")
    if q.wait_for_all is not None:
        quorum.append(f"    wait_for_all: {int(q.wait_for_all)}")
    if q.expected_votes:
        quorum.append(f"    expected_votes: {q.expected_votes}")
    if q.last_man_standing:
        quorum += ["    last_man_standing: 1",
                   f"    last_man_standing_window: {int(q.last_man_standing_window * 1000)}"]
    nodes = []
    for node in cfg.nodes:
        rings = "".join(f"        ring{i}_addr: {host}\n"
                        for i, (host, _) in enumerate(node.addresses))
        nodes.append(f"    node {{\n        name: {node.name}\n        nodeid: {node.id}\n"
                     f"        quorum_votes: {node.votes}\n{rings}    }}\n")
    logging_ = ("    to_syslog: yes\n    to_stderr: no\n" if totem.to_syslog
                else "    to_syslog: no\n    to_stderr: yes\n")
    return (
        "# Written by defib (defib cluster setup); the same on every node.\n"
        "totem {\n    version: 2\n"
        f"    cluster_name: {cfg.name}\n    transport: knet\n"
        f"    token: {totem.token_ms}\n    token_coefficient: {totem.token_coefficient_ms}\n"
        f"{crypto}{_knet(cfg, totem)}}}\n"
        f"logging {{\n{logging_}    to_logfile: no\n    timestamp: hires\n}}\n"
        "quorum {\n" + "\n".join(quorum) + "\n}\n"
        "nodelist {\n" + "".join(nodes) + "}\n"
    )


def _knet(cfg: ClusterConfig, totem: TotemOptions) -> str:
    if not totem.knet_ping_interval_ms:
        return ""
    links = len(cfg.nodes[0].addresses) if cfg.nodes else 1
    return "".join(
        f"    interface {{\n        linknumber: {link}\n"
        f"        knet_ping_interval: {totem.knet_ping_interval_ms}\n"
        f"        knet_ping_timeout: {totem.knet_ping_timeout_ms}\n    }}\n"
        for link in range(links))


def write_authkey(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o400)
    with os.fdopen(fd, "wb") as out:
        out.write(os.urandom(AUTHKEY_BYTES))


def corosync_nodes(cmap: Cmap) -> list[NodeConfig]:
    """The nodelist of the running Corosync (id, name, votes, one address per link)."""
    nodes = []
    for pos in range(1024):
        prefix = f"nodelist.node.{pos}."
        node_id = cmap.u32(prefix + "nodeid")
        if node_id is None:
            break
        name = cmap.string(prefix + "name") or f"node{node_id}"
        votes = cmap.u32(prefix + "quorum_votes")
        rings = []
        for ring in range(8):
            addr = cmap.string(f"{prefix}ring{ring}_addr")
            if addr is None:
                break
            rings.append((addr, 5405 + ring))
        nodes.append(NodeConfig(node_id, name, tuple(rings), 1 if votes is None else votes))
    return nodes


def with_corosync_nodes(cfg: ClusterConfig, found: list[NodeConfig],
                        log: logging.Logger) -> ClusterConfig:
    """The cluster file with Corosync's node list: ids and names must agree, votes and
    addresses are Corosync's."""
    if not found:
        raise ClusterError("corosync's configuration has no nodelist: defib needs one"
                           " (defib cluster setup writes it)")
    by_id = {n.id: n for n in cfg.nodes}
    for node in found:
        known = by_id.get(node.id)
        if known is not None and known.name != node.name:
            raise ClusterError(f"node {node.id} is {node.name!r} in corosync.conf but"
                               f" {known.name!r} in {cfg.source}: fix one of them")
        if known is None:
            log.warning("node %s (id %d) is in corosync.conf, not in %s", node.name, node.id,
                        cfg.source)
    ids = {n.id for n in found}
    for node in cfg.nodes:
        if node.id not in ids:
            log.warning("node %s (id %d) of %s is not in corosync.conf: left out", node.name,
                        node.id, cfg.source)
    links = max(len(n.addresses) for n in found)
    nodes = tuple(n if len(n.addresses) == links
                  else replace(n, addresses=n.addresses + (("", 0),) * (links - len(n.addresses)))
                  for n in sorted(found, key=lambda n: n.id))
    return replace(cfg, nodes=nodes)
