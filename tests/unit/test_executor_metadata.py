"""Meta-data parsing and what it decides for the digests."""

from __future__ import annotations

import asyncio

import pytest

from defib.errors import AgentError
from defib.executor import MetadataCache, parse_metadata
from defib.executor.metadata import parse_duration_ms

OCF_11 = """<?xml version="1.0"?>
<resource-agent name="Thing" version="2.0">
<version>1.1</version>
<shortdesc lang="en">a thing</shortdesc>
<parameters>
<parameter name="config" unique-group="g" required="1"><content type="string"/></parameter>
<parameter name="level" reloadable="1"><content type="integer" default="3"/></parameter>
<parameter name="password" private="1"><content type="string"/></parameter>
</parameters>
<actions>
<action name="start" timeout="40s"/><action name="stop" timeout="2min"/>
<action name="monitor" timeout="20" interval="10s" depth="0"/>
<action name="monitor" timeout="30s" interval="11s" role="Promoted"/>
<action name="reload-agent" timeout="20s"/><action name="meta-data" timeout="500ms"/>
</actions>
</resource-agent>"""


def test_parse_ocf_1_1_agent() -> None:
    meta = parse_metadata(OCF_11)
    assert meta.name == "Thing" and meta.is_ocf_1_1
    assert [p.name for p in meta.params] == ["config", "level", "password"]
    assert meta.param("config").required  # type: ignore[union-attr]
    assert meta.param("level").default == "3"  # type: ignore[union-attr]
    assert meta.default_timeout_ms("start") == 40000
    assert meta.default_timeout_ms("stop") == 120000
    assert meta.default_timeout_ms("notify") == 20000
    assert meta.action("monitor", 11000).role == "Promoted"  # type: ignore[union-attr]
    assert meta.action("meta-data").timeout_ms == 500  # type: ignore[union-attr]
    policy = meta.digest_policy
    assert policy.supports_reload_agent and not policy.supports_legacy_reload
    assert [p.name for p in policy.params if p.reloadable] == ["level"]
    assert [p.name for p in policy.params if p.private] == ["password"]


def test_reload_agent_counts_only_for_ocf_1_1() -> None:
    meta = parse_metadata(OCF_11.replace("<version>1.1</version>", "<version>1.0</version>"))
    policy = meta.digest_policy
    assert not policy.supports_reload_agent and not policy.supports_legacy_reload
    legacy = parse_metadata(OCF_11.replace("1.1</version>", "1.0</version>")
                            .replace('"reload-agent"', '"reload"'))
    assert legacy.digest_policy.supports_legacy_reload


@pytest.mark.parametrize("text", ["not xml", "<other/>"])
def test_bad_metadata_raises_agent_error(text: str) -> None:
    with pytest.raises(AgentError):
        parse_metadata(text, "ocf:x:y")


def test_durations() -> None:
    assert parse_duration_ms("20") == 20000
    assert parse_duration_ms("20s") == 20000
    assert parse_duration_ms("1.5min") == 90000
    assert parse_duration_ms("250ms") == 250
    assert parse_duration_ms("soon") is None
    assert parse_duration_ms(None) is None


def test_cache_fetches_once_even_concurrently_and_not_failures() -> None:
    calls: list[str] = []

    async def fetch(spec: str) -> str:
        calls.append(spec)
        await asyncio.sleep(0.01)
        if spec == "ocf:bad:x":
            raise AgentError("no", spec)
        return OCF_11

    async def scenario() -> None:
        cache = MetadataCache(fetch)
        a, b = await asyncio.gather(cache.get("ocf:p:Thing"), cache.get("ocf:p:Thing"))
        assert a is b and cache.cached("ocf:p:Thing") is a
        for _ in range(2):
            with pytest.raises(AgentError):
                await cache.get("ocf:bad:x")
        cache.forget("ocf:p:Thing")
        await cache.get("ocf:p:Thing")

    asyncio.run(scenario())
    assert calls == ["ocf:p:Thing", "ocf:bad:x", "ocf:bad:x", "ocf:p:Thing"]
