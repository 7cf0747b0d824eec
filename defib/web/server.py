"""The web server: HTTPS, logins, sessions, CSRF, static pages, the API modules' routes and
the pushed live status.

One asyncio loop serves every connection; the command library is synchronous and talks to
the control socket, so every handler runs in a small thread pool, never on the loop. The
status is watched once (``events.StatusWatcher``) and fanned out to every open page.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
import re
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from defib.commands.env import open_env
from defib.commands.result import reports_of
from defib.errors import (
    CibConflictError,
    ClusterError,
    DefibError,
    NotConnectedError,
    PermissionDeniedError,
)
from defib.web import api
from defib.web.auth import Session, Sessions, Users, csrf_ok
from defib.web.contract import Route, WebRequest, WebResponse
from defib.web.events import StatusWatcher
from defib.web.http import BadRequest, HttpRequest, HttpResponse, read_request

log = logging.getLogger("defib.web")
STATIC = Path(__file__).parent / "static"
COOKIE = "defib_session"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self'; script-src 'self'; connect-src 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=31536000",
    "Cross-Origin-Opener-Policy": "same-origin",
}
LOGIN_FAIL_DELAY_S = 1.0
LOGIN_FAILS = 10          # failed logins from one address within LOGIN_WINDOW_S: a pause
LOGIN_WINDOW_S = 300.0
PUBLIC = ("/api/login", "/api/session")


@dataclass
class Compiled:
    route: Route
    regex: re.Pattern[str]


def compile_route(route: Route) -> Compiled:
    """``/api/resources/{id}/move`` -> a regex with a named group per ``{name}``."""
    parts = re.split(r"(\{[A-Za-z_][A-Za-z0-9_]*\})", route.pattern)
    regex = "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p)
                    for p in parts)
    return Compiled(route, re.compile(f"^{regex}$"))


def match(routes: list[Compiled], method: str, path: str
          ) -> tuple[Compiled | None, dict[str, str], bool]:
    """(the route, its parameters, whether the path exists for another method)."""
    other = False
    for compiled in routes:
        found = compiled.regex.match(path)
        if found:
            if compiled.route.method == method:
                return compiled, found.groupdict(), True
            other = True
    return None, {}, other


def error_status(exc: DefibError) -> int:
    if isinstance(exc, PermissionDeniedError):
        return 403
    if isinstance(exc, CibConflictError):
        return 409
    if isinstance(exc, NotConnectedError):
        return 503
    if isinstance(exc, ClusterError):
        return 502
    return 400  # a command refused what was asked (its reports say why)


def error_body(exc: DefibError) -> dict[str, Any]:
    return {"ok": False, "error": str(exc), "code": exc.code,
            "reports": [r.to_dict() for r in reports_of(exc)]}


@dataclass
class WebServer:
    directory: Path
    node: str | None = None
    admin_group: str = "haclient"
    sessions: Sessions = field(default_factory=Sessions)
    pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(4, thread_name_prefix="defib-web"))
    # What a page needs to come alive (login, the session, the live status) has threads of
    # its own: it never waits behind slow page requests (a simulation, a graph, a history).
    live_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(2, thread_name_prefix="defib-web-live"))
    routes: list[Compiled] = field(default_factory=list)
    watcher: StatusWatcher | None = None
    failures: dict[str, list[float]] = field(default_factory=dict)
    clients: set[asyncio.Task[None]] = field(default_factory=set)
    # (user, admin_epoch, epoch) -> rights: they change only with the configuration.
    rights_cache: dict[tuple[str, int, int], dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.users = Users.of(self.directory)
        if not self.routes:
            self.routes = [compile_route(r) for r in api.all_routes()]
        if self.watcher is None:
            self.watcher = StatusWatcher(self.directory, self.node, self.live_pool)

    # -- connections ------------------------------------------------------------------------
    async def serve(self, host: str, port: int, context: ssl.SSLContext | None
                    ) -> asyncio.Server:
        assert self.watcher is not None
        self.watcher.start()
        return await asyncio.start_server(self.accept, host, port, ssl=context,
                                          limit=64 * 1024, backlog=256)

    def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Each connection is a task of ours, not asyncio's: ``close_clients`` ends them at
        shutdown, and a cancelled one is not reported (Python 3.11's stream callback logs a
        traceback for a cancelled connection task it owns)."""
        task = asyncio.get_running_loop().create_task(self.connection(reader, writer))
        self.clients.add(task)
        task.add_done_callback(self.clients.discard)

    async def close_clients(self) -> None:
        """End every open connection (event streams never end on their own)."""
        for task in list(self.clients):
            task.cancel()
        if self.clients:
            await asyncio.wait(list(self.clients), timeout=5.0)

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                         ) -> None:
        peer = str(writer.get_extra_info("peername", ("?",))[0])
        try:
            while True:
                try:
                    request = await read_request(reader, peer)
                except BadRequest as exc:
                    await self._send(writer, HttpResponse.of_json(
                        {"ok": False, "error": str(exc)}, exc.status), False)
                    return
                if request is None:
                    return
                if request.path == "/api/events" and request.method == "GET":
                    await self.events(request, reader, writer)
                    return
                response = await self.respond(request)
                await self._send(writer, response, request.keep_alive)
                if not request.keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, TimeoutError):
            return  # the browser went away; nothing to tell anybody
        except asyncio.CancelledError:
            return  # the server stops (close_clients): the connection simply ends
        except Exception:  # a bug: logged in full, this connection ends, the server goes on
            log.exception("a connection from %s failed", peer)
        finally:
            writer.close()

    async def _send(self, writer: asyncio.StreamWriter, response: HttpResponse,
                    keep_alive: bool) -> None:
        extra = dict(SECURITY_HEADERS)
        extra.setdefault("Cache-Control", "no-store")
        writer.write(response.head(extra, keep_alive) + response.body)
        await writer.drain()

    # -- dispatch ---------------------------------------------------------------------------
    async def respond(self, request: HttpRequest) -> HttpResponse:
        try:
            if not request.path.startswith("/api/"):
                return self.static(request)
            if request.method not in ("GET", "HEAD") and not self._same_origin(request):
                log.warning("refused %s %s from %s: cross-origin request", request.method,
                            request.path, request.peer)
                return HttpResponse.of_json({"ok": False, "error": "cross-origin request"},
                                            403)
            if request.path == "/api/login" and request.method == "POST":
                return await self.login(request)
            session = self.sessions.get(request.cookie(COOKIE))
            if request.path == "/api/session" and request.method == "GET":
                return await self.session_info(session)
            if session is None:
                return HttpResponse.of_json({"ok": False, "error": "not logged in"}, 401)
            if request.path == "/api/logout" and request.method == "POST":
                return self.logout(session, request)
            return await self.call(request, session)
        except BadRequest as exc:
            return HttpResponse.of_json({"ok": False, "error": str(exc)}, exc.status)

    def _same_origin(self, request: HttpRequest) -> bool:
        """A browser names the page a writing request comes from: it must be ours."""
        origin = request.headers.get("origin")
        if origin is None:
            return True  # non-browser clients; the CSRF token still guards writes
        host = request.headers.get("host", "")
        return origin.split("://", 1)[-1] == host

    async def call(self, request: HttpRequest, session: Session) -> HttpResponse:
        compiled, params, exists = match(self.routes, request.method, request.path)
        if compiled is None:
            status = 405 if exists else 404
            return HttpResponse.of_json({"ok": False, "error": f"no {request.method} "
                                         f"{request.path}"}, status)
        route = compiled.route
        if (route.writes or request.method != "GET") and not csrf_ok(
                session, request.headers.get("x-csrf-token")):
            log.warning("refused %s %s for web user %s: missing or wrong CSRF token",
                        request.method, request.path, session.user)
            return HttpResponse.of_json({"ok": False, "error": "missing or wrong CSRF token"
                                         " (reload the page)"}, 403)
        env = open_env(directory=self.directory, node=self.node, user=session.user)
        web_request = WebRequest(request.method, request.path, params, request.query,
                                 request.json(), session.user, env)
        loop = asyncio.get_running_loop()
        try:
            result: WebResponse = await loop.run_in_executor(self.pool, route.handler,
                                                             web_request)
        except DefibError as exc:
            status = error_status(exc)
            if status == 403:
                log.warning("refused %s %s for web user %s: %s", request.method,
                            request.path, session.user, exc)
            return HttpResponse.of_json(error_body(exc), status)
        except Exception:  # a bug: logged in full, the user gets no traceback
            log.exception("%s %s for web user %s failed", request.method, request.path,
                          session.user)
            return HttpResponse.of_json({"ok": False, "error": "internal error (see the "
                                         "server's log)"}, 500)
        if route.writes:
            log.info("%s %s by web user %s: %s", request.method, request.path, session.user,
                     result.status)
        return HttpResponse.of_json(result.body, result.status, result.headers)

    # -- login ------------------------------------------------------------------------------
    async def login(self, request: HttpRequest) -> HttpResponse:
        body = request.json()
        if not isinstance(body, dict):
            raise BadRequest("expected {user, password}")
        user, password = str(body.get("user", "")), str(body.get("password", ""))
        loop = asyncio.get_running_loop()
        now = loop.time()
        recent = [t for t in self.failures.get(request.peer, []) if now - t < LOGIN_WINDOW_S]
        self.failures[request.peer] = recent
        if len(recent) >= LOGIN_FAILS:
            log.warning("refused web login for %r from %s: %d failures in %.0f s", user,
                        request.peer, len(recent), LOGIN_WINDOW_S)
            return HttpResponse.of_json({"ok": False, "error": "too many failed logins from "
                                         "this address: wait a few minutes"}, 429)
        ok = await loop.run_in_executor(self.live_pool, self.users.verify, user, password)
        if not ok:
            recent.append(now)
            log.warning("failed web login for %r from %s", user, request.peer)
            await asyncio.sleep(LOGIN_FAIL_DELAY_S)  # slows guessing
            return HttpResponse.of_json({"ok": False, "error": "wrong user name or password"},
                                        401)
        session = self.sessions.create(user)
        log.info("web user %s logged in from %s", user, request.peer)
        response = await self.session_info(session)
        response.headers["Set-Cookie"] = (f"{COOKIE}={session.token}; Path=/; Secure; "
                                          "HttpOnly; SameSite=Strict")
        return response

    async def session_info(self, session: Session | None) -> HttpResponse:
        if session is None:
            return HttpResponse.of_json({"ok": False, "error": "not logged in"}, 401)
        loop = asyncio.get_running_loop()
        may = await loop.run_in_executor(self.live_pool, self.rights_of, session.user)
        return HttpResponse.of_json({"ok": True, "user": session.user, "csrf": session.csrf,
                                     "rights": may})

    def rights_of(self, user: str) -> dict[str, Any]:
        """What the page may offer ``user`` (in the thread pool: it may read the CIB). An
        administrator's need no CIB; others' are kept per configuration epoch, asked for
        with the cheap membership request, so that logins and reloads do not parse the
        whole CIB each time."""
        import xml.etree.ElementTree as ET

        from defib.acl.identity import identity_by_name
        from defib.commands.connection import Connection
        from defib.web.rights import admin_rights, rights

        if identity_by_name(user).is_admin(self.admin_group):
            return admin_rights()
        try:
            version = Connection(self.directory, self.node, timeout=5.0).status()[
                "cib"]["version"]
            key = (user, int(version[0]), int(version[1]))
        except (DefibError, KeyError, IndexError, TypeError, ValueError):
            key = None
        if key is not None and key in self.rights_cache:
            return self.rights_cache[key]
        try:
            root = ET.fromstring(open_env(directory=self.directory, node=self.node).read())
        except DefibError:
            return {"admin": False, "read": False, "write": {}}
        may = rights(root, user, self.admin_group)
        if key is not None:
            # Keyed by the epoch read before the CIB: a change in between only makes the
            # next login compute again. Old epochs are of no further use.
            self.rights_cache = {k: v for k, v in self.rights_cache.items()
                                 if k[1:] == key[1:]}
            self.rights_cache[key] = may
        return may

    def may_read_status(self, user: str) -> bool:
        """The pushed status is one document for everybody: only for users the gate lets
        read the resource status (its ``crm_status`` rule), asked once per stream."""
        from defib.commands.connection import Connection

        try:
            Connection(self.directory, self.node, timeout=5.0, user=user).request("crm_status")
        except PermissionDeniedError:
            return False
        except DefibError:
            pass  # a cluster down or without a controller: the page shows that, no secrets
        return True

    def logout(self, session: Session, request: HttpRequest) -> HttpResponse:
        if not csrf_ok(session, request.headers.get("x-csrf-token")):
            return HttpResponse.of_json({"ok": False, "error": "missing CSRF token"}, 403)
        self.sessions.end(session.token)
        return HttpResponse.of_json({"ok": True}, headers={
            "Set-Cookie": f"{COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"})

    # -- static files -----------------------------------------------------------------------
    def static(self, request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return HttpResponse.of_json({"ok": False, "error": "not allowed"}, 405)
        path = "index.html" if request.path in ("/", "/index.html") else \
            request.path.removeprefix("/static/")
        if path == request.path:
            return HttpResponse(404, b"not found", "text/plain")
        root = STATIC.resolve()
        target = (root / path).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            return HttpResponse(404, b"not found", "text/plain")
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if target.suffix == ".js":
            kind = "text/javascript"
        response = HttpResponse(200, target.read_bytes(), f"{kind}; charset=utf-8"
                                if kind.startswith("text/") else kind)
        if request.method == "HEAD":
            response.headers["Content-Length"] = str(len(response.body))
            response.body = b""
        return response

    # -- live status ------------------------------------------------------------------------
    async def events(self, request: HttpRequest, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        session = self.sessions.get(request.cookie(COOKIE))
        if session is None:
            await self._send(writer, HttpResponse.of_json(
                {"ok": False, "error": "not logged in"}, 401), False)
            return
        assert self.watcher is not None
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(self.live_pool, self.may_read_status, session.user):
            log.warning("refused the live status to web user %s: the ACLs do not let it read"
                        " the status", session.user)
            await self._send(writer, HttpResponse.of_json(
                {"ok": False, "error": "permission denied: the status is not readable"}, 403),
                False)
            return
        head = ("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                "Cache-Control: no-store\r\nConnection: keep-alive\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in SECURITY_HEADERS.items()) + "\r\n")
        # A dropped stream is opened again by the browser after ``retry`` ms (default 3 s).
        writer.write(head.encode() + b"retry: 1000\n\n")
        await writer.drain()
        # The browser sends nothing more on this connection: the end of what it sends is the
        # page going away, noticed at once rather than at the next write (up to a keepalive).
        pushing = asyncio.ensure_future(self._push(session.token, writer))
        gone = asyncio.ensure_future(reader.read(1))
        try:
            await asyncio.wait((pushing, gone), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pushing, gone):
                task.cancel()
            await asyncio.gather(pushing, gone, return_exceptions=True)
        failed = pushing.exception() if pushing.done() and not pushing.cancelled() else None
        if failed is not None:
            raise failed  # a connection error: connection() ends it quietly

    async def _push(self, token: str, writer: asyncio.StreamWriter) -> None:
        assert self.watcher is not None
        # aclosing: a page that went away stops counting as a subscriber at once.
        async with contextlib.aclosing(self.watcher.subscribe()) as stream:
            async for data in stream:
                if not self.sessions.alive(token):
                    writer.write(b"event: logout\ndata: {}\n\n")
                    await writer.drain()
                    return
                writer.write(data)
                await writer.drain()
