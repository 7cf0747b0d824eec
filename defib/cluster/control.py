"""The node's control endpoint: a unix socket speaking one JSON object per line.

Requests ``{"op": ...}``; answers ``{"ok": true, ...}`` or ``{"ok": false, "error": ...}``.
``subscribe`` keeps the connection and streams one event per line.

The socket is 0600 from its creation (bound under umask 0177) inside the 0700 state
directory, and every connection is checked with the kernel's peer credentials: root, the
daemon's own user and members of the admin group (``haclient``) are served; anybody else is
refused, and the refusal is logged with the user's name.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from defib.acl.identity import ADMIN_GROUP, Identity, peer_identity
from defib.cluster.node import ClusterNode
from defib.cluster.private import FILE_MODE, bind_unix
from defib.errors import ClusterError, DefibError

MAX_LINE = 64 << 20
MAX_SOCKET_PATH = 107


class ControlServer:
    def __init__(self, node: ClusterNode, path: Path, on_shutdown: Callable[[], None],
                 *, mode: int = FILE_MODE, admin_group: str = ADMIN_GROUP) -> None:
        self.node = node
        self.path = path
        self.on_shutdown = on_shutdown
        self.mode = mode
        self.admin_group = admin_group
        self.log = logging.LoggerAdapter(logging.getLogger("defib.control"),
                                         {"node": node.node.name})
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        if len(str(self.path)) > MAX_SOCKET_PATH:
            raise ClusterError(f"control socket path {self.path} is longer than"
                               f" {MAX_SOCKET_PATH} bytes (AF_UNIX limit); use a shorter state_dir",
                               str(self.path))
        sock = bind_unix(self.path, self.mode)
        self._server = await asyncio.start_unix_server(self._serve, sock=sock, limit=MAX_LINE)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self.path.unlink(missing_ok=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            caller = peer_identity(writer.get_extra_info("socket"))
        except OSError as exc:
            self.log.warning("control connection without peer credentials refused: %s", exc)
            writer.close()
            return
        try:
            while line := await reader.readline():
                try:
                    request = json.loads(line)
                    if not isinstance(request, dict):
                        raise ValueError("request is not an object")
                except ValueError as exc:
                    await _send(writer, {"ok": False, "error": f"bad request: {exc}"})
                    continue
                refusal = self._refusal(caller, request)
                if refusal is not None:
                    await _send(writer, refusal)
                    continue
                if request.get("op") == "subscribe":
                    await self._stream(writer)
                    return
                await _send(writer, await self._answer(request))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def _refusal(self, caller: Identity, request: dict[str, Any]) -> dict[str, Any] | None:
        if caller.is_admin(self.admin_group):
            return None
        op = request.get("op")
        self.log.warning("refused %r for %s: not root, not the daemon's user, not in group %s",
                         op, caller.describe(), self.admin_group)
        return {"ok": False, "kind": "PermissionDenied",
                "error": f"permission denied: {caller.user} may not use this node's control"
                         f" socket (root and members of group {self.admin_group} may)"}

    async def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        node = self.node
        try:
            if op == "status":
                return {"ok": True, **node.status()}
            if op == "stats":
                return {"ok": True, "stats": node.layer.stats()}
            if op == "get_cib":
                return {"ok": True, **node.get_cib()}
            if op == "cib_change":
                change = request.get("change")
                if not isinstance(change, dict):
                    return {"ok": False, "error": "cib_change needs a 'change' object"}
                return {"ok": True, **await node.change(change)}
            if op == "shutdown":
                asyncio.get_running_loop().call_soon(self.on_shutdown)
                return {"ok": True}
            if op == "debug_stall" and os.environ.get("DEFIB_DEBUG_OPS") == "1":
                # Test hook: block the event loop, as a long synchronous computation would.
                time.sleep(min(float(request.get("seconds", 1.0)), 30.0))
                return {"ok": True}
            if isinstance(op, str) and op in node.ops:
                return {"ok": True, **await node.ops[op](request)}
        except DefibError as exc:
            return {"ok": False, "error": str(exc), "kind": type(exc).__name__}
        return {"ok": False, "error": f"unknown op {op!r}"}

    async def _stream(self, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=10000)

        def put(event: dict[str, Any]) -> None:
            if not queue.full():
                queue.put_nowait(event)

        unsubscribe = self.node.subscribe(put)
        try:
            await _send(writer, {"ok": True, "event": "subscribed", **self.node.status()})
            while True:
                await _send(writer, await queue.get())
        finally:
            unsubscribe()


async def _send(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    writer.write(json.dumps(message).encode() + b"\n")
    await writer.drain()
