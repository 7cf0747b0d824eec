"""The history explorer and ``explain``: the timeline of events and transitions, one
transition opened (its replay, graph, configuration diff, log lines, and why), a saved
scheduler input replayed in the user's sandbox, and why any resource runs where it runs.

Routes:
  GET  /api/history?since=&until=&rsc=&node=&kind=&limit=   events, oldest first
  GET  /api/history/transitions/{n}                          one transition, explained
  POST /api/history/transitions/{n}/replay                   pe-input-N into the sandbox
  GET  /api/explain/{rsc}?node=                              why it runs there, or not

On a running cluster the history is the DC's (each node records its own; the scheduler
inputs are kept by whichever node was DC then, so they are looked for on every node).
Other environments name their history with a ``history_source`` attribute (a copied
database and its pengine directory).
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from defib.commands.env import CommandEnv, LiveEnv
from defib.errors import CommandError, DefibError
from defib.history.store import HistoryEvent, HistoryStore
from defib.web.api import usersandbox
from defib.web.contract import Route, WebRequest, WebResponse

KINDS = ("operation", "fencing", "config", "transition", "membership", "node", "quorum", "dc")
DEFAULT_LIMIT = 2000


class HistorySource(Protocol):
    def events(self, query: dict[str, Any]) -> list[HistoryEvent]: ...

    def pe_input(self, number: int) -> tuple[str | None, str | None, str | None]:
        """pe-input-N and pe-input-(N-1) as text (None: not kept), and the node that has
        them."""
        ...


@dataclass
class StoreHistory:
    """A history database and the scheduler inputs beside it (a node's state directory,
    or a report's copy of one)."""

    db: Path
    pengine: Path

    def events(self, query: dict[str, Any]) -> list[HistoryEvent]:
        store = HistoryStore.open_readonly(self.db)
        try:
            return store.query(**{k: v for k, v in query.items() if k != "at"})
        finally:
            store.close()

    def pe_input(self, number: int) -> tuple[str | None, str | None, str | None]:
        def text(n: int) -> str | None:
            path = self.pengine / f"pe-input-{n}.xml"
            return path.read_text(encoding="utf-8") if path.is_file() else None

        return text(number), text(number - 1), None


@dataclass
class LiveHistory:
    env: LiveEnv

    def _dc(self) -> str:
        status = self.env.request("status")
        dc = status.get("dc")
        return str(dc["name"]) if dc else str(status["node"]["name"])

    def _ask(self, node: str, op: str, fields: dict[str, Any]) -> dict[str, Any]:
        """``op`` on ``node`` for the web user (the query has a ``node`` field of its own,
        so not through ``Connection.request_node``)."""
        from defib.cluster.client import ControlClient

        if self.env.user:
            fields = {**fields, "as_user": self.env.user}
        client = ControlClient.for_node(self.env.directory, node, self.env.timeout)
        return client.request(op, **fields)

    def events(self, query: dict[str, Any]) -> list[HistoryEvent]:
        query = dict(query)
        at = query.pop("at", None) or self._dc()
        answer = self._ask(str(at), "history", query)
        return [HistoryEvent(**e) for e in answer.get("events", [])]

    def pe_input(self, number: int) -> tuple[str | None, str | None, str | None]:
        first = self._dc()
        names = [first, *(n for n in self.env.connection.nodes() if n != first)]
        for name in names:
            try:
                answer = self._ask(name, "history_pe_input", {"number": number})
            except DefibError:
                continue  # a node that is down: the others may have it
            if answer.get("xml"):
                return str(answer["xml"]), answer.get("previous"), name
        return None, None, None


def source_for(env: CommandEnv) -> HistorySource:
    if isinstance(env, LiveEnv):
        return LiveHistory(env)
    named = getattr(env, "history_source", None)
    if named is not None:
        return named  # type: ignore[no-any-return]
    raise CommandError("no history here: the history is recorded by a running cluster's "
                       "nodes", code="no-history")


# -- the timeline ----------------------------------------------------------------------

def _when(text: str | None, now: float) -> float | None:
    """Seconds since the epoch, or a duration back from now (``12h``, ``30min``)."""
    if text in (None, ""):
        return None
    assert text is not None
    try:
        return float(text)
    except ValueError:
        pass
    from defib.cib.timespec import parse_ms

    ago = parse_ms(text, None)
    if ago is None:
        raise CommandError(f"cannot read time {text!r}: seconds since the epoch, or a "
                           "duration ago such as 12h", text, code="bad-request")
    return now - ago / 1000


def members(env: CommandEnv, name: str) -> list[str]:
    """``name`` and what a group, clone or bundle of that name holds."""
    from defib.commands.cibtree import with_members

    return with_members(ET.fromstring(env.read()), name)


def timeline(req: WebRequest) -> WebResponse:
    q = req.query
    now = req.env.now().timestamp()
    kinds = [k for k in (q.get("kind") or "").split(",") if k]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise CommandError(f"unknown kind {unknown[0]!r} (kinds: {', '.join(KINDS)})",
                           unknown[0], code="bad-request")
    query: dict[str, Any] = {
        "rsc": members(req.env, q["rsc"]) if q.get("rsc") else None,
        "node": q.get("node") or None, "since": _when(q.get("since"), now),
        "until": _when(q.get("until"), now), "kinds": kinds or None,
        "limit": int(q.get("limit") or DEFAULT_LIMIT)}
    events = source_for(req.env).events(query)
    transitions = sorted({e.transition for e in events
                          if e.kind == "transition" and e.transition is not None})
    return WebResponse({"events": [e.as_dict() for e in events], "transitions": transitions,
                        "now": now})


# -- one transition ----------------------------------------------------------------------

def _config_diff(previous: str | None, xml: str, number: int) -> str:
    from defib.sandbox.diff import two_way

    if previous is None:
        return ""
    return two_way(previous, xml, f"pe-input-{number - 1}", f"pe-input-{number}")


def transition(req: WebRequest) -> WebResponse:
    from defib.cib.parse import parse_cib
    from defib.graph.svg import graph_to_svg
    from defib.history.replay import explain_transition
    from defib.simulate.engine import execution_date, simulate

    number = _number(req)
    source = source_for(req.env)
    xml, previous, node = source.pe_input(number)
    if xml is None:
        raise CommandError(f"no node has pe-input-{number}.xml (saved by the DC of the time; "
                           "pruned beyond pe-input-series-max)", str(number),
                           code="no-pe-input")
    events = source.events({"transition": number, **({"at": node} if node else {})})
    cib = parse_cib(xml)
    sim = simulate(cib, execution_date(cib), execute=False)
    return WebResponse({
        "number": number, "node": node,
        "explanation": explain_transition(number, xml, previous, events),
        "summary": [s.strip() for s in sim.transition.summary if s.strip()],
        "svg": graph_to_svg(sim.graph, title=f"Transition {number} (pe-input-{number})"),
        "diff": _config_diff(previous, xml, number),
        "events": [e.as_dict() for e in events]})


def _number(req: WebRequest) -> int:
    text = req.params.get("n", "")
    if not text.isdigit():
        raise CommandError(f"a transition is a number, not {text!r}", text, code="bad-request")
    return int(text)


def replay(req: WebRequest) -> WebResponse:
    """The saved input becomes the user's sandbox: change it and simulate what the
    scheduler would have done then."""
    from defib.sandbox import store
    from defib.sandbox.store import Source

    number = _number(req)
    xml, _, node = source_for(req.env).pe_input(number)
    if xml is None:
        raise CommandError(f"no node has pe-input-{number}.xml", str(number),
                           code="no-pe-input")
    where = f"pe-input-{number}" + (f" of {node}" if node else "")
    box = store.create(usersandbox.sandbox_name(req.user, req.env), xml,
                       Source("replay", where), replace=True)
    return WebResponse({"ok": True, "sandbox": usersandbox.describe(box)})


# -- explain -------------------------------------------------------------------------------

def _fence_failures(env: CommandEnv) -> dict[str, str]:
    if not isinstance(env, LiveEnv):
        return {}
    try:
        answer = env.connection.request_dc("crm_status")
    except DefibError:
        return {}
    return {str(k): str(v) for k, v in (answer.get("fence_failures") or {}).items() if v}


def explain_resource(req: WebRequest) -> WebResponse:
    from defib.cib.parse import parse_cib
    from defib.explain import explain, trace_schedule
    from defib.explain.scores import score_table
    from defib.simulate.engine import execution_date

    env = req.env
    xml = env.read()
    cib = parse_cib(env.scheduler_input(xml) if env.live else xml)
    now = (None if env.live else execution_date(cib)) or \
        env.now().astimezone(dt.UTC).replace(tzinfo=None)
    trace = trace_schedule(cib, now)
    trace.fence_failures = _fence_failures(env)
    rsc = req.params["rsc"]
    answers = explain(trace, rsc, req.query.get("node") or None)
    return WebResponse({"resource": rsc, "answers": [a.as_dict() for a in answers],
                        "text": "\n\n".join(a.text() for a in answers),
                        "scores": score_table(trace, rsc)})


ROUTES: list[Route] = [
    Route("GET", "/api/history", timeline),
    Route("GET", "/api/history/transitions/{n}", transition),
    Route("POST", "/api/history/transitions/{n}/replay", replay, writes=True),
    Route("GET", "/api/explain/{rsc}", explain_resource),
]
