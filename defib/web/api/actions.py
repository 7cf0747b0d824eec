"""Actions on resources, nodes and tags: each one call of ``defib.commands.*`` with the
logged-in user's environment, so that the ACL gate and the commands' own checks decide,
and their reports are what the page shows."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from defib.commands import node as node_cmd
from defib.commands import resource as rsc_cmd
from defib.commands import rsc_info
from defib.commands.danger import Danger, danger, trial
from defib.commands.env import CommandEnv
from defib.commands.result import Result
from defib.errors import CommandError, DefibError
from defib.web.contract import Route, WebRequest, WebResponse

Body = dict[str, Any]
Action = Callable[[CommandEnv, str, Body], Result]
# Every action takes, besides its own fields, "force": true once the user has confirmed
# what the first answer (status 428, "confirm": true) said is dangerous.


def _opt(body: Body, name: str) -> str | None:
    value = body.get(name)
    return str(value) if value not in (None, "") else None


def _on(body: Body) -> bool:
    return bool(body.get("on", True))


RESOURCE_ACTIONS: dict[str, Action] = {
    "start": lambda env, rsc, body: rsc_cmd.start(env, rsc),
    "stop": lambda env, rsc, body: rsc_cmd.stop(env, rsc),
    "promote": lambda env, rsc, body: rsc_cmd.promote(env, rsc),
    "demote": lambda env, rsc, body: rsc_cmd.demote(env, rsc),
    "move": lambda env, rsc, body: rsc_cmd.move(env, rsc, _opt(body, "node"),
                                                _opt(body, "lifetime"),
                                                bool(body.get("promoted"))),
    "ban": lambda env, rsc, body: rsc_cmd.ban(env, rsc, _opt(body, "node"),
                                              _opt(body, "lifetime"),
                                              bool(body.get("promoted"))),
    "clear": lambda env, rsc, body: rsc_cmd.clear(env, rsc, _opt(body, "node")),
    "cleanup": lambda env, rsc, body: rsc_cmd.cleanup(env, rsc, _opt(body, "node")),
    "refresh": lambda env, rsc, body: rsc_info.refresh(env, rsc, _opt(body, "node")),
    "manage": lambda env, rsc, body: rsc_cmd.manage(env, rsc),
    "unmanage": lambda env, rsc, body: rsc_cmd.unmanage(env, rsc),
    "maintenance": lambda env, rsc, body: rsc_cmd.maintenance(env, rsc, _on(body)),
}

NODE_ACTIONS: dict[str, Action] = {
    "standby": lambda env, node, body: node_cmd.standby(env, node, _on(body),
                                                       _opt(body, "lifetime") or "forever"),
    "online": lambda env, node, body: node_cmd.online(env, node,
                                                     _opt(body, "lifetime") or "forever"),
    "maintenance": lambda env, node, body: node_cmd.maintenance(env, node, _on(body)),
    "fence": lambda env, node, body: node_cmd.fence(env, node, bool(body.get("confirm"))),
}

# What a bulk action on a tag may do: the ones that make sense for many resources at once.
TAG_ACTIONS = ("start", "stop", "manage", "unmanage", "maintenance", "cleanup", "refresh")


# Changes of the configuration only: tried on a copy first, so that what the command line
# asks about (stopping running resources ...) is asked in the page too.
TRIED = ("start", "stop", "promote", "demote", "move", "ban", "clear", "manage", "unmanage",
         "maintenance")
CONFIRM_STATUS = 428  # Precondition Required: send again with "force": true


def _trial_dangers(env: CommandEnv, changes: list[tuple[Action, str]], body: Body
                   ) -> list[Danger]:
    def change(copy: CommandEnv) -> None:
        for action, target in changes:
            action(copy, target, body)

    return trial(env, change)[0]


def confirmation(found: list[Danger]) -> WebResponse:
    """Not done: what is dangerous about it, for the page to ask and send again."""
    return WebResponse({"ok": False, "confirm": True, "changed": False,
                        "reports": [d.to_dict() for d in found],
                        "text": "; ".join(d.message for d in found)}, CONFIRM_STATUS)


def answer(result: Result) -> WebResponse:
    body = {**result.to_dict(), "text": result.text()}
    return WebResponse(body, 200 if result.ok else 400)


def _body(request: WebRequest) -> Body:
    if request.body is None:
        return {}
    if not isinstance(request.body, dict):
        raise CommandError("the request body must be a JSON object", code="web-body")
    return request.body


def _pick(table: dict[str, Action], name: str, what: str) -> Action:
    action = table.get(name)
    if action is None:
        raise CommandError(f"no {what} action {name!r} (known: {', '.join(table)})", name,
                           code="web-action")
    return action


def resource_action(request: WebRequest) -> WebResponse:
    name, rsc, body = request.params["action"], request.params["id"], _body(request)
    action = _pick(RESOURCE_ACTIONS, name, "resource")
    if name in TRIED and not body.get("force"):
        found = _trial_dangers(request.env, [(action, rsc)], body)
        if found:
            return confirmation(found)
    return answer(action(request.env, rsc, body))


def node_action(request: WebRequest) -> WebResponse:
    name, node, body = request.params["action"], request.params["name"], _body(request)
    action = _pick(NODE_ACTIONS, name, "node")
    if name == "fence" and not body.get("force"):
        return confirmation([danger("fence", f"this fences {node}: it is powered off or "
                                    "rebooted, and everything it runs stops at once",
                                    (node,))])
    return answer(action(request.env, node, body))


def tag_members(env: CommandEnv, tag: str) -> list[str]:
    root = ET.fromstring(env.read())
    for element in root.iterfind("./configuration/tags/tag"):
        if element.get("id") == tag:
            return [ref.get("id", "") for ref in element.iter("obj_ref")]
    raise CommandError(f"no tag {tag}", tag, code="unknown-id")


def tag_action(request: WebRequest) -> WebResponse:
    """The action on every resource of the tag, each on its own: one refusal does not stop
    the others, and the answer lists each resource's outcome."""
    name = request.params["action"]
    if name not in TAG_ACTIONS:
        raise CommandError(f"no bulk action {name!r} (known: {', '.join(TAG_ACTIONS)})", name,
                           code="web-action")
    body = _body(request)
    members = tag_members(request.env, request.params["tag"])
    if name in TRIED and not body.get("force"):
        found = _trial_dangers(request.env, [(RESOURCE_ACTIONS[name], m) for m in members],
                               body)
        if found:
            return confirmation(found)
    outcomes = []
    for rsc in members:
        try:
            result = RESOURCE_ACTIONS[name](request.env, rsc, body)
            outcomes.append({"id": rsc, "ok": result.ok, "text": result.text()})
        except DefibError as exc:
            outcomes.append({"id": rsc, "ok": False, "text": str(exc), "code": exc.code})
    ok = all(o["ok"] for o in outcomes)
    text = "\n".join(f"{o['id']}: {o['text']}" for o in outcomes)
    return WebResponse({"ok": ok, "results": outcomes, "text": text}, 200 if ok else 400)


ROUTES = [
    Route("POST", "/api/resources/{id}/{action}", resource_action, writes=True),
    Route("POST", "/api/nodes/{name}/{action}", node_action, writes=True),
    Route("POST", "/api/tags/{tag}/{action}", tag_action, writes=True),
]
