"""``ra``: the resource and fence agents installed here, and what their metadata says
(crm ra classes / list / info, crm_resource --list-agents / --show-metadata)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from defib.commands.cibtree import did_you_mean
from defib.commands.result import Result, shown
from defib.configure.agents import LocalAgents
from defib.errors import CommandError

CLASSES = ("ocf", "lsb", "service", "systemd", "stonith")


def parse_spec(spec: str) -> tuple[str, str | None, str]:
    """``ocf:heartbeat:IPaddr2``, ``stonith:fence_xvm``, ``lsb:ssh`` or a bare OCF
    heartbeat name (``IPaddr2``) as crmsh takes it."""
    parts = spec.split(":")
    if len(parts) == 3 and parts[0] == "ocf":
        return "ocf", parts[1], parts[2]
    if len(parts) == 2 and parts[0] in CLASSES:
        return parts[0], None, parts[1]
    if len(parts) == 1 and parts[0]:
        return "ocf", "heartbeat", parts[0]
    raise CommandError(f"invalid agent {spec!r}: give class:provider:type (ocf:heartbeat:"
                       "IPaddr2) or class:type (stonith:fence_xvm, lsb:ssh)", spec,
                       code="invalid-agent")


def classes(agents: LocalAgents | None = None) -> Result:
    agents = agents or LocalAgents()
    providers = agents.providers()
    lines = [f"ocf / {' '.join(providers)}", "lsb", "service", "systemd", "stonith"]
    return shown(lines, {"classes": list(CLASSES), "ocf_providers": providers})


def listing(what: str = "ocf", agents: LocalAgents | None = None) -> Result:
    """The agents of a class (``ocf``, ``ocf:heartbeat``, ``stonith``, ``lsb``)."""
    agents = agents or LocalAgents()
    cls, _, provider = what.partition(":")
    if cls not in CLASSES:
        raise CommandError(f"unknown agent class {cls!r}" + did_you_mean(cls, list(CLASSES)),
                           cls, code="unknown-class")
    if cls == "ocf" and provider and provider not in agents.providers():
        raise CommandError(f"no OCF provider {provider!r} installed (providers: "
                           f"{', '.join(agents.providers())})"
                           + did_you_mean(provider, agents.providers()), provider,
                           code="unknown-provider")
    names = agents.candidates(cls, provider or None)
    return shown(names or [f"no {what} agents installed"], {"class": cls,
                                                           "provider": provider or None,
                                                           "agents": names})


def info(spec: str, agents: LocalAgents | None = None) -> Result:
    """An agent's description, parameters (required, default) and actions."""
    agents = agents or LocalAgents()
    cls, provider, typ = parse_spec(spec)
    full = ":".join(x for x in (cls, provider, typ) if x)
    if not agents.exists(cls, provider, typ):
        raise CommandError(f"agent {full} is not installed"
                           + did_you_mean(typ, agents.candidates(cls, provider)), full,
                           code="unknown-agent")
    root = agents.metadata(cls, provider, typ)
    if root is None:
        raise CommandError(f"agent {full} gives no readable metadata", full,
                           code="no-metadata")
    return _describe(full, root)


def _text(el: ET.Element | None, tag: str) -> str:
    found = el.find(tag) if el is not None else None
    return " ".join((found.text or "").split()) if found is not None else ""


def _describe(full: str, root: ET.Element) -> Result:
    params: list[dict[str, Any]] = []
    for el in root.iterfind("parameters/parameter"):
        content = el.find("content")
        params.append({"name": el.get("name", ""),
                       "required": el.get("required") in ("1", "true"),
                       "unique": el.get("unique") in ("1", "true"),
                       "type": content.get("type", "string") if content is not None
                       else "string",
                       "default": content.get("default") if content is not None else None,
                       "shortdesc": _text(el, "shortdesc")})
    actions = [{k: v for k, v in a.attrib.items()} for a in root.iterfind("actions/action")]
    lines = [f"{_text(root, 'shortdesc') or full} ({full})", ""]
    longdesc = _text(root, "longdesc")
    if longdesc:
        lines += [longdesc, ""]
    lines.append("Parameters (*: required, []: default):")
    for p in params:
        mark = "*" if p["required"] else ""
        default = f" [{p['default']}]" if p["default"] not in (None, "") else ""
        lines.append(f"  {p['name']}{mark} ({p['type']}{default}): {p['shortdesc']}")
    lines += ["", "Operations' defaults:"]
    for a in actions:
        extra = " ".join(f"{k}={v}" for k, v in a.items() if k not in ("name",))
        lines.append(f"  {a.get('name', '')}\t{extra}")
    return shown(lines, {"agent": full, "shortdesc": _text(root, "shortdesc"),
                         "parameters": params, "actions": actions})
