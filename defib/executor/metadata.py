"""Agent meta-data: parsing, and a cache so that each agent is asked once."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from defib.cib.digest import DigestPolicy, ParamInfo
from defib.cib.timespec import parse_ms
from defib.errors import AgentError


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on", "y")


def parse_duration_ms(text: str | None) -> int | None:
    """A duration ("20s", "20", "2min", "500ms", "PT1M") in milliseconds; None when absent
    or unreadable. The one duration parser (``defib.cib.timespec``) reads it."""
    return parse_ms(text, None)


@dataclass(frozen=True)
class ParamMeta:
    name: str
    required: bool = False
    unique: bool = False
    reloadable: bool = False
    private: bool = False
    content_type: str = "string"
    default: str | None = None
    shortdesc: str = ""


@dataclass(frozen=True)
class ActionMeta:
    name: str
    timeout_ms: int | None = None
    interval_ms: int | None = None
    depth: str | None = None
    role: str | None = None


@dataclass(frozen=True)
class AgentMetadata:
    name: str
    ocf_version: str = "1.0"
    params: tuple[ParamMeta, ...] = ()
    actions: tuple[ActionMeta, ...] = ()
    shortdesc: str = ""
    raw: str = field(default="", repr=False)

    def param(self, name: str) -> ParamMeta | None:
        return next((p for p in self.params if p.name == name), None)

    def action(self, name: str, interval_ms: int | None = None) -> ActionMeta | None:
        for act in self.actions:
            if act.name == name and (interval_ms is None or (act.interval_ms or 0) == interval_ms):
                return act
        return next((a for a in self.actions if a.name == name), None)

    def default_timeout_ms(self, action: str, fallback: int = 20000) -> int:
        act = self.action(action)
        return act.timeout_ms if act is not None and act.timeout_ms else fallback

    @property
    def is_ocf_1_1(self) -> bool:
        try:
            major, minor = (int(x) for x in (self.ocf_version.split(".") + ["0"])[:2])
        except ValueError:
            return False
        return (major, minor) >= (1, 1)

    @property
    def digest_policy(self) -> DigestPolicy:
        """What decides the restart/secure digests, as Pacemaker's controller reads it."""
        names = {a.name for a in self.actions}
        reload_agent = self.is_ocf_1_1 and "reload-agent" in names
        legacy = not self.is_ocf_1_1 and "reload" in names
        return DigestPolicy(
            params=tuple(
                ParamInfo(p.name, unique=p.unique, reloadable=p.reloadable, private=p.private)
                for p in self.params
            ),
            supports_reload_agent=reload_agent,
            supports_legacy_reload=legacy,
        )


def parse_metadata(text: str, agent: str = "") -> AgentMetadata:
    """Parse an OCF (or fence agent) ``meta-data`` document."""
    try:
        root = ET.fromstring(text.strip())
    except ET.ParseError as exc:
        raise AgentError(f"meta-data of {agent or 'agent'} is not XML: {exc}", agent) from exc
    if root.tag != "resource-agent":
        raise AgentError(f"meta-data of {agent or 'agent'} has root <{root.tag}>", agent)
    version_el = root.find("version")
    ocf_version = (version_el.text or "").strip() if version_el is not None else "1.0"
    params = []
    for el in root.findall("parameters/parameter"):
        content = el.find("content")
        short = el.find("shortdesc")
        params.append(
            ParamMeta(
                name=el.get("name", ""),
                required=_true(el.get("required")),
                unique=_true(el.get("unique")),
                reloadable=_true(el.get("reloadable")),
                private=_true(el.get("private")),
                content_type=content.get("type", "string") if content is not None else "string",
                default=content.get("default") if content is not None else None,
                shortdesc=(short.text or "").strip() if short is not None else "",
            )
        )
    actions = tuple(
        ActionMeta(
            name=el.get("name", ""),
            timeout_ms=parse_duration_ms(el.get("timeout")),
            interval_ms=parse_duration_ms(el.get("interval")),
            depth=el.get("depth"),
            role=el.get("role"),
        )
        for el in root.findall("actions/action")
    )
    short = root.find("shortdesc")
    return AgentMetadata(
        name=root.get("name", agent),
        ocf_version=ocf_version or "1.0",
        params=tuple(params),
        actions=actions,
        shortdesc=(short.text or "").strip() if short is not None else "",
        raw=text,
    )


class MetadataCache:
    """Meta-data per agent spec ("ocf:heartbeat:Dummy"), fetched once even when asked
    concurrently. Owned by one executor (no module-level state)."""

    def __init__(self, fetch: Callable[[str], Awaitable[str]]) -> None:
        self._fetch = fetch
        self._done: dict[str, AgentMetadata] = {}
        self._inflight: dict[str, asyncio.Future[AgentMetadata]] = {}

    def cached(self, spec: str) -> AgentMetadata | None:
        return self._done.get(spec)

    def forget(self, spec: str | None = None) -> None:
        if spec is None:
            self._done.clear()
        else:
            self._done.pop(spec, None)

    async def get(self, spec: str) -> AgentMetadata:
        if spec in self._done:
            return self._done[spec]
        pending = self._inflight.get(spec)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[AgentMetadata] = asyncio.get_running_loop().create_future()
        self._inflight[spec] = future
        try:
            meta = parse_metadata(await self._fetch(spec), spec)
        except BaseException as exc:
            future.set_exception(exc)
            # Nobody else may be waiting; retrieve so asyncio does not warn.
            future.exception()
            raise
        finally:
            self._inflight.pop(spec, None)
        self._done[spec] = meta
        future.set_result(meta)
        return meta
