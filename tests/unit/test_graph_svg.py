"""The transition graph as SVG: lanes per node, execution order, dependency arrows."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from defib.graph.svg import BOX_W, CLUSTER_LANE, graph_to_svg
from defib.simulate.whatif import Injections, run_what_if

CIB = (Path(__file__).with_name("whatif_cib.xml")).read_text()
NOW = dt.datetime(2026, 1, 1, 12, 0, 0)
SVG = "{http://www.w3.org/2000/svg}"


def _picture() -> tuple[ET.Element, int, list[tuple[int, int]], list[int]]:
    # node2 fails: it is fenced, web's stop is implied, web starts on node1 with its monitor.
    result = run_what_if(CIB, Injections(node_fail=["node2"]), NOW, NOW, 0)
    sim = result.simulation
    order = [a.id for a in sim.executed]
    edges = [(i, s.action.id) for s in sim.graph.synapses for i in s.inputs]
    return ET.fromstring(graph_to_svg(sim.graph, order)), len(sim.graph), edges, order


def _boxes(root: ET.Element) -> dict[int, ET.Element]:
    return {int(g.get("data-id", "-1")): g for g in root.iter(f"{SVG}g")
            if g.get("class") == "action"}


def test_one_box_per_action_numbered_in_execution_order() -> None:
    root, count, _, order = _picture()
    boxes = _boxes(root)
    assert len(boxes) == count >= 4
    assert [int(boxes[a].get("data-order", "0")) for a in order] == list(range(1, count + 1))


def test_lanes_group_actions_by_node() -> None:
    root, _, _, _ = _picture()
    lanes = [g.get("data-node") for g in root.iter(f"{SVG}g") if g.get("class") == "lane"]
    assert lanes == [CLUSTER_LANE, "node1", "node2"]
    titles = {int(a): g.find(f"{SVG}title").text or "" for a, g in _boxes(root).items()
              if g.find(f"{SVG}title") is not None}
    starts = [t for t in titles.values() if "web_start_0" in t]
    assert starts and all(t.endswith("on node1") for t in starts)


def test_every_dependency_is_an_arrow_pointing_forward() -> None:
    root, _, edges, _ = _picture()
    paths = [p for p in root.iter(f"{SVG}path") if p.get("class") == "edge"]
    drawn = {(int(p.get("data-from", "-1")), int(p.get("data-to", "-1"))) for p in paths}
    assert drawn == set(edges) and edges
    boxes = _boxes(root)

    def x_of(action_id: int) -> int:
        rect = boxes[action_id].find(f"{SVG}rect")
        assert rect is not None
        return int(rect.get("x", "0"))

    for before, after in edges:  # what waits is drawn right of what it waits for
        assert x_of(after) >= x_of(before) + BOX_W
    assert all(re.match(r"^M [\d.]+ [\d.]+ C ", p.get("d", "")) for p in paths)


def test_text_is_escaped() -> None:
    xml = CIB.replace('id="web"', 'id="w&lt;b"').replace("web_", "w&lt;b_")
    result = run_what_if(xml, Injections(node_fail=["node2"]), NOW, NOW, 0)
    svg = graph_to_svg(result.simulation.graph, title="<a & b>")
    root = ET.fromstring(svg)  # well-formed despite the names
    assert root.findtext(f"{SVG}title") == "<a & b>"
    assert any("w<b" in "".join(t.itertext()) for t in root.iter(f"{SVG}text"))


def test_dot_file_has_every_action_and_dependency() -> None:
    from defib.graph.dot import graph_to_dot

    result = run_what_if(CIB, Injections(node_fail=["node2"]), NOW, NOW, 0)
    graph = result.simulation.graph
    dot = graph_to_dot(graph).splitlines()
    assert dot[0] == ' digraph "g" {' and dot[-1] == "}"
    assert sum(" -> " in line for line in dot) == sum(len(s.inputs) for s in graph.synapses)
    assert "\"stonith 'reboot' node2\" -> \"web_start_0 node1\" [ style = bold]" in dot
    assert sum("[ style=bold color=" in line for line in dot) == len(graph)
