"""Editing the configuration: agent metadata for the forms, the whole configuration as
crmsh text (validated as it is typed), and changes, which always land in the user's
sandbox first (``usersandbox``); the sandbox page previews and commits them.

Routes:
  GET    /api/agents?class=ocf|stonith|lsb     the installed agents, as full specs
  GET    /api/agents/{spec}                    one agent's metadata, required parameters first
  GET    /api/config/text?source=sandbox|live  the configuration as crmsh text, and its version
  POST   /api/config/validate {text}           located reports, nothing written anywhere
  PUT    /api/config/text {text, base}         the text replaces the sandbox's configuration
  GET    /api/config/objects                   ids by kind, nodes (for the forms' choices)
  GET    /api/config/objects/{id}              one object: its text, and a primitive's fields
  POST   /api/config/objects {kind, ...}       a form, as a crmsh statement, into the sandbox
  DELETE /api/config/objects/{id}              delete it in the sandbox
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from typing import Any

from defib.commands import ra
from defib.commands.env import CommandEnv, MemoryEnv, epoch_of
from defib.configure import commands as configure
from defib.configure.agents import LocalAgents
from defib.configure.checks import RESOURCE_META
from defib.configure.render import objects, render, render_object
from defib.errors import CibConflictError, CommandError
from defib.sandbox import ops
from defib.web.api import forms, usersandbox
from defib.web.contract import Route, WebRequest, WebResponse

_AGENTS = LocalAgents()


def _text(el: ET.Element | None, tag: str) -> str:
    found = el.find(tag) if el is not None else None
    return " ".join((found.text or "").split()) if found is not None else ""


@functools.lru_cache(maxsize=256)
def agent_metadata(spec: str) -> dict[str, Any]:
    """What the form needs from an agent's metadata: parameters (required first, then in
    the agent's order) with type, default, choices and both descriptions; actions."""
    cls, provider, typ = ra.parse_spec(spec)
    described = ra.info(spec, _AGENTS).data  # refuses an agent that is not installed
    root = _AGENTS.metadata(cls, provider, typ)
    params = []
    for index, el in enumerate(root.iterfind("parameters/parameter") if root is not None
                               else []):
        content = el.find("content")
        choices = [o.get("value", "") for o in content.iterfind("option")] \
            if content is not None else []
        params.append({
            "name": el.get("name", ""), "required": el.get("required") in ("1", "true"),
            "unique": el.get("unique") in ("1", "true"),
            "deprecated": el.find("deprecated") is not None
            or el.get("deprecated") in ("1", "true"),
            "type": content.get("type", "string") if content is not None else "string",
            "default": content.get("default") if content is not None else None,
            "choices": choices, "shortdesc": _text(el, "shortdesc"),
            "longdesc": _text(el, "longdesc"), "index": index})
    params.sort(key=lambda p: (not p["required"], p["deprecated"], p["index"]))
    return {"agent": described["agent"], "shortdesc": described["shortdesc"],
            "longdesc": _text(root, "longdesc"), "parameters": params,
            "actions": described["actions"],
            "meta": [{"name": n, "expected": k.expected, "choices": list(k.choices)}
                     for n, k in sorted(RESOURCE_META.items())]}


def list_agents(req: WebRequest) -> WebResponse:
    cls = req.query.get("class", "ocf")
    if cls == "ocf":
        specs = [f"ocf:{p}:{name}" for p in _AGENTS.providers()
                 for name in ra.listing(f"ocf:{p}", _AGENTS).data["agents"]]
    else:
        specs = [f"{cls}:{name}" for name in ra.listing(cls, _AGENTS).data["agents"]]
    return WebResponse({"class": cls, "classes": list(ra.CLASSES), "agents": specs})


def get_agent(req: WebRequest) -> WebResponse:
    return WebResponse(agent_metadata(req.params["spec"]))


# -- the configuration as text ------------------------------------------------------------

def _source_env(req: WebRequest, source: str | None = None) -> tuple[CommandEnv, str]:
    """The sandbox when the user has one (unless ``live`` is asked for), else the cluster."""
    if source != "live":
        box = usersandbox.find(req)
        if box is not None:
            return usersandbox.env_of(box), "sandbox"
    if source == "sandbox":
        box = usersandbox.ensure(req)
        return usersandbox.env_of(box), "sandbox"
    return req.env, "live"


def get_text(req: WebRequest) -> WebResponse:
    env, source = _source_env(req, req.query.get("source"))
    text, base = configure.edit_text(env)
    return WebResponse({"text": text, "base": list(base), "source": source})


def validate(req: WebRequest) -> WebResponse:
    """Parse and check ``text`` as the new whole configuration, on a copy in memory."""
    text = usersandbox.text_field(usersandbox.body_of(req), "text")
    env, source = _source_env(req, req.query.get("source"))
    copy = MemoryEnv(env.read(), is_live=False)
    result = configure.apply_edit(copy, text, epoch_of(copy.xml), _AGENTS)
    return WebResponse({"ok": result.ok, "source": source,
                        "reports": usersandbox.reports(result.problems)})


