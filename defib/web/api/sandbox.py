"""The preview of every change: the user's sandbox, what it changes, what the cluster would
do with it (before and after, summary and graph picture), what-if events, commit or discard.

Routes:
  GET    /api/sandbox                      the sandbox: version, diff, whether it is stale
  POST   /api/sandbox                      copy the cluster again (a fresh sandbox)
  DELETE /api/sandbox                      discard it
  POST   /api/sandbox/simulate {events}    before/after: transition summary, graph (SVG)
  POST   /api/sandbox/commit {confirm}     apply it, only if the cluster did not change since

A preview judges the change on the cluster as it is now: "before" is the scheduler on the
live CIB, "after" the same CIB with the sandbox's configuration, both after the same what-if
events (crm_simulate's: node up/down/fail, injected and failing operations, tickets), so the
difference between the two is the change's. A sandbox replaying a saved scheduler input
(``history`` page) is simulated on its own status instead.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from defib.commands.danger import dangers
from defib.errors import CibConflictError, CommandError
from defib.graph.svg import graph_to_svg
from defib.sandbox import ops, store
from defib.sandbox.diff import statements, three_way
from defib.sandbox.store import Sandbox
from defib.simulate.engine import align_summary
from defib.simulate.whatif import Injections, run_what_if
from defib.web.api import usersandbox
from defib.web.contract import Route, WebRequest, WebResponse

# The what-if events a preview takes, by their crm_simulate option's name.
EVENT_LISTS = ("node_up", "node_down", "node_fail", "op_inject", "op_fail", "ticket_grant",
               "ticket_revoke", "ticket_standby", "ticket_activate")
REPLAY = "replay"


def _three_way(box: Sandbox, live_xml: str) -> dict[str, Any] | None:
    """Why a commit would be refused: the cluster's configuration moved since the copy."""
    if store.version_of(live_xml)[:2] == box.base_version[:2]:
        return None
    diff = three_way(box.read_base(), box.read(), live_xml)
    return {"text": diff.text(box.name),
            **{k: [f"{kind} {ident}" for kind, ident in getattr(diff, k)]
               for k in ("ours", "theirs", "both", "conflicts")}}


def changes(box: Sandbox) -> list[dict[str, Any]]:
    """What the sandbox changes, object by object (crmsh statements before and after):
    easier to read than a line diff when objects look alike."""
    before, after = statements(box.read_base()), statements(box.read())
    out = []
    for key in dict.fromkeys([*before, *after]):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        change = "added" if old is None else "removed" if new is None else "changed"
        out.append({"kind": key[0], "id": key[1], "change": change, "before": old,
                    "after": new})
    return out


def _state(req: WebRequest, box: Sandbox) -> dict[str, Any]:
    out: dict[str, Any] = {"exists": True, "sandbox": usersandbox.describe(box),
                           "replay": box.source.kind == REPLAY, "diff": ops.changed(box),
                           "changes": changes(box), "stale": None}
    if box.source.kind != REPLAY:
        out["stale"] = _three_way(box, req.env.read())
    return out


def get_sandbox(req: WebRequest) -> WebResponse:
    box = usersandbox.find(req)
    if box is None:
        return WebResponse({"exists": False,
                            "name": usersandbox.sandbox_name(req.user, req.env)})
    return WebResponse(_state(req, box))


def new_sandbox(req: WebRequest) -> WebResponse:
    return WebResponse(_state(req, usersandbox.fresh(req)))


def delete_sandbox(req: WebRequest) -> WebResponse:
    box = usersandbox.find(req)
    if box is not None:
        store.delete(box.name)
    return WebResponse({"ok": True, "deleted": box is not None})


# -- preview ---------------------------------------------------------------------------

def injections_of(events: Any) -> Injections:
    if events in (None, ""):
        return Injections()
    if not isinstance(events, dict):
        raise CommandError("events must be an object such as {\"node_fail\": [\"node2\"]}",
                           code="bad-request")
    out = Injections()
    for key, values in events.items():
        if key in EVENT_LISTS:
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise CommandError(f"{key}: give a list of names", key, code="bad-request")
            getattr(out, key).extend(v.strip() for v in values if v.strip())
        elif key in ("quorum", "watchdog"):
            if values not in (None, "", "0", "1"):
                raise CommandError(f"{key} is 0 or 1", key, code="bad-request")
            setattr(out, key, values or None)
        else:
            raise CommandError(f"unknown event {key!r} (events: {', '.join(EVENT_LISTS)}, "
                               "quorum, watchdog)", key, code="bad-request")
    return out


