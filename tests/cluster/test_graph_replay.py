"""The DC runs exactly the graph `defib simulate -x pe-input-N.xml -G` writes.

A live 3-node cluster goes through everyday events (a group, a promotable clone, an
interleaved clone pair, order and colocation constraints, standby on and off, a node crash
with fencing); then every pe-input the DC saved is replayed through the simulate command
and its graph compared with the pe-graph the DC executed.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from defib.cli.main import main as defib_main
from defib.controller.cibinput import parse_input
from defib.controller.harness import ResourceCluster, cib_xml, fence_device, primitive
from defib.scheduler.pipeline import unpack

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def _meta(rid: str, **pairs: str) -> str:
    nv = "".join(f'<nvpair id="{rid}-m-{k}" name="{k}" value="{v}"/>' for k, v in pairs.items())
    return f'<meta_attributes id="{rid}-meta">{nv}</meta_attributes>'


def _resources() -> str:
    group = ('<group id="g">' + primitive("ga", "ocf", "Dummy", "heartbeat", monitor="5s")
             + primitive("gb", "ocf", "Dummy", "heartbeat", monitor="5s") + "</group>")
    stateful = ('<primitive id="st" class="ocf" provider="pacemaker" type="Stateful">'
                '<operations><op id="st-m1" name="monitor" interval="4s" role="Promoted"'
                ' timeout="20s"/><op id="st-m2" name="monitor" interval="5s"'
                ' role="Unpromoted" timeout="20s"/></operations></primitive>')
    ms = f'<clone id="ms">{_meta("ms", promotable="true")}{stateful}</clone>'
    base = f'<clone id="base-clone">{primitive("base", "ocf", "Dummy", "heartbeat")}</clone>'
    top = (f'<clone id="top-clone">{_meta("top-clone", interleave="true")}'
           f'{primitive("top", "ocf", "Dummy", "heartbeat")}</clone>')
    return fence_device() + group + ms + base + top


CONSTRAINTS = (
    '<rsc_order id="base-then-top" first="base-clone" then="top-clone"/>'
    '<rsc_colocation id="top-with-base" rsc="top-clone" with-rsc="base-clone"'
    ' score="INFINITY"/>'
    '<rsc_colocation id="g-with-promoted" rsc="g" with-rsc="ms" with-rsc-role="Promoted"'
    ' score="INFINITY"/>'
    '<rsc_order id="promote-then-g" first="ms" first-action="promote" then="g"'
    ' then-action="start"/>'
)


def _state(rc: ResourceCluster) -> tuple[list[str], dict[str, list[str]]]:
    ws = unpack(parse_input(rc.cib()), None)
    promoted = sorted(n.uname for p in ws.all_primitives() if p.role == "Promoted"
                      for n in p.running_on)
    return promoted, rc.locations()


def _settled(rc: ResourceCluster, members: set[str]) -> bool:
    promoted, by_instance = _state(rc)
    where: dict[str, list[str]] = {}
    for rsc, nodes in by_instance.items():
        where.setdefault(rsc.split(":")[0], []).extend(nodes)
    clones_everywhere = all(
        sorted(where.get(r, [])) == sorted(members) for r in ("base", "top", "st"))
    group_with_promoted = len(promoted) == 1 and where.get("ga") == promoted \
        and where.get("gb") == promoted
    return clones_everywhere and group_with_promoted and rc.dc_status()["in_flight"] == 0


def _replayed_graph(pe_input: Path, out: Path) -> str:
    with contextlib.redirect_stdout(io.StringIO()):
        assert defib_main(["simulate", "-x", str(pe_input), "-G", str(out), "-Q"]) == 0
    return out.read_text(encoding="utf-8")


def _without_id(graph_xml: str) -> str:
    # The simulator numbers its one graph 0; the DC numbers its transitions.
    return re.sub(r'transition_id="\d+"', 'transition_id=""', graph_xml, count=1)


def test_every_saved_input_replays_to_the_executed_graph(tmp_path: Path) -> None:
    with ResourceCluster(tmp_path / "c", 3) as rc:
        rc.load(cib_xml(_resources(), CONSTRAINTS))
        everyone = set(rc.names)
        rc.wait("everything running", lambda: _settled(rc, everyone), timeout=60)
        dc = str(rc.dc_status()["node"])
        other = next(n for n in rc.names if n != dc)
        rc.client_request("crm_attribute", node=other, name="standby", value="on")
        rc.wait("standby emptied the node",
                lambda: _settled(rc, everyone - {other}) or False, timeout=60)
        rc.client_request("crm_attribute", node=other, name="standby", value=None)
        rc.wait("back from standby", lambda: _settled(rc, everyone), timeout=60)
        victim = _state(rc)[0][0] if _state(rc)[0][0] != dc else other
        rc.crash(victim)
        rc.wait("recovered after fencing",
                lambda: victim in rc.dc_status()["fenced"]
                and _settled(rc, everyone - {victim}), timeout=60)
        pengine = rc.dir / dc / "pengine"
        numbers = sorted(int(m.group(1)) for p in pengine.glob("pe-input-*.xml")
                         if (m := re.fullmatch(r"pe-input-(\d+)\.xml", p.name)))
        differ = []
        for n in numbers:
            saved = (pengine / f"pe-graph-{n}.xml").read_text(encoding="utf-8")
            replayed = _replayed_graph(pengine / f"pe-input-{n}.xml", tmp_path / "g.xml")
            if _without_id(replayed) != _without_id(saved):
                differ.append(n)
    print(f"\n{len(numbers) - len(differ)}/{len(numbers)} saved inputs replay to the graph"
          " the DC executed")
    assert len(numbers) >= 8, numbers
    assert differ == [], f"pe-input {differ} replay to another graph than the DC ran"
