"""The history's pure parts: events from CIB diffs, the store's retention, the pictures."""

from __future__ import annotations

import json
import stat
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from defib.cli.history_cmd import parse_when
from defib.cli.main import main
from defib.cluster.cibxml import CibCopy, apply_change
from defib.history.derive import cib_events
from defib.history.render import svg, timeline
from defib.history.replay import explain_transition
from defib.history.store import HistoryEvent, HistoryStore

BASE = """<cib admin_epoch="0" epoch="1" num_updates="0" have-quorum="true"><configuration>
<crm_config><cluster_property_set id="o"><nvpair id="o1" name="stonith-enabled"
 value="false"/></cluster_property_set></crm_config>
<nodes><node id="1" uname="node1"/><node id="2" uname="node2"/></nodes>
<resources><primitive id="web" class="ocf" provider="heartbeat" type="Dummy"/></resources>
<constraints/></configuration><status>
<node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member">
<lrm id="1"><lrm_resources/></lrm></node_state>
<node_state id="2" uname="node2" in_ccm="true" crmd="online" join="member" expected="member">
<lrm id="2"><lrm_resources/></lrm></node_state></status></cib>"""

OP = ('<lrm_resource id="web" class="ocf" provider="heartbeat" type="Dummy">'
      '<lrm_rsc_op id="web_last_0" operation="{op}" operation_key="web_{op}_0" interval="0" '
      'call-id="{call}" rc-code="{rc}" op-status="0" transition-key="3:{t}:0:x" '
      'last-rc-change="1700000000"/></lrm_resource>')


def node_state(node_id: str, name: str, lrm: str = "", **attrs: str) -> str:
    base = {"in_ccm": "true", "crmd": "online", "join": "member", "expected": "member",
            **attrs}
    text = " ".join(f'{k.replace("_ccm", "_ccm")}="{v}"' for k, v in base.items())
    return (f'<node_state id="{node_id}" uname="{name}" {text}><lrm id="{node_id}">'
            f"<lrm_resources>{lrm}</lrm_resources></lrm></node_state>")


def test_configuration_change_names_the_user_and_the_resource() -> None:
    before = CibCopy.of(BASE)
    constraint = ('<constraints><rsc_location id="cli-prefer-web" rsc="web" node="node2" '
                  'score="INFINITY"/></constraints>')
    after = apply_change(before, {"op": "replace_section", "section": "constraints",
                                  "xml": constraint, "user": "alice", "when": 1700000000})
    assert after.root.get("update-user") == "alice"
    assert after.root.get("cib-last-written") == "Tue Nov 14 22:13:20 2023"
    events = cib_events(before.root, after.root, 5.0, "node1")
    assert [(e.kind, e.rsc, e.user, e.summary) for e in events] == [
        ("config", "web", "alice", "rsc_location cli-prefer-web added by alice")]
    # The cluster's own changes carry no user: an earlier one's name is not kept.
    again = apply_change(after, {"op": "replace_section", "section": "constraints",
                                 "xml": "<constraints/>"})
    assert again.root.get("update-user") is None
    assert [e.summary for e in cib_events(after.root, again.root, 6.0)] == [
        "rsc_location cli-prefer-web removed"]


def test_property_change() -> None:
    before = CibCopy.of(BASE)
    after = apply_change(before, {"op": "replace_section", "section": "crm_config", "xml": (
        '<crm_config><cluster_property_set id="o"><nvpair id="o1" name="stonith-enabled" '
        'value="false"/><nvpair id="o2" name="maintenance-mode" value="true"/>'
        "</cluster_property_set></crm_config>"), "user": "root"})
    assert [e.summary for e in cib_events(before.root, after.root, 1.0)] == [
        "property maintenance-mode = true by root"]


def status_change(before: CibCopy, *states: str) -> CibCopy:
    return apply_change(before, {"op": "update_status", "updates": [
        {"node_state": s} for s in states]})


