"""Do all members run with the same configuration and keys? (``defib cluster status``)

Every node answers ``cfg-ask`` (an ordered message) with fingerprints of what is on its disk
now: the cluster file (as parsed, so comments and layout do not count), defib's key, and on
the Corosync stack corosync.conf and Corosync's authkey. A fingerprint is the first 16 hex
digits of a SHA-256 (of a 64-byte random key it reveals nothing usable). The asking node
collects the answers of every member (the ``config_check`` control op).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
from pathlib import Path
from typing import Any

from defib.cluster.config import ClusterConfig, load_config, render_config
from defib.cluster.layer import Delivery
from defib.cluster.node import ClusterNode
from defib.errors import DefibError

ASK, TELL = "cfg-ask", "cfg-tell"
COROSYNC_CONF = Path("/etc/corosync/corosync.conf")
COROSYNC_KEY = Path("/etc/corosync/authkey")
TIMEOUT = 3.0


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _file(path: Path) -> str:
    try:
        return _digest(path.read_bytes())
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"


def fingerprints(cfg: ClusterConfig) -> dict[str, str]:
    out: dict[str, str] = {}
    if cfg.source is not None:
        try:
            out["cluster.toml"] = _digest(render_config(load_config(cfg.source)).encode())
        except DefibError as exc:
            out["cluster.toml"] = f"unreadable: {exc}"
    out["authkey"] = _file(cfg.key_file)
    if cfg.stack == "corosync":
        out["corosync.conf"] = _file(COROSYNC_CONF)
        out["corosync authkey"] = _file(COROSYNC_KEY)
    return out


class Agreement:
    """Serves ``cfg-ask`` on one node and the ``config_check`` op that asks all."""

    def __init__(self, node: ClusterNode) -> None:
        self.node = node
        self._ids = itertools.count(1)
        self._pending: dict[str, tuple[asyncio.Future[None], dict[str, dict[str, str]]]] = {}
        node.layer.on_deliver(self._on_deliver)
        node.register_op("config_check", self._check)

    async def _check(self, _request: dict[str, Any]) -> dict[str, Any]:
        rid = f"{self.node.node.id}:{os.getpid()}:{next(self._ids)}"
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        answers: dict[str, dict[str, str]] = {}
        self._pending[rid] = (future, answers)
        self.node.layer.send_ordered({"t": ASK, "r": rid})
        try:
            await asyncio.wait_for(future, TIMEOUT)
        except TimeoutError:
            pass
        finally:
            self._pending.pop(rid, None)
        members = [self.node.name_of(m) or str(m) for m in self.node.members]
        return {"nodes": answers, "silent": sorted(set(members) - set(answers))}

    def _on_deliver(self, d: Delivery) -> None:
        kind = d.payload.get("t")
        if kind == ASK:
            self.node.layer.send_ordered({"t": TELL, "r": d.payload.get("r"),
                                          "n": self.node.node.name,
                                          "f": fingerprints(self.node.cfg)})
        elif kind == TELL and (pending := self._pending.get(str(d.payload.get("r")))):
            future, answers = pending
            answers[str(d.payload.get("n"))] = {str(k): str(v) for k, v in
                                                dict(d.payload.get("f") or {}).items()}
            wanted = {self.node.name_of(m) for m in self.node.members}
            if wanted <= set(answers) and not future.done():
                future.set_result(None)


def differences(answers: dict[str, dict[str, str]]) -> dict[str, list[str]]:
    """Per file, the nodes whose fingerprint is not the most common one (or unreadable)."""
    out: dict[str, list[str]] = {}
    files = sorted({f for prints in answers.values() for f in prints})
    for name in files:
        values = [answers[n].get(name, "missing") for n in sorted(answers)]
        common = max(set(values), key=values.count)
        odd = [n for n in sorted(answers) if answers[n].get(name, "missing") != common
               or common.startswith(("unreadable", "missing"))]
        if odd:
            out[name] = odd
    return out