def put_text(req: WebRequest) -> WebResponse:
    """The text becomes the sandbox's configuration, or nothing changes (and why)."""
    body = usersandbox.body_of(req)
    text = usersandbox.text_field(body, "text")
    box = usersandbox.ensure(req)
    env = usersandbox.env_of(box)
    base = body.get("base")
    version = (int(base[0]), int(base[1])) if isinstance(base, list) and len(base) == 2 \
        else epoch_of(env.read())
    try:
        result = configure.apply_edit(env, text, version, _AGENTS)
    except CibConflictError:
        return WebResponse({"ok": False, "reports": [{
            "code": "cib-conflict", "severity": "error", "ids": [],
            "message": "the sandbox changed since this text was loaded: reload it and "
                       "redo the change"}]}, status=409)
    if not result.ok:
        return usersandbox.refused(result.problems)
    return WebResponse({"ok": True, "changed": result.changed,
                        "reports": usersandbox.reports(result.problems),
                        "sandbox": usersandbox.describe(box), "diff": ops.changed(box)})


# -- objects and forms ----------------------------------------------------------------------

def _configuration(env: CommandEnv) -> ET.Element:
    conf = ET.fromstring(env.read()).find("configuration")
    return conf if conf is not None else ET.Element("configuration")


def list_objects(req: WebRequest) -> WebResponse:
    env, source = _source_env(req, req.query.get("source"))
    conf = _configuration(env)
    by_kind: dict[str, list[str]] = {}
    for obj in objects(conf):
        by_kind.setdefault(obj.kind, []).append(obj.ident)
    nodes = [n.get("uname", "") for n in conf.iterfind("nodes/node")]
    tickets = sorted({t.get("ticket", "") for t in conf.iter("rsc_ticket")})
    return WebResponse({"source": source, "objects": by_kind, "nodes": nodes,
                        "tickets": tickets})


def _nvpairs(el: ET.Element, tag: str) -> dict[str, str]:
    return {nv.get("name", ""): nv.get("value", "") for s in el.findall(tag)
            for nv in s.findall("nvpair")}


def get_object(req: WebRequest) -> WebResponse:
    env, source = _source_env(req, req.query.get("source"))
    ident = req.params["id"]
    for obj in objects(_configuration(env)):
        if obj.ident != ident:
            continue
        out: dict[str, Any] = {"id": ident, "kind": obj.kind, "text": render_object(obj),
                               "source": source}
        el = obj.element
        if el.tag == "primitive":
            agent = ":".join(x for x in (el.get("class"), el.get("provider"), el.get("type"))
                             if x)
            out["form"] = {
                "kind": "primitive", "id": ident, "agent": agent,
                "params": _nvpairs(el, "instance_attributes"),
                "meta": _nvpairs(el, "meta_attributes"),
                "utilization": _nvpairs(el, "utilization"),
                "ops": [{k: v for k, v in op.attrib.items() if k != "id"}
                        for op in el.iterfind("operations/op")]}
        elif el.tag == "group":
            out["form"] = {"kind": "group", "id": ident,
                           "members": [m.get("id", "") for m in el.findall("primitive")],
                           "meta": _nvpairs(el, "meta_attributes")}
        return WebResponse(out)
    raise CommandError(f"no object {ident!r} in the {source} configuration", ident,
                       code="unknown-id")


def _exists(env: CommandEnv, ident: str) -> bool:
    return any(obj.ident == ident for obj in objects(_configuration(env)))


def post_object(req: WebRequest) -> WebResponse:
    """A form's answer: new objects as typed at crmsh's prompt (default operations from
    the agent), an existing id replaced whole (a group's new order of members)."""
    form = usersandbox.body_of(req)
    text = forms.statement(form)
    box = usersandbox.ensure(req)
    env = usersandbox.env_of(box)
    ident = str(form.get("id") or "")
    if ident and _exists(env, ident):
        result = configure.load(env, "update", text + "\n", _AGENTS)
    else:
        result = configure.apply_script(env, text + "\n", _AGENTS)
    if not result.ok:
        return usersandbox.refused(result.problems, text=text)
    return WebResponse({"ok": True, "changed": result.changed, "text": text,
                        "reports": usersandbox.reports(result.problems),
                        "sandbox": usersandbox.describe(box), "diff": ops.changed(box)})


def delete_object(req: WebRequest) -> WebResponse:
    box = usersandbox.ensure(req)
    result = configure.delete(usersandbox.env_of(box), [req.params["id"]])
    if not result.ok:
        return usersandbox.refused(result.problems)
    return WebResponse({"ok": True, "changed": result.changed,
                        "reports": usersandbox.reports(result.reports),
                        "sandbox": usersandbox.describe(box), "diff": ops.changed(box)})


def whole_text(env: CommandEnv) -> str:
    return render(_configuration(env))


ROUTES: list[Route] = [
    Route("GET", "/api/agents", list_agents),
    Route("GET", "/api/agents/{spec}", get_agent),
    Route("GET", "/api/config/text", get_text),
    Route("POST", "/api/config/validate", validate),
    Route("PUT", "/api/config/text", put_text, writes=True),
    Route("GET", "/api/config/objects", list_objects),
    Route("GET", "/api/config/objects/{id}", get_object),
    Route("POST", "/api/config/objects", post_object, writes=True),
    Route("DELETE", "/api/config/objects/{id}", delete_object, writes=True),
]