def test_operation_results_failures_and_transition_numbers() -> None:
    before = CibCopy.of(BASE)
    started = status_change(before, node_state("1", "node1", OP.format(
        op="start", call="5", rc="0", t="12")))
    events = cib_events(before.root, started.root, 3.0)
    assert [(e.kind, e.rsc, e.node, e.transition, e.summary, e.ts) for e in events] == [
        ("operation", "web", "node1", 12, "start of web on node1: ok", 3.0)]
    failed = status_change(started, node_state("1", "node1", OP.format(
        op="start", call="6", rc="1", t="13")))
    (event,) = cib_events(started.root, failed.root, 4.0)
    assert event.detail["failed"] and event.summary.endswith("generic error — FAILED")
    # A probe that finds nothing running did what was expected of it.
    probe = OP.format(op="monitor", call="2", rc="7", t="1").replace('0:x"', '7:x"')
    probed = status_change(before, node_state("2", "node2", probe))
    (event,) = cib_events(before.root, probed.root, 1.0)
    assert event.summary == "probe of web on node2: not running"
    assert not event.detail["failed"]


def test_fencing_loss_and_return_of_nodes() -> None:
    before = CibCopy.of(BASE)
    lost = status_change(before, node_state("2", "node2", in_ccm="false", crmd="offline"))
    assert [e.summary for e in cib_events(before.root, lost.root, 1.0)] == ["node2 was lost"]
    fenced = status_change(lost, node_state("2", "node2", in_ccm="false", crmd="offline",
                                            join="down", expected="down")
                           .replace("<node_state ", '<node_state crm-debug-origin='
                                    '"send_stonith_update" '))
    (event,) = cib_events(lost.root, fenced.root, 2.0)
    assert (event.kind, event.node) == ("fencing", "node2")
    back = status_change(fenced, node_state("2", "node2"))
    assert [e.summary for e in cib_events(fenced.root, back.root, 3.0)] == [
        "node2 is a member"]
    left = status_change(back, node_state("2", "node2", in_ccm="false", crmd="offline",
                                          expected="down"))
    assert [e.summary for e in cib_events(back.root, left.root, 4.0)] == [
        "node2 left cleanly"]


def test_unchanged_sections_cost_nothing() -> None:
    before = CibCopy.of(BASE)
    after = status_change(before, node_state("1", "node1"))
    # Copy-on-write: the configuration and node2's state are the same objects.
    assert after.root.find("configuration") is before.root.find("configuration")
    assert cib_events(before.root, after.root, 1.0) == []


