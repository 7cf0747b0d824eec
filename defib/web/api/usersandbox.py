"""Each web user's own sandbox: where every change made in the browser lands first.

Nothing the editing pages change reaches the cluster directly: forms and the configuration
text write into the user's sandbox (``web-USER``, a ``defib.sandbox`` like any other, so
``defib sandbox diff web-alice`` shows it on the command line too), the sandbox page
previews it, and only its commit writes to the cluster, through the user's own environment
(so the cluster's ACLs judge the commit, and it is refused if the cluster changed since the
copy was taken).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from defib.commands.env import CommandEnv, FileEnv, LiveEnv
from defib.commands.report import Report
from defib.sandbox import ops, store
from defib.sandbox.store import Sandbox, Source
from defib.web.contract import WebRequest, WebResponse

PREFIX = "web-"


def sandbox_name(user: str, env: CommandEnv) -> str:
    """A valid sandbox name for ``user`` of the cluster ``env`` reaches (letters, digits,
    '.', '_', '-'): ``web-USER-XXXXXX``, the suffix naming the cluster, so that the web
    servers of two clusters on one machine never share a user's sandbox."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", user)[:50] or "user"
    where = hashlib.sha256(source_of(env).where.encode()).hexdigest()[:6]
    return f"{PREFIX}{cleaned}-{where}"


def source_of(env: CommandEnv) -> Source:
    """What the sandbox was copied from (only described: commits go through ``env``)."""
    if isinstance(env, LiveEnv):
        return Source("live", str(env.directory))
    if isinstance(env, FileEnv):
        return Source("file", str(Path(env.path).resolve()))
    return Source("memory", "(in memory)")


def find_by_user(user: str, env: CommandEnv) -> Sandbox | None:
    name = sandbox_name(user, env)
    return store.load(name) if name in store.names() else None


def find(req: WebRequest) -> Sandbox | None:
    return find_by_user(req.user, req.env)


def fresh(req: WebRequest) -> Sandbox:
    """A new copy of the cluster as the user sees it (replacing an older one)."""
    return store.create(sandbox_name(req.user, req.env), ops.copy_source(req.env),
                        source_of(req.env), replace=True)


def ensure(req: WebRequest) -> Sandbox:
    """The user's sandbox, copied from the cluster when there is none yet."""
    return find(req) or fresh(req)


def env_of(box: Sandbox) -> FileEnv:
    return FileEnv(box.path)


def describe(box: Sandbox) -> dict[str, Any]:
    admin_epoch, epoch, updates = box.base_version
    source = box.source.describe() if box.source.kind in ("live", "file") \
        else f"{box.source.kind} {box.source.where}"
    return {"name": box.name, "created": box.created, "source": source,
            "kind": box.source.kind, "version": f"{admin_epoch}.{epoch}.{updates}"}


def reports(items: tuple[Report, ...] | list[Report]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in items]


def refused(items: tuple[Report, ...] | list[Report], status: int = 422,
            **extra: Any) -> WebResponse:
    """A change that was not made, with every reason (located where there is a place)."""
    return WebResponse({"ok": False, "reports": reports(items), **extra}, status=status)


def body_of(req: WebRequest) -> dict[str, Any]:
    from defib.errors import CommandError

    if req.body is None:
        return {}
    if not isinstance(req.body, dict):
        raise CommandError("the request body must be a JSON object", code="bad-request")
    return req.body


def text_field(body: dict[str, Any], name: str, default: str | None = None) -> str:
    from defib.errors import CommandError

    value = body.get(name, default)
    if not isinstance(value, str):
        raise CommandError(f"{name!r} must be given as text", name, code="bad-request")
    return value
