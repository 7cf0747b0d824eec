"""The web server without a cluster: HTTP parsing, routing, logins, CSRF, cross-origin
refusals, security headers, static files, error mapping; and the actions' logic on an
in-memory CIB."""

from __future__ import annotations

import asyncio
import json
import logging
import xml.etree.ElementTree as ET
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from defib.commands.env import MemoryEnv
from defib.errors import CommandError, PermissionDeniedError
from defib.web import api, server
from defib.web.api import actions
from defib.web.api.status import cli_constraints, tags, warnings
from defib.web.auth import Users
from defib.web.contract import Route, WebRequest, WebResponse
from defib.web.http import BadRequest, HttpRequest, HttpResponse, read_request
from defib.web.server import COOKIE, SECURITY_HEADERS, WebServer, compile_route, match

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` in a thread of its own: a test session that drives a browser keeps
    Playwright's event loop running in the main thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def parse(raw: bytes) -> HttpRequest | None:
    async def go() -> HttpRequest | None:
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        return await read_request(reader, "test")
    return run(go())


def test_http_request_parsing() -> None:
    req = parse(b"POST /api/x%20y?a=1&b=2 HTTP/1.1\r\nHost: h\r\nCookie: a=1; "
                b"defib_session=tok\r\nContent-Length: 9\r\n\r\n{\"k\": 1}\n")
    assert req is not None
    assert (req.method, req.path, req.query) == ("POST", "/api/x y", {"a": "1", "b": "2"})
    assert req.cookie("defib_session") == "tok" and req.cookie("zzz") is None
    assert req.json() == {"k": 1} and req.keep_alive
    assert parse(b"") is None
    for bad, status in ((b"GARBAGE\r\n\r\n", 400), (b"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400),
                        (b"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", 413),
                        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411)):
        with pytest.raises(BadRequest) as caught:
            parse(bad)
        assert caught.value.status == status
    with pytest.raises(BadRequest, match="not JSON"):
        HttpRequest("POST", "/", {}, {}, b"{").json()


def test_routes_match_with_parameters() -> None:
    def handler(request: WebRequest) -> WebResponse:
        return WebResponse(request.params)

    routes = [compile_route(Route("POST", "/api/resources/{id}/{action}", handler)),
              compile_route(Route("GET", "/api/status", handler))]
    found, params, _ = match(routes, "POST", "/api/resources/web/move")
    assert found is routes[0] and params == {"id": "web", "action": "move"}
    assert match(routes, "GET", "/api/resources/web/move")[0] is None
    assert match(routes, "GET", "/api/resources/web/move")[2] is True    # 405, not 404
    assert match(routes, "GET", "/api/resources/a/b/c") == (None, {}, False)
    assert match(routes, "GET", "/api/status.json") == (None, {}, False)


def test_api_modules_are_mounted_and_missing_ones_skipped() -> None:
    patterns = {(r.method, r.pattern) for r in api.all_routes()}
    assert ("GET", "/api/status") in patterns
    assert ("POST", "/api/resources/{id}/{action}") in patterns
    assert all(r.writes for r in actions.ROUTES)


# -- the server, requests handed to it directly ---------------------------------------------
def echo(request: WebRequest) -> WebResponse:
    return WebResponse({"user": request.user, "params": request.params, "body": request.body})


def refused(request: WebRequest) -> WebResponse:
    raise PermissionDeniedError("permission denied: viewer may not change web")


def broken(request: WebRequest) -> WebResponse:
    raise RuntimeError("secret internals")


def refused_by_command(request: WebRequest) -> WebResponse:
    raise CommandError("web is already active on node1", "web")


@pytest.fixture
def web(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WebServer:
    monkeypatch.setattr(server, "LOGIN_FAIL_DELAY_S", 0.0)
    Users.of(tmp_path).add("alice", "alice-secret")
    routes = [compile_route(r) for r in (
        Route("GET", "/api/echo/{x}", echo), Route("POST", "/api/write", echo, writes=True),
        Route("POST", "/api/refused", refused, writes=True),
        Route("GET", "/api/broken", broken), Route("POST", "/api/busy", refused_by_command,
                                                   writes=True))]
    return WebServer(tmp_path, routes=routes)


def call(web: WebServer, method: str, path: str, body: Any = None,
         headers: dict[str, str] | None = None) -> HttpResponse:
    raw = b"" if body is None else json.dumps(body).encode()
    request = HttpRequest(method, path, {}, {k.lower(): v for k, v in (headers or {}).items()},
                          raw, "127.0.0.1")
    return run(web.respond(request))


def logged_in(web: WebServer) -> tuple[dict[str, str], str]:
    response = call(web, "POST", "/api/login", {"user": "alice", "password": "alice-secret"})
    assert response.status == 200
    cookie = response.headers["Set-Cookie"]
    for flag in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/"):
        assert flag in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    csrf = json.loads(response.body)["csrf"]
    return {"Cookie": f"{COOKIE}={token}"}, csrf


def test_login_wrong_then_right(web: WebServer) -> None:
    wrong = call(web, "POST", "/api/login", {"user": "alice", "password": "nope"})
    assert wrong.status == 401 and "Set-Cookie" not in wrong.headers
    assert call(web, "POST", "/api/login", "not an object").status == 400
    cookie, csrf = logged_in(web)
    answer = call(web, "GET", "/api/session", headers=cookie)
    body = json.loads(answer.body)
    assert body["user"] == "alice" and body["csrf"] == csrf
    assert body["rights"]["admin"] is False  # no cluster to ask: nothing is offered


def test_many_failed_logins_pause_the_address(web: WebServer) -> None:
    for _ in range(server.LOGIN_FAILS):
        assert call(web, "POST", "/api/login", {"user": "alice", "password": "x"}).status == 401
    paused = call(web, "POST", "/api/login", {"user": "alice", "password": "alice-secret"})
    assert paused.status == 429 and "Set-Cookie" not in paused.headers


def test_no_session_no_api(web: WebServer) -> None:
    assert call(web, "GET", "/api/echo/1").status == 401
    assert call(web, "GET", "/api/echo/1", headers={"Cookie": f"{COOKIE}=forged"}).status == 401
    assert call(web, "GET", "/api/session").status == 401


def test_handler_gets_the_user_and_parameters(web: WebServer) -> None:
    cookie, csrf = logged_in(web)
    answer = call(web, "GET", "/api/echo/abc", headers=cookie)
    assert json.loads(answer.body) == {"user": "alice", "params": {"x": "abc"}, "body": None}
    assert call(web, "GET", "/api/nothing", headers=cookie).status == 404
    assert call(web, "DELETE", "/api/echo/abc", headers={**cookie, "X-CSRF-Token": csrf}
                ).status == 405


def test_writes_need_the_csrf_token(web: WebServer, caplog: pytest.LogCaptureFixture) -> None:
    cookie, csrf = logged_in(web)
    with caplog.at_level(logging.WARNING, "defib.web"):
        assert call(web, "POST", "/api/write", {"a": 1}, cookie).status == 403
        assert call(web, "POST", "/api/write", {"a": 1},
                    {**cookie, "X-CSRF-Token": "guess"}).status == 403
    assert "CSRF token" in caplog.text and "web user alice" in caplog.text
    ok = call(web, "POST", "/api/write", {"a": 1}, {**cookie, "X-CSRF-Token": csrf})
    assert ok.status == 200 and json.loads(ok.body)["body"] == {"a": 1}


def test_cross_origin_writes_are_refused(web: WebServer) -> None:
    cookie, csrf = logged_in(web)
    headers = {**cookie, "X-CSRF-Token": csrf, "Host": "127.0.0.1:7630"}
    assert call(web, "POST", "/api/write", {}, {**headers, "Origin": "https://evil.example"}
                ).status == 403
    assert call(web, "POST", "/api/write", {}, {**headers, "Origin": "https://127.0.0.1:7630"}
                ).status == 200


def test_errors_map_to_status_and_reports(web: WebServer,
                                          caplog: pytest.LogCaptureFixture) -> None:
    cookie, csrf = logged_in(web)
    headers = {**cookie, "X-CSRF-Token": csrf}
    with caplog.at_level(logging.WARNING, "defib.web"):
        denied = call(web, "POST", "/api/refused", {}, headers)
    assert denied.status == 403 and "permission denied" in json.loads(denied.body)["error"]
    assert "refused POST /api/refused for web user alice" in caplog.text
    busy = call(web, "POST", "/api/busy", {}, headers)
    body = json.loads(busy.body)
    assert busy.status == 400 and body["reports"][0]["message"].startswith("web is already")
    with caplog.at_level(logging.ERROR, "defib.web"):
        crash = call(web, "GET", "/api/broken", headers=cookie)
    assert crash.status == 500 and b"secret internals" not in crash.body
    assert b"Traceback" not in crash.body and "secret internals" in caplog.text


def test_logout_ends_the_session(web: WebServer) -> None:
    cookie, csrf = logged_in(web)
    assert call(web, "POST", "/api/logout", {}, cookie).status == 403  # no token
    assert call(web, "POST", "/api/logout", {}, {**cookie, "X-CSRF-Token": csrf}).status == 200
    assert call(web, "GET", "/api/echo/1", headers=cookie).status == 401


def test_static_files_and_headers(web: WebServer) -> None:
    index = call(web, "GET", "/")
    assert index.status == 200 and b"app.js" in index.body
    script = call(web, "GET", "/static/pages/status.js")
    assert script.status == 200 and script.content_type.startswith("text/javascript")
    for path in ("/static/../auth.py", "/static/%2e%2e/auth.py", "/static/nothing.js",
                 "/etc/passwd"):
        assert call(web, "GET", path).status == 404
    assert call(web, "POST", "/").status == 405
    head_only = call(web, "HEAD", "/")
    assert head_only.status == 200 and head_only.body == b""
    assert f"Content-Length: {len(index.body)}" in head_only.head({}, True).decode()
    head = index.head(dict(SECURITY_HEADERS), True).decode()
    assert "Content-Security-Policy: default-src 'self'" in head
    assert "X-Frame-Options: DENY" in head and "Strict-Transport-Security" in head


# -- the actions and the status additions, on an in-memory CIB ------------------------------
CIB = """<cib admin_epoch="0" epoch="1" num_updates="0"><configuration><crm_config>
<cluster_property_set id="o"><nvpair id="o-s" name="stonith-enabled" value="false"/>
</cluster_property_set></crm_config>
<nodes><node id="1" uname="node1"/><node id="2" uname="node2"/></nodes>
<resources>
<primitive id="web" class="ocf" provider="heartbeat" type="Dummy"/>
<primitive id="ip" class="ocf" provider="heartbeat" type="Dummy"/>
</resources>
<constraints><rsc_location id="cli-ban-ip-on-node1" rsc="ip" node="node1" score="-INFINITY"/>
</constraints>
<tags><tag id="front"><obj_ref id="web"/><obj_ref id="ip"/></tag></tags>
</configuration><status/></cib>"""


def request(env: MemoryEnv, path: str, params: dict[str, str], body: Any = None
            ) -> WebRequest:
    return WebRequest("POST", path, params, {}, body, "alice", env)


def target_roles(env: MemoryEnv) -> dict[str, str]:
    root = ET.fromstring(env.xml)
    return {p.get("id", ""): nv.get("value", "") for p in root.iter("primitive")
            for nv in p.iter("nvpair") if nv.get("name") == "target-role"}


def test_resource_action_calls_the_command() -> None:
    env = MemoryEnv(CIB, is_live=False)
    answer = actions.resource_action(request(env, "/", {"id": "web", "action": "stop"}))
    assert answer.status == 200 and answer.body["changed"] and target_roles(env) == {
        "web": "Stopped"}
    with pytest.raises(CommandError, match="no resource action 'explode'"):
        actions.resource_action(request(env, "/", {"id": "web", "action": "explode"}))
    with pytest.raises(CommandError, match="JSON object"):
        actions.resource_action(request(env, "/", {"id": "web", "action": "stop"}, [1]))


RUNNING = CIB.replace("<status/>", """<status><node_state id="1" uname="node1" in_ccm="true"
 crmd="online" join="member" expected="member"><lrm id="1"><lrm_resources>
<lrm_resource id="web" class="ocf" provider="heartbeat" type="Dummy">
<lrm_rsc_op id="web_last_0" operation_key="web_start_0" operation="start" call-id="2"
 rc-code="0" op-status="0" interval="0" transition-key="1:1:0:x" on_node="node1"/>
</lrm_resource></lrm_resources></lrm></node_state></status>""")


def test_stopping_a_running_resource_asks_first() -> None:
    env = MemoryEnv(RUNNING, is_live=False)
    asked = actions.resource_action(request(env, "/", {"id": "web", "action": "stop"}))
    assert asked.status == actions.CONFIRM_STATUS and asked.body["confirm"]
    assert "this stops running resources: web (on node1)" in asked.body["text"]
    assert target_roles(env) == {} and env.writes == []      # nothing done yet
    done = actions.resource_action(request(env, "/", {"id": "web", "action": "stop"},
                                           {"force": True}))
    assert done.status == 200 and target_roles(env) == {"web": "Stopped"}
    bulk = actions.tag_action(request(MemoryEnv(RUNNING, is_live=False), "/",
                                      {"tag": "front", "action": "stop"}))
    assert bulk.status == actions.CONFIRM_STATUS and "web (on node1)" in bulk.body["text"]


def test_fencing_asks_first() -> None:
    env = MemoryEnv(CIB, is_live=True)
    asked = actions.node_action(request(env, "/", {"name": "node2", "action": "fence"}))
    assert asked.status == actions.CONFIRM_STATUS and env.fenced == []
    done = actions.node_action(request(env, "/", {"name": "node2", "action": "fence"},
                                       {"force": True}))
    assert done.status == 200 and env.fenced == ["node2"]


def test_tag_action_acts_on_each_member() -> None:
    env = MemoryEnv(CIB, is_live=False)
    answer = actions.tag_action(request(env, "/", {"tag": "front", "action": "stop"}))
    assert answer.status == 200 and [r["id"] for r in answer.body["results"]] == ["web", "ip"]
    assert target_roles(env) == {"web": "Stopped", "ip": "Stopped"}
    with pytest.raises(CommandError, match="no bulk action 'move'"):
        actions.tag_action(request(env, "/", {"tag": "front", "action": "move"}))
    with pytest.raises(CommandError, match="no tag nope"):
        actions.tag_action(request(env, "/", {"tag": "nope", "action": "stop"}))


BUNDLE_CIB = """<cib admin_epoch="0" epoch="1" num_updates="0"><configuration><crm_config/>
<nodes><node id="1" uname="node1"/></nodes>
<resources><bundle id="web-bundle"><docker image="pcmk:http" replicas="2"/>
<primitive id="httpd" class="ocf" provider="heartbeat" type="Dummy"/></bundle></resources>
<constraints/></configuration><status>
<node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/>
</status></cib>"""


def test_bundles_show_their_replicas() -> None:
    from defib.web.api.status import snapshot

    [bundle] = snapshot(MemoryEnv(BUNDLE_CIB, is_live=False))["resources"]
    assert bundle["kind"] == "bundle" and bundle["container_type"] == "docker"
    assert [r["id"] for r in bundle["children"]] == ["web-bundle[0]", "web-bundle[1]"]
    inside = [p["id"] for p in bundle["children"][0]["children"]]
    assert inside == ["web-bundle-docker-0", "web-bundle-0", "httpd:0"]


def test_status_additions() -> None:
    root = ET.fromstring(CIB)
    assert tags(root) == {"front": ["web", "ip"]}
    assert cli_constraints(root) == [{"id": "cli-ban-ip-on-node1", "rsc": "ip",
                                      "node": "node1", "kind": "ban", "role": ""}]
    found = warnings({"quorum": {"quorate": False}, "dc": None,
                      "cib_nodes": [{"name": "node2", "unclean": True}]}, root)
    assert any("no quorum" in w for w in found) and any("no DC" in w for w in found)
    assert any("fencing is disabled" in w for w in found)
    assert any("node2 is UNCLEAN" in w for w in found)