def test_store_is_private_filters_and_keeps_within_retention(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    store = HistoryStore(path, max_events=50, max_age_s=100)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    events = [HistoryEvent(ts=1000.0 + i, kind="operation", summary=f"op {i}",
                           rsc="web:1" if i % 2 else "db", node=f"node{i % 3}")
              for i in range(300)]
    for start in range(0, 300, 30):
        store.add(events[start:start + 30])
    store.prune(1299.0)
    kept = store.query()
    assert len(kept) == 50 and kept[0].summary == "op 250" and kept[-1].summary == "op 299"
    assert all(e.rsc == "web:1" for e in store.query(rsc="web"))
    assert {e.node for e in store.query(node="node1")} == {"node1"}
    assert [e.summary for e in store.query(since=1297.0, until=1298.0)] == ["op 297", "op 298"]
    assert [e.summary for e in store.query(limit=2)] == ["op 298", "op 299"]
    store.prune(1360.0)  # older than 100 s at that time: gone
    assert [e.summary for e in store.query()] == [f"op {i}" for i in range(260, 300)]
    store.close()


def test_timeline_and_svg() -> None:
    events = [HistoryEvent(ts=1000.0, kind="config", summary="rsc_location x added by bob"),
              HistoryEvent(ts=1001.0, kind="operation", node="node1", rsc="web", transition=3,
                           summary="start of web on node1: ok"),
              HistoryEvent(ts=1002.0, kind="fencing", node="node2",
                           summary="node2 was fenced")]
    text = timeline(events)
    assert text.splitlines()[1].endswith("operation   start of web on node1: ok  [t3]")
    picture = ET.fromstring(svg(events))
    ns = "{http://www.w3.org/2000/svg}"
    assert len(picture.findall(f"{ns}circle")) == 3 + 9  # the events and the legend
    lanes = [t.text for t in picture.findall(f"{ns}text")][1:4]
    assert lanes == ["cluster", "node1", "node2"]
    titles = [t.text for t in picture.iter(f"{ns}title")]
    assert any(t and t.endswith("node2 was fenced") for t in titles)


def test_parse_when() -> None:
    assert parse_when("12h", 100000.0) == 100000.0 - 12 * 3600
    assert parse_when("30min", 5000.0) == 5000.0 - 1800
    assert parse_when(None, 1.0) is None
    assert parse_when("2026-12-02 22:00", 0.0) is not None


def test_transition_replay_says_what_changed_and_why() -> None:
    before = BASE
    after = BASE.replace("<constraints/>", '<constraints><rsc_location id="prefer" rsc="web" '
                         'node="node2" score="100"/></constraints>').replace(
        'epoch="1"', 'epoch="2"')
    text = explain_transition(7, after, before, [])
    assert "What changed since pe-input-6:\n  - rsc_location prefer added" in text
    assert "Start      web     ( node2 )" in text
    assert "location constraint prefer gives node2 +100" in text


def test_cli_reads_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = HistoryStore(tmp_path / "history.sqlite")
    store.add([HistoryEvent(ts=time.time() - 7200, kind="config", rsc="web",
                            summary="rsc_location cli-prefer-web added by alice"),
               HistoryEvent(ts=time.time() - 60, kind="operation", rsc="web", node="node2",
                            summary="start of web on node2: ok", transition=4)])
    store.close()
    db = str(tmp_path / "history.sqlite")
    assert main(["history", "--db", db, "--resource", "web", "--since", "1h"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].endswith("start of web on node2: ok  [t4]")
    assert main(["history", "--db", db, "--json", "--kind", "config"]) == 0
    (only,) = json.loads(capsys.readouterr().out)
    assert only["summary"] == "rsc_location cli-prefer-web added by alice"
    assert main(["history", "--db", db, "--since", "yesterday-ish"]) == 1
    assert "cannot read time 'yesterday-ish'" in capsys.readouterr().err
    assert main(["history", "transition", "x"]) == 1


def test_resource_filter_keeps_only_its_transitions(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.sqlite")
    store.add([
        HistoryEvent(ts=1.0, kind="transition", transition=1, summary="transition 1",
                     detail={"summary": ["* Start      web:0     ( node1 )"]}),
        HistoryEvent(ts=2.0, kind="transition", transition=2, summary="transition 2",
                     detail={"summary": ["* Start      db     ( node1 )"]}),
        HistoryEvent(ts=3.0, kind="transition", transition=2, summary="transition 2 complete"),
        HistoryEvent(ts=4.0, kind="transition", transition=1, summary="transition 1 complete"),
        HistoryEvent(ts=5.0, kind="fencing", node="node2", summary="node2 was fenced")])
    assert [e.summary for e in store.query(rsc="web")] == [
        "transition 1", "transition 1 complete", "node2 was fenced"]
    store.close()


def test_resource_filter_takes_a_group_and_its_members(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.sqlite")
    store.add([HistoryEvent(ts=1.0, kind="config", rsc="site", summary="group site added"),
               HistoryEvent(ts=2.0, kind="operation", rsc="ip", summary="start of ip"),
               HistoryEvent(ts=3.0, kind="operation", rsc="other", summary="start of other")])
    assert [e.summary for e in store.query(rsc=["site", "ip"])] == [
        "group site added", "start of ip"]
    store.close()


def test_a_node_whose_database_cannot_open_runs_without_history(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from defib.history.recorder import HistoryRecorder

    (tmp_path / "history.sqlite").mkdir()  # in the way: not a database file
    node = SimpleNamespace(state_dir=tmp_path, node=SimpleNamespace(name="node1"))
    assert HistoryRecorder.attach(node) is None  # type: ignore[arg-type]
