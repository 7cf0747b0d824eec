"""The web server's connections over a real socket (no TLS, no cluster): an event stream
whose page goes away, and a server stopping with streams open, end without a traceback;
a user's rights are computed once per configuration epoch."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from defib.commands.connection import Connection
from defib.commands.env import MemoryEnv
from defib.web import events, server
from defib.web.auth import Users
from defib.web.server import COOKIE, WebServer
from tests.unit.test_web_events import FakeWatcher
from tests.unit.test_web_server import run
from tests.waiting import until

ACL_CIB = """<cib admin_epoch="0" epoch="{epoch}" num_updates="0"><configuration>
<crm_config><cluster_property_set id="o"><nvpair id="o-acl" name="enable-acl" value="true"/>
</cluster_property_set></crm_config><nodes/><resources/><constraints/>
<acls><acl_role id="viewer"><acl_permission id="r" kind="read" xpath="/cib"/></acl_role>
<acl_target id="{user}"><role id="viewer"/></acl_target></acls>
</configuration><status/></cib>"""


async def open_stream(web: WebServer, port: int) -> tuple[asyncio.StreamReader,
                                                          asyncio.StreamWriter]:
    token = web.sessions.create("alice").token
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /api/events HTTP/1.1\r\nHost: x\r\nCookie: {COOKIE}={token}\r\n\r\n"
                 .encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    assert head.startswith(b"HTTP/1.1 200") and b"text/event-stream" in head
    retry = await asyncio.wait_for(reader.readuntil(b"\n\n"), 30)
    assert retry == b"retry: 1000\n\n"  # a dropped stream comes back within a second
    first = await asyncio.wait_for(reader.readuntil(b"\n\n"), 30)
    assert first.startswith(b"event: status")
    return reader, writer


async def streams_then_stop(web: WebServer) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    listening = await web.serve("127.0.0.1", 0, None)
    port = listening.sockets[0].getsockname()[1]
    watcher = web.watcher
    assert isinstance(watcher, FakeWatcher)
    # A page that goes away: its stream ends at once (no event, no keepalive needed to
    # notice), nothing logged.
    _, gone = await open_stream(web, port)
    await until(lambda: watcher.subscribers == 1)
    gone.close()
    await until(lambda: watcher.subscribers == 0 and not web.clients, "the stream gone",
                timeout=events.KEEPALIVE_S / 3)
    # Streams still open when the server stops: ended by the server, nothing logged.
    pages = [await open_stream(web, port) for _ in range(2)]  # kept: open connections
    await until(lambda: watcher.subscribers == 2)
    listening.close()
    await web.close_clients()
    ends = [await asyncio.wait_for(reader.read(), 10) for reader, _ in pages]
    await watcher.stop()
    return {"errors": errors, "clients": len(web.clients), "subscribers": watcher.subscribers,
            "ends": ends}


def test_streams_end_without_a_traceback(tmp_path: Path,
                                         caplog: pytest.LogCaptureFixture) -> None:
    Users.of(tmp_path).add("alice", "alice-secret")
    web = WebServer(tmp_path, watcher=FakeWatcher())
    web.may_read_status = lambda user: True  # type: ignore[method-assign]
    with caplog.at_level(logging.DEBUG):
        result = run(streams_then_stop(web))
    assert result["errors"] == [], result["errors"]
    assert (result["clients"], result["subscribers"]) == (0, 0)
    assert all(end == b"" for end in result["ends"])  # closed by the server, no garbage
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def test_rights_are_computed_once_per_configuration_epoch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = "defib-no-such-user"  # not a system user: not an administrator
    epoch = {"now": 5}
    reads: list[int] = []

    def status(self: Connection) -> dict[str, Any]:
        return {"cib": {"version": [0, epoch["now"], 7]}}

    def open_env(**_: Any) -> MemoryEnv:
        reads.append(epoch["now"])
        return MemoryEnv(xml=ACL_CIB.format(epoch=epoch["now"], user=user))

    monkeypatch.setattr(Connection, "status", status)
    monkeypatch.setattr(server, "open_env", open_env)
    web = WebServer(tmp_path, watcher=FakeWatcher())
    first = web.rights_of(user)
    assert first["read"] and not first["admin"] and not any(first["write"].values())
    assert web.rights_of(user) == first and reads == [5]     # the same epoch: no CIB read
    epoch["now"] = 6
    assert web.rights_of(user) == first and reads == [5, 6]  # a new epoch: read again
    assert list(web.rights_cache) == [(user, 0, 6)]          # older epochs forgotten
