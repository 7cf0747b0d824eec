"""The contract between the web server and its API modules.

The server (``defib.web.server``) knows HTTP, TLS, logins, sessions, CSRF and the push of
live status; the API modules (``defib.web.api.*``) know the cluster, through the command
library only. Each API module exposes ``ROUTES: list[Route]``; a handler receives a
``WebRequest`` whose ``env`` is already opened for the logged-in user (so ACLs apply in
one place, the control socket's gate) and returns a ``WebResponse`` of JSON-able data.

Handlers are plain blocking functions (the command library is synchronous); the server
runs them off its event loop. They never print and never raise anything but ``DefibError``
subclasses, which the server maps to a status code and the error's report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from defib.commands.env import CommandEnv


@dataclass(frozen=True)
class WebRequest:
    method: str
    path: str
    params: dict[str, str]          # from the route pattern: /api/resources/{id} -> {"id": ...}
    query: dict[str, str]
    body: Any                       # the parsed JSON body, or None
    user: str                       # the logged-in cluster user
    env: CommandEnv                 # opened for ``user``


@dataclass(frozen=True)
class WebResponse:
    body: Any = None                # JSON-able
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[WebRequest], WebResponse]


@dataclass(frozen=True)
class Route:
    method: str                     # GET, POST, PUT, DELETE
    pattern: str                    # "/api/resources/{id}/move"
    handler: Handler
    writes: bool = False            # changes the cluster: needs the CSRF token
