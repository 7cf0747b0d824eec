"""The constraint graph's data: resources, nodes, tickets and rules as vertices; order,
colocation, location, ticket and containment as edges with their scores."""

from __future__ import annotations

from pathlib import Path

import pytest

from defib.configure import commands as configure
from defib.web.api import edit, graph
from tests.unit.webapi_support import call, memory_env

SITE = """\
primitive a ocf:heartbeat:Dummy
primitive b ocf:heartbeat:Dummy
primitive c ocf:heartbeat:Dummy
primitive d ocf:heartbeat:Dummy
group g b c
clone cl d
order a-then-g Mandatory: a g
colocation g-with-a 500: g a
location a-prefers-node2 a 100: node2
location a-rule a rule -inf: #uname eq node1
order sets Optional: ( a b ) cl
rsc_ticket need-tk tk: cl loss-policy=stop
"""


@pytest.fixture(autouse=True)
def sandboxes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFIB_SANDBOX_DIR", str(tmp_path / "sandboxes"))


def _edges(data: dict[str, list[dict[str, str]]], kind: str) -> set[tuple[str, str, str]]:
    return {(e["from"], e["to"], e["label"]) for e in data["edges"] if e["kind"] == kind}


def test_graph_of_constraints_with_scores_and_sets() -> None:
    env = memory_env()
    result = configure.apply_script(env, SITE, configure.default_agents())
    assert result.ok, result.reports
    data = call(graph.ROUTES, "GET", "/api/graph", env).body
    kinds = {n["id"]: n["kind"] for n in data["nodes"]}
    assert kinds["g"] == "group" and kinds["cl"] == "clone" and kinds["node2"] == "node"
    assert kinds["ticket tk"] == "ticket"
    assert kinds["rule a-rule-rule"] == "rule"
    running = {n["id"]: n.get("running") for n in data["nodes"]}
    assert running["web"] == ["node1"] and running["a"] == []
    assert _edges(data, "member") == {("g", "b", ""), ("g", "c", ""), ("cl", "d", "")}
    assert ("a", "g", "Mandatory: a start → g start") in _edges(data, "order")
    # The set ( a b ) comes before cl: each of a and b leads to cl; inside, unordered.
    assert {("a", "cl", "Optional"), ("b", "cl", "Optional")} <= _edges(data, "order")
    assert ("a", "b", "Optional") not in _edges(data, "order")
    assert _edges(data, "colocation") == {("g", "a", "500")}
    assert _edges(data, "location") == {("a", "node2", "100"),
                                        ("a", "rule a-rule-rule", "-INFINITY")}
    assert _edges(data, "ticket") == {("ticket tk", "cl", "stop")}
    assert data["source"] == "live"


def test_sandbox_graph_shows_the_change_and_missing_references_are_drawn() -> None:
    env = memory_env()
    call(edit.ROUTES, "POST", "/api/config/objects", env,
         {"kind": "colocation", "id": "c1", "score": "inf", "resources": "web db"})
    # The form was refused (db does not exist): the sandbox has no such constraint.
    data = call(graph.ROUTES, "GET", "/api/graph", env, query={"source": "sandbox"}).body
    assert data["source"] == "sandbox" and _edges(data, "colocation") == set()
    built = graph.build(env.xml.replace(
        "<constraints/>", '<constraints><rsc_order id="o" first="web" then="gone"/>'
        "</constraints>")).as_dict()
    assert {"id": "gone", "kind": "missing"} in built["nodes"]
