"""The node's control endpoint: a unix socket speaking one JSON object per line.

Requests ``{"op": ...}``; answers ``{"ok": true, ...}`` or ``{"ok": false, "error": ...}``.
``subscribe`` keeps the connection and streams one event per line.

The socket is 0600 from its creation (bound under umask 0177) inside the 0700 state
directory, and every request is checked against the caller's kernel peer credentials by
``defib.acl.gate``: root, the daemon's own user and members of the admin group (``haclient``)
may do everything, others what the CIB's ACL roles grant; refusals are logged with the user.
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

from defib.acl.gate import Gate, refusal
from defib.acl.identity import ADMIN_GROUP, peer_identity
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
        self.gate = Gate(lambda: node.cib.copy, admin_group, self.log)
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
                if request.get("op") == "subscribe":
                    if self.gate.is_admin(caller):
                        await self._stream(writer)
                        return
                    self.log.warning("refused 'subscribe' for %s: needs admin rights",
                                     caller.describe())
                    await _send(writer, refusal("'subscribe' needs admin rights"))
                    continue
                if request.get("op") == "cib_change" and isinstance(request.get("change"), dict):
                    # Who made a change, and when, is written into the CIB (as Pacemaker's
                    # update-user and cib-last-written): the history names them.
                    request["change"] = {**request["change"], "user": caller.user,
                                         "when": int(time.time())}
                try:
                    answer = await self.gate.serve(caller, request, self._answer)
                except DefibError as exc:
                    answer = {"ok": False, "error": str(exc), "kind": type(exc).__name__}
                await _send(writer, answer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # The daemon is exiting. Ending quietly matters: a cancelled connection task
            # makes Python 3.11's stream callback log a traceback for it.
            pass
        finally:
            writer.close()

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
        # The kind lets a client tell "not offered here" from a failure without the text.
        return {"ok": False, "error": f"unknown op {op!r}", "kind": "UnsupportedOpError"}

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
