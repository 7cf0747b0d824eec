"""Client of a node's control socket (``<state dir>/<node>/control.sock``), for CLI commands."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from defib.errors import (
    CibConflictError,
    ClusterError,
    NotConnectedError,
    PermissionDeniedError,
    UnsupportedOpError,
)

# The error kinds a daemon names in its answer that clients tell apart by type.
_KINDS: dict[str, type[ClusterError]] = {
    CibConflictError.__name__: CibConflictError,
    UnsupportedOpError.__name__: UnsupportedOpError,
    "PermissionDenied": PermissionDeniedError,
}

SOCKET_NAME = "control.sock"


class ControlClient:
    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        self.path = path
        self.timeout = timeout

    @classmethod
    def for_node(cls, cluster_dir: Path, node: str, timeout: float = 10.0) -> ControlClient:
        return cls(cluster_dir / node / SOCKET_NAME, timeout)

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self.path))
        except OSError as exc:
            sock.close()
            raise NotConnectedError(f"no daemon answers at {self.path}: {exc}",
                                    str(self.path)) from exc
        return sock

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        with self._connect() as sock:
            try:
                sock.sendall(json.dumps({"op": op, **fields}).encode() + b"\n")
                line = sock.makefile("rb").readline()
            except TimeoutError as exc:
                raise ClusterError(f"{self.path}: no answer to {op} within {self.timeout}s",
                                   str(self.path)) from exc
            except OSError as exc:  # the daemon went away mid-request (reset, broken pipe)
                raise NotConnectedError(f"{self.path}: connection lost during {op}: {exc}",
                                        str(self.path)) from exc
        if not line:
            raise NotConnectedError(f"{self.path}: connection closed", str(self.path))
        answer = json.loads(line)
        if not answer.get("ok"):
            error = _KINDS.get(str(answer.get("kind")), ClusterError)
            raise error(f"{op}: {answer.get('error')}", str(self.path))
        return dict(answer)

    def status(self) -> dict[str, Any]:
        return self.request("status")

    def stats(self) -> dict[str, Any]:
        return dict(self.request("stats")["stats"])

    def get_cib(self) -> dict[str, Any]:
        return self.request("get_cib")

    def change(self, change: dict[str, Any], base: tuple[int, int] | None = None
               ) -> dict[str, Any]:
        """Commit ``change``; with ``base`` (admin_epoch, epoch of the CIB the change was
        made from) the DC refuses it with ``CibConflictError`` if the configuration changed
        since, instead of overwriting what another writer did."""
        if base is not None:
            change = {**change, "base": list(base)}
        return self.request("cib_change", change=change)

    def replace_cib(self, xml: str, base: tuple[int, int] | None = None) -> dict[str, Any]:
        return self.change({"op": "replace", "xml": xml}, base)

    def replace_section(self, section: str, xml: str, base: tuple[int, int] | None = None
                        ) -> dict[str, Any]:
        return self.change({"op": "replace_section", "section": section, "xml": xml}, base)

    def patch_status(self, xml: str) -> dict[str, Any]:
        return self.change({"op": "patch_status", "xml": xml})

    def shutdown(self) -> dict[str, Any]:
        return self.request("shutdown")

    def events(self, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """Stream events (the first one is the current status); ``timeout`` per event."""
        sock = self._connect()
        sock.settimeout(timeout)
        try:
            sock.sendall(b'{"op": "subscribe"}\n')
            for line in sock.makefile("rb"):
                yield json.loads(line)
        finally:
            sock.close()
