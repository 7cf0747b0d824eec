"""The constraint graph (LCMC's best idea): resources and cluster nodes as vertices;
order, colocation, location and ticket constraints, and containment (a group's members, a
clone's child), as edges labelled with their scores. The browser lays it out and draws it.

Route: GET /api/graph?source=live|sandbox

Sets are drawn as what they mean: within a sequential set each member leads to the next;
between two sets every member of the first leads to every member of the second.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from defib.commands.danger import running
from defib.web.api import usersandbox
from defib.web.contract import Route, WebRequest, WebResponse

_RESOURCES = ("primitive", "group", "clone", "master", "bundle", "template")
_KIND = {"master": "promotable"}


@dataclass
class Graph:
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: list[dict[str, Any]] = field(default_factory=list)

    def vertex(self, ident: str, kind: str, **extra: Any) -> None:
        self.nodes.setdefault(ident, {"id": ident, "kind": kind, **extra})

    def edge(self, kind: str, source: str, target: str, label: str, constraint: str) -> None:
        if source == target:
            return
        self.edges.append({"id": f"{constraint}:{len(self.edges)}", "kind": kind,
                           "from": source, "to": target, "label": label,
                           "constraint": constraint})

    def as_dict(self) -> dict[str, Any]:
        return {"nodes": list(self.nodes.values()), "edges": self.edges}


def _agent(el: ET.Element) -> str | None:
    if el.tag not in ("primitive", "template"):
        return None
    return ":".join(x for x in (el.get("class"), el.get("provider"), el.get("type")) if x)


def _resources(graph: Graph, parent: ET.Element, owner: str | None,
               active: dict[str, list[str]]) -> None:
    for el in parent:
        if el.tag not in _RESOURCES:
            continue
        ident = el.get("id", "")
        graph.vertex(ident, _KIND.get(el.tag, el.tag), parent=owner, agent=_agent(el),
                     running=sorted(set(active.get(ident, []))))
        if owner is not None:
            graph.edge("member", owner, ident, "", owner)
        _resources(graph, el, ident, active)


def _sets(el: ET.Element) -> list[tuple[list[str], bool]]:
    return [([r.get("id", "") for r in s.findall("resource_ref")],
             s.get("sequential", "true").lower() not in ("false", "no", "0", "off"))
            for s in el.findall("resource_set")]


def _chain(graph: Graph, kind: str, sets: list[tuple[list[str], bool]], label: str,
           ident: str) -> None:
    for members, sequential in sets:
        if sequential:
            for a, b in zip(members, members[1:], strict=False):
                graph.edge(kind, a, b, label, ident)
    for (first, _), (then, _) in zip(sets, sets[1:], strict=False):
        for a in first:
            for b in then:
                graph.edge(kind, a, b, label, ident)


def _score(el: ET.Element, default: str) -> str:
    return el.get("score") or el.get("kind") or default


def _constraint(graph: Graph, el: ET.Element) -> None:
    ident = el.get("id", "")
    if el.tag == "rsc_order":
        label = _score(el, "Mandatory")
        if el.get("first"):
            first = f"{el.get('first')} {el.get('first-action', 'start')}"
            then = f"{el.get('then')} {el.get('then-action', 'start')}"
            graph.edge("order", el.get("first", ""), el.get("then", ""),
                       f"{label}: {first} → {then}", ident)
        _chain(graph, "order", _sets(el), label, ident)
    elif el.tag == "rsc_colocation":
        label = el.get("score", "")
        if el.get("rsc"):
            # Drawn from the dependent to the resource it is placed with.
            graph.edge("colocation", el.get("rsc", ""), el.get("with-rsc", ""), label, ident)
        _chain(graph, "colocation", _sets(el), label, ident)
    elif el.tag == "rsc_location":
        _location(graph, el, ident)
    elif el.tag == "rsc_ticket":
        ticket = f"ticket {el.get('ticket', '')}"
        graph.vertex(ticket, "ticket")
        targets = [el.get("rsc", "")] if el.get("rsc") else \
            [r for members, _ in _sets(el) for r in members]
        for rsc in targets:
            graph.edge("ticket", ticket, rsc, el.get("loss-policy", ""), ident)


def _location(graph: Graph, el: ET.Element, ident: str) -> None:
    targets = [el.get("rsc", "")] if el.get("rsc") else \
        [r for members, _ in _sets(el) for r in members]
    if el.get("node"):
        node = el.get("node", "")
        graph.vertex(node, "node")
        for rsc in targets:
            graph.edge("location", rsc, node, el.get("score", ""), ident)
        return
    for rule in el.findall("rule"):
        # A rule is its own vertex: it may choose any node, by their attributes.
        vertex = f"rule {rule.get('id', ident)}"
        graph.vertex(vertex, "rule", text=_rule_text(rule))
        for rsc in targets:
            graph.edge("location", rsc, vertex, rule.get("score") or
                       rule.get("score-attribute") or "", ident)


def _rule_text(rule: ET.Element) -> str:
    from defib.configure.render import rule as render_rule

    return render_rule(rule, rule.get("id", ""))


def build(xml: str) -> Graph:
    root = ET.fromstring(xml)
    graph = Graph()
    for node in root.iterfind("configuration/nodes/node"):
        graph.vertex(node.get("uname", ""), "node")
    resources = root.find("configuration/resources")
    active = running(xml) if root.find("status") is not None else {}
    if resources is not None:
        _resources(graph, resources, None, active)
    constraints = root.find("configuration/constraints")
    for el in constraints if constraints is not None else []:
        _constraint(graph, el)
    # A constraint may name something that is not (or no longer) configured: still draw it.
    for edge in graph.edges:
        for end in (edge["from"], edge["to"]):
            graph.vertex(end, "missing")
    return graph


def get_graph(req: WebRequest) -> WebResponse:
    source = req.query.get("source") or "live"
    box = usersandbox.find(req) if source == "sandbox" else None
    xml = box.read() if box is not None else req.env.read()
    out = build(xml).as_dict()
    out["source"] = "sandbox" if box is not None else "live"
    return WebResponse(out)


ROUTES: list[Route] = [Route("GET", "/api/graph", get_graph)]
