"""The messaging layer a node runs on, chosen by the cluster file's ``stack``.

``heartbeat`` (the default): defib's own UDP heartbeat layer. ``corosync``: a running
Corosync 3 (CPG, votequorum, cmap); the node list and votes are then Corosync's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from defib.cluster.config import ClusterConfig, NodeConfig
from defib.cluster.layer import ClusterLayer
from defib.errors import ClusterError


class NodeLayer(ClusterLayer, Protocol):
    """What a daemon's node needs of its layer beyond ``ClusterLayer``: a description for
    ``defib status`` (view, members, reachability and links per peer, quorum, pid)."""

    def describe(self) -> dict[str, Any]: ...


def make_layer(cfg: ClusterConfig, node: NodeConfig, key: bytes) -> NodeLayer:
    if cfg.stack == "corosync":
        from defib.cluster.corosync.layer import CorosyncLayer

        return CorosyncLayer(cfg, node, key)
    from defib.cluster.heartbeat import HeartbeatLayer

    return HeartbeatLayer(cfg, node, key)


async def resolve_nodes(cfg: ClusterConfig, log: logging.Logger,
                        timeout: float = 60.0) -> ClusterConfig:
    """The cluster file as the stack sees it: for Corosync, its node list and votes (waiting
    for Corosync to answer, as it may still be starting)."""
    if cfg.stack != "corosync":
        return cfg
    from defib.cluster.corosync.conf import corosync_nodes, with_corosync_nodes
    from defib.cluster.corosync.lib import Cmap

    deadline = time.monotonic() + timeout
    while True:
        try:
            with Cmap() as cmap:
                return with_corosync_nodes(cfg, corosync_nodes(cmap), log)
        except ClusterError as exc:
            if "cmap_initialize" not in str(exc) or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.1)