def preview(xml: str, injections: Injections, req: WebRequest, title: str) -> dict[str, Any]:
    """One side of the preview: what the scheduler decides, its simulated execution, the
    graph. Pure on ``xml`` (the scheduler does no I/O); timed by the environment's clock."""
    clock = req.env.now()
    result = run_what_if(xml, injections, None, clock, int(clock.timestamp()))
    sim = result.simulation
    order = [a.id for a in sim.executed] or None
    summary = [line.strip() for line in align_summary(sim.transition.summary) if line.strip()]
    return {"summary": summary, "output": "\n".join(result.lines), "errors": result.errors,
            "actions": len(sim.graph.synapses),
            "svg": graph_to_svg(sim.graph, order, title=title)}


def simulate(req: WebRequest) -> WebResponse:
    body = usersandbox.body_of(req)
    injections = injections_of(body.get("events"))
    box = usersandbox.ensure(req)
    if box.source.kind == REPLAY:
        before_xml, after_xml = box.read_base(), box.read()
    else:
        live = req.env.read()
        before_xml = req.env.scheduler_input(live) if req.env.live else live
        after_xml = ops.with_configuration(before_xml, box.read())
    return WebResponse({
        "sandbox": usersandbox.describe(box), "diff": ops.changed(box),
        "before": preview(before_xml, injections, req, "Before: the cluster as it is"),
        "after": preview(after_xml, injections, req, f"After: with sandbox {box.name}")})


# -- commit ----------------------------------------------------------------------------

def commit(req: WebRequest) -> WebResponse:
    body = usersandbox.body_of(req)
    box = usersandbox.ensure(req)
    if box.source.kind == REPLAY:
        raise CommandError("this sandbox replays a saved scheduler input: copy the cluster "
                           "again (New copy) to make a change to commit", box.name,
                           code="replay-sandbox")
    plan = ops.plan_commit(box, req.env)
    if plan.stale is not None:
        epoch = ET.fromstring(plan.live_xml).get("epoch")
        return WebResponse({"ok": False, "conflict": True, "stale": _three_way(box, plan.live_xml),
                            "reports": [{
                                "code": "cib-conflict", "severity": "error", "ids": [],
                                "message": f"the cluster's configuration changed since the "
                                           f"sandbox was copied (epoch {plan.base[1]} -> "
                                           f"{epoch}); nothing committed. Copy again and redo "
                                           "the change."}]}, status=409)
    if not plan.changes:
        return WebResponse({"ok": True, "changed": False, "reports": [{
            "code": "nothing-to-commit", "severity": "info", "ids": [],
            "message": "the sandbox changes nothing: nothing to commit"}]})
    found = dangers(plan.live_xml, plan.after_xml, live=req.env.live)
    if found and not body.get("confirm"):
        return WebResponse({"ok": False, "needs_confirmation": True, "changes": plan.changes,
                            "reports": usersandbox.reports(found)}, status=409)
    try:
        after = ops.commit(plan, req.env)
    except CibConflictError:
        return WebResponse({"ok": False, "conflict": True, "reports": [{
            "code": "cib-conflict", "severity": "error", "ids": [],
            "message": "the cluster changed while committing; nothing committed"}]},
            status=409)
    return WebResponse({"ok": True, "changed": True, "changes": plan.changes,
                        "epoch": after.base_version[1],
                        "sandbox": usersandbox.describe(after)})


ROUTES: list[Route] = [
    Route("GET", "/api/sandbox", get_sandbox),
    Route("POST", "/api/sandbox", new_sandbox, writes=True),
    Route("DELETE", "/api/sandbox", delete_sandbox, writes=True),
    Route("POST", "/api/sandbox/simulate", simulate),
    Route("POST", "/api/sandbox/commit", commit, writes=True),
]
