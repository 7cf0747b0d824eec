"""`defib daemon`: run one node until SIGTERM/SIGINT or a shutdown request."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from defib.cluster.agreement import Agreement
from defib.cluster.auth import load_key
from defib.cluster.client import SOCKET_NAME
from defib.cluster.config import load_config
from defib.cluster.control import ControlServer
from defib.cluster.node import ClusterNode
from defib.cluster.private import DAEMON_UMASK
from defib.cluster.stack import resolve_nodes
from defib.errors import ClusterError, DefibError


def _setup_logging(name: str, node_id: int, level: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(
        f"%(asctime)s {name}(id {node_id}) pid {os.getpid()} %(levelname)s %(name)s: %(message)s"
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def _raise_priority(nice: int, log: logging.Logger) -> None:
    # Heartbeats must keep flowing while other processes saturate the CPUs.
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    except OSError as exc:
        log.warning("could not set nice %d: %s (running at normal priority)", nice, exc)


Attach = Callable[[ClusterNode], Awaitable[None]]


async def serve(config: Path, node_name: str, attach: Attach | None = None) -> int:
    """Run a node until asked to stop. ``attach`` (e.g. the controller) is awaited once the
    node has joined, with the ``ClusterNode`` it can subscribe to and register ops on."""
    log = logging.getLogger("defib.daemon")
    from defib.executor.process import wait_children_on_loop

    wait_children_on_loop()
    cfg = await resolve_nodes(load_config(config), log)
    node_cfg = cfg.node_by_name(node_name)
    key = load_key(cfg.key_file)
    node = ClusterNode.over_network(cfg, node_cfg, key)
    Agreement(node)  # `defib cluster status`: do all members have the same files?
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    await node.start()
    _debug_ops(node)
    if attach is not None:
        await attach(node)
    if cfg.acl_users:
        # Others may find the socket by name, not list or read anything: files stay 0600.
        node.state_dir.chmod(0o711)
    control = ControlServer(node, node.state_dir / SOCKET_NAME, done.set,
                            mode=0o666 if cfg.acl_users else 0o600,
                            admin_group=cfg.admin_group)
    await control.start()
    log.info("node %s (id %d) running, control socket %s", node_cfg.name, node_cfg.id,
             control.path)
    web = await _start_web(cfg.web_port, config.resolve().parent, node_cfg.name,
                           node_cfg.addresses[0][0], log)
    await done.wait()
    log.info("shutting down")
    if web is not None:
        await web.stop()
    await control.stop()
    await node.stop()
    return 0


def _debug_ops(node: ClusterNode) -> None:
    """Test faults on the control socket, only with DEFIB_DEBUG_OPS=1: ``debug_clock_offset``
    shifts the wall clock the messaging layer stamps and checks (lab fault ``clock_off``);
    ``debug_disk_full`` makes every CIB write fail with ENOSPC (or not)."""
    from defib.cluster.heartbeat import HeartbeatLayer

    if os.environ.get("DEFIB_DEBUG_OPS") != "1":
        return
    store = node.store
    if store is not None:
        async def disk_full(request: dict[str, Any]) -> dict[str, Any]:
            store.fault_full = bool(request.get("full", True))
            logging.getLogger("defib.daemon").warning("TEST FAULT: CIB writes %s",
                                                      "fail" if store.fault_full else "work")
            return {"full": store.fault_full}

        node.register_op("debug_disk_full", disk_full)
    layer = node.layer
    if not isinstance(layer, HeartbeatLayer):
        return

    async def clock_offset(request: dict[str, Any]) -> dict[str, Any]:
        seconds = float(request.get("seconds", 0.0))
        if not math.isfinite(seconds):
            raise ClusterError(f"clock offset {seconds} is not finite")
        layer.wall.shift = seconds
        logging.getLogger("defib.daemon").warning("TEST FAULT: wall clock shifted by %+.1f s",
                                                  seconds)
        return {"shift": seconds}

    node.register_op("debug_clock_offset", clock_offset)


async def _start_web(port: int, directory: Path, node: str, host: str,
                     log: logging.Logger) -> Any:
    """The web interface on this node's first address (cluster file: ``web_port``); a
    failure to serve it is logged, never a reason for the node not to run."""
    if not port:
        return None
    import importlib

    try:
        # The web stack (and cryptography) takes a second or two to import on a busy
        # machine: not on the loop that answers heartbeats and the control socket.
        run = await asyncio.to_thread(importlib.import_module, "defib.web.run")
        return await run.start(run.Options(directory, node, host, port), log.info)
    except (OSError, DefibError) as exc:
        log.error("web interface not served on %s:%d: %s", host, port, exc)
        return None


def run_daemon(config: Path, node_name: str, level: int = logging.INFO,
               attach: Attach | None = None) -> int:
    # Whatever the daemon writes (CIB, scheduler inputs, controller state) is private from
    # its creation; agents get the usual umask back (defib.executor.process).
    os.umask(DAEMON_UMASK)
    cfg = load_config(config)
    node_cfg = cfg.node_by_name(node_name)
    _setup_logging(node_cfg.name, node_cfg.id, level)
    _raise_priority(cfg.timing.nice, logging.getLogger("defib.daemon"))
    return asyncio.run(serve(config, node_name, attach))
