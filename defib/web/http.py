"""A small HTTP/1.1 layer on asyncio streams: what the web server needs and no more
(requests with a Content-Length body, keep-alive, fixed responses, one event stream).
Limits are tight on purpose: the interface sends small JSON documents only."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

MAX_LINE = 8192
MAX_HEADERS = 100
MAX_BODY = 2 * 1024 * 1024


class BadRequest(Exception):
    """The client sent something that is not a request we accept (answered 400/413)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class HttpRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]        # lower-case names
    body: bytes = b""
    peer: str = ""

    def cookie(self, name: str) -> str | None:
        for part in self.headers.get("cookie", "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == name:
                return value
        return None

    def json(self) -> Any:
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise BadRequest(f"the body is not JSON: {exc}") from exc

    @property
    def keep_alive(self) -> bool:
        return self.headers.get("connection", "").lower() != "close"


@dataclass
class HttpResponse:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None
                ) -> HttpResponse:
        return cls(status, json.dumps(data).encode(), "application/json; charset=utf-8",
                   dict(headers or {}))

    def head(self, extra: dict[str, str], keep_alive: bool) -> bytes:
        reason = HTTPStatus(self.status).phrase if self.status in HTTPStatus._value2member_map_ \
            else "Status"
        fields = {"Content-Type": self.content_type, "Content-Length": str(len(self.body)),
                  "Connection": "keep-alive" if keep_alive else "close", **extra,
                  **self.headers}  # a HEAD answer names the length of what GET would send
        lines = [f"HTTP/1.1 {self.status} {reason}", *(f"{k}: {v}" for k, v in fields.items())]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _line(reader: asyncio.StreamReader) -> str:
    try:
        raw = await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError as exc:
        raise BadRequest("header line too long", 431) from exc
    if len(raw) > MAX_LINE:
        raise BadRequest("header line too long", 431)
    return raw.decode("latin-1").rstrip("\r\n")


async def read_request(reader: asyncio.StreamReader, peer: str) -> HttpRequest | None:
    """The next request on a connection; None when the client closed it between requests."""
    try:
        first = await _line(reader)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    if not first:
        return None
    parts = first.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest("malformed request line")
    method, target, _version = parts
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS + 1):
        line = await _line(reader)
        if not line:
            break
        name, sep, value = line.partition(":")
        if not sep:
            raise BadRequest("malformed header")
        headers[name.strip().lower()] = value.strip()
    else:
        raise BadRequest("too many headers", 431)
    if "transfer-encoding" in headers:
        raise BadRequest("chunked request bodies are not accepted", 411)
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError as exc:
        raise BadRequest("bad Content-Length") from exc
    if length < 0 or length > MAX_BODY:
        raise BadRequest("request body too large", 413)
    body = await reader.readexactly(length) if length else b""
    url = urlsplit(target)
    return HttpRequest(method.upper(), unquote(url.path), dict(parse_qsl(url.query)), headers,
                       body, peer)
