"""The command library on an in-memory CIB, with a fake cluster (``fakecluster``) that runs
each computed transition with succeeding operations, so ``--wait`` and placement are real
scheduler results."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from defib.commands import cluster_property as prop
from defib.commands import fakecluster
from defib.commands import node as nodes
from defib.commands import resource as r
from defib.commands.env import FileEnv, MemoryEnv, edit
from defib.commands.wait import pending, wait_settled
from defib.errors import CommandError, DefibError, UnknownReferenceError

CIB = """<cib admin_epoch="0" epoch="1" num_updates="0" have-quorum="1" dc-uuid="1">
<configuration><crm_config><cluster_property_set id="cib-bootstrap-options">
<nvpair id="cib-bootstrap-options-stonith-enabled" name="stonith-enabled" value="false"/>
</cluster_property_set></crm_config>
<nodes><node id="1" uname="node1"/><node id="2" uname="node2"/></nodes>
<resources>
<primitive id="web" class="ocf" provider="heartbeat" type="Dummy">
  <operations><op id="web-mon" name="monitor" interval="10s"/></operations></primitive>
<group id="grp"><primitive id="ip" class="ocf" provider="heartbeat" type="Dummy"/>
  <primitive id="fs" class="ocf" provider="heartbeat" type="Dummy"/></group>
<clone id="ms"><meta_attributes id="ms-meta"><nvpair id="ms-p" name="promotable" value="true"/>
  </meta_attributes><primitive id="db" class="ocf" provider="heartbeat" type="Stateful"/></clone>
<clone id="cl"><primitive id="ping" class="ocf" provider="heartbeat" type="Dummy"/></clone>
</resources>
<constraints><rsc_location id="web-pref" rsc="web" node="node1" score="10"/>
<rsc_location id="grp-pref" rsc="grp" node="node2" score="10"/></constraints>
</configuration>
<status>
<node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/>
<node_state id="2" uname="node2" in_ccm="true" crmd="online" join="member" expected="member"/>
</status></cib>"""


def settled_env() -> MemoryEnv:
    env = MemoryEnv(CIB, on_sleep=fakecluster.step)
    fakecluster.settle(env)
    assert pending(env).settled
    return env


def root_of(env: MemoryEnv) -> ET.Element:
    return ET.fromstring(env.xml)


def constraint(env: MemoryEnv, cid: str) -> ET.Element | None:
    return root_of(env).find(f"configuration/constraints/rsc_location[@id='{cid}']")


def meta(env: MemoryEnv, rsc: str, name: str) -> str | None:
    for el in root_of(env).iter():
        if el.get("id") == rsc:
            for nv in el.findall("meta_attributes/nvpair"):
                if nv.get("name") == name:
                    return nv.get("value")
    return None


def where(env: MemoryEnv, rsc: str) -> list[str]:
    return [d["node"] for d in r.locate(env, rsc).data["nodes"]]


# -- resources ----------------------------------------------------------------------------------


def test_locate_reads_placement_from_the_status() -> None:
    env = settled_env()
    assert r.locate(env, "web").lines == ("resource web is running on: node1",)
    assert where(env, "grp") == ["node2"]
    assert sorted(where(env, "cl")) == ["node1", "node2"]
    assert sorted(where(env, "ping")) == ["node1", "node2"]


def test_stop_and_start_set_target_role_and_wait_until_done() -> None:
    env = settled_env()
    out = r.stop(env, "web")
    assert out.changed and meta(env, "web", "target-role") == "Stopped"
    assert any("Stop" in line and "web" in line for line in pending(env).summary)
    progress: list[str] = []
    wait_settled(env, 10, progress.append)
    assert r.locate(env, "web").lines == ("resource web is NOT running",)
    assert progress[0].startswith("waiting") and progress[-1].startswith("settled")
    r.start(env, "web")
    wait_settled(env, 10)
    assert meta(env, "web", "target-role") == "Started"
    assert where(env, "web") == ["node1"]
    # Same value again: nothing written.
    writes = len(env.writes)
    assert not r.start(env, "web").changed and len(env.writes) == writes


def test_meta_on_a_clone_child_goes_to_the_clone_and_children_lose_theirs() -> None:
    env = settled_env()
    r.stop(env, "ping")
    assert meta(env, "cl", "target-role") == "Stopped" and meta(env, "ping", "target-role") is None
    env2 = settled_env()
    r.stop(env2, "ip")
    out = r.start(env2, "grp")
    assert meta(env2, "ip", "target-role") is None
    assert any("removed target-role of ip" in line for line in out.lines)


def test_move_creates_cli_prefer_and_really_moves() -> None:
    env = settled_env()
    out = r.move(env, "web", "node2")
    el = constraint(env, "cli-prefer-web")
    assert el is not None and el.attrib == {"id": "cli-prefer-web", "rsc": "web",
                                            "role": "Started", "node": "node2",
                                            "score": "INFINITY"}
    assert "was active on node1" in out.text()
    assert any("Move" in line and "web" in line for line in pending(env).summary)
    wait_settled(env, 10)
    assert where(env, "web") == ["node2"]
    with pytest.raises(CommandError, match="already active on node2"):
        r.move(env, "web", "node2")


def test_move_with_lifetime_is_a_date_rule() -> None:
    env = settled_env()
    r.move(env, "web", "node2", lifetime="PT1H")
    el = constraint(env, "cli-prefer-web")
    assert el is not None and el.get("node") is None
    rule = el.find("rule")
    assert rule is not None and rule.get("score") == "INFINITY"
    expr = rule.find("expression")
    assert expr is not None and expr.get("attribute") == "#uname" and expr.get("value") == "node2"
    date = rule.find("date_expression")
    assert date is not None and date.get("operation") == "lt"
    end = dt.datetime.strptime(date.get("end", ""), "%Y-%m-%d %H:%M:%S")
    assert abs((end - env.now()).total_seconds() - 3600) < 2
    wait_settled(env, 10)
    assert where(env, "web") == ["node2"]
    # Past its end the rule no longer applies: with web-pref it goes back to node1.
    env.clock += 7200
    wait_settled(env, 10)
    assert where(env, "web") == ["node1"]


def test_move_without_node_bans_the_current_one_and_clear_removes_all() -> None:
    env = settled_env()
    out = r.move(env, "web", None)
    assert "moving away from node1" in out.text()
    el = constraint(env, "cli-ban-web-on-node1")
    assert el is not None and el.get("score") == "-INFINITY" and el.get("node") == "node1"
    wait_settled(env, 10)
    assert where(env, "web") == ["node2"]
    r.move(env, "web", "node1")  # a move to a banned node lifts the ban, as crm_resource
    assert constraint(env, "cli-ban-web-on-node1") is None
    r.ban(env, "web", "node2")
    out = r.clear(env, "web")
    assert set(out.data["removed"]) == {"cli-prefer-web", "cli-ban-web-on-node2"}
    assert not r.clear(env, "web").changed


def test_clear_for_one_node_keeps_the_others() -> None:
    env = settled_env()
    r.ban(env, "cl", "node1")
    r.ban(env, "cl", "node2")
    out = r.clear(env, "cl", "node1")
    assert out.data["removed"] == ["cli-ban-cl-on-node1"]
    assert constraint(env, "cli-ban-cl-on-node2") is not None


def test_ban_a_clone_from_one_node() -> None:
    env = settled_env()
    r.ban(env, "cl", "node2")
    wait_settled(env, 10)
    assert where(env, "cl") == ["node1"]
    with pytest.raises(CommandError, match="active on 1 nodes|name the node"):
        r.ban(env, "ms", None)


def test_move_errors_name_the_problem() -> None:
    env = settled_env()
    with pytest.raises(UnknownReferenceError, match="did you mean 'web'"):
        r.move(env, "wbe", "node2")
    with pytest.raises(UnknownReferenceError, match="no node 'node3'.*node1, node2"):
        r.move(env, "web", "node3")
    with pytest.raises(CommandError, match="member of group grp"):
        r.move(env, "ip", "node1")
    with pytest.raises(CommandError, match="is a clone"):
        r.move(env, "cl", "node1")
    with pytest.raises(CommandError, match="invalid lifetime"):
        r.move(env, "web", "node2", lifetime="soon")
    assert constraint(env, "cli-prefer-web") is None


def test_promote_demote_only_for_promotable_clones() -> None:
    env = settled_env()
    r.promote(env, "db")
    assert meta(env, "ms", "target-role") == "Promoted"
    r.demote(env, "ms")
    assert meta(env, "ms", "target-role") == "Unpromoted"
    with pytest.raises(CommandError, match="not a promotable clone"):
        r.promote(env, "web")


def test_manage_unmanage_maintenance() -> None:
    env = settled_env()
    r.unmanage(env, "web")
    assert meta(env, "web", "is-managed") == "false"
    r.manage(env, "web")
    assert meta(env, "web", "is-managed") == "true"
    r.maintenance(env, "grp", True)
    assert meta(env, "grp", "maintenance") == "true"
    conf = root_of(env).find("configuration")
    assert conf is not None
    ids = [el.get("id") for el in conf.iter() if el.get("id")]
    assert len(ids) == len(set(ids))


def fail(env: MemoryEnv, node_id: str, rsc: str, count: str) -> None:
    root = root_of(env)
    state = root.find(f"status/node_state[@id='{node_id}']")
    assert state is not None
    from defib.attrd.store import set_attr

    set_attr(state, f"fail-count-{rsc}#monitor_10000", count)
    set_attr(state, f"last-failure-{rsc}#monitor_10000", "1700000000")
    env.xml = ET.tostring(root, encoding="unicode")


def test_failcount_show_and_delete() -> None:
    env = settled_env()
    fail(env, "1", "web", "2")
    out = r.failcount(env, "web")
    assert "node=node1  name=fail-count-web  value=2  (monitor_10000=2)" in out.text()
    assert "node=node2  name=fail-count-web  value=0" in out.text()
    r.failcount(env, "web", "node1", delete=True)
    assert "value=2" not in r.failcount(env, "web").text()
    assert "fail-count-web" not in env.xml and "last-failure-web" not in env.xml


def test_cleanup_forgets_history_then_the_cluster_probes_again() -> None:
    env = settled_env()
    fail(env, "1", "web", "INFINITY")
    out = r.cleanup(env, "web")
    assert out.data["cleaned"] == ["web"]
    assert env.cleanups == [("web", None)]
    root = root_of(env)
    assert root.find(".//lrm_resource[@id='web']") is None
    assert "fail-count-web" not in env.xml
    # No history: probes on both nodes, then a start (the summary names only the start).
    left = pending(env)
    assert left.actions >= 3 and any("Start" in line and "web" in line for line in left.summary)
    wait_settled(env, 10)
    assert where(env, "web") == ["node1"]


def test_cleanup_of_a_group_and_everything() -> None:
    env = settled_env()
    r.cleanup(env, "grp", "node2")
    assert env.cleanups == [("ip", "node2"), ("fs", "node2")]
    env.cleanups.clear()
    r.cleanup(env, None)
    assert {c[0] for c in env.cleanups} >= {"web", "ip", "fs", "db", "ping"}


def test_restart_stops_then_starts() -> None:
    env = settled_env()
    seen: list[str] = []
    out = r.restart(env, "web", 10, seen.append)
    assert "restarted" in out.text()
    assert any("Stop" in line and "web" in line for line in seen)
    assert any("Start" in line and "web" in line for line in seen)
    assert meta(env, "web", "target-role") is None and where(env, "web") == ["node1"]


# -- nodes --------------------------------------------------------------------------------------


def test_standby_is_a_node_attribute_and_moves_resources() -> None:
    env = settled_env()
    nodes.standby(env, "node1")
    nv = root_of(env).find("configuration/nodes/node[@id='1']/instance_attributes/nvpair")
    assert nv is not None and nv.attrib == {"id": "nodes-1-standby", "name": "standby",
                                            "value": "on"}
    wait_settled(env, 10)
    assert where(env, "web") == ["node2"] and where(env, "cl") == ["node2"]
    nodes.online(env, "node1")
    assert nv.get("id") == "nodes-1-standby"
    assert "value=\"off\"" in ET.tostring(root_of(env).find("configuration/nodes") or
                                          ET.Element("x"), encoding="unicode")
    wait_settled(env, 10)
    assert where(env, "web") == ["node1"]


def test_node_maintenance_attribute_utilization() -> None:
    env = settled_env()
    nodes.maintenance(env, "node2", True)
    assert not nodes.maintenance(env, "node2", True).changed
    nodes.attribute(env, "node1", "rack", "r12")
    assert nodes.attribute(env, "node1", "rack").lines == ("node1: rack=r12",)
    assert nodes.attribute(env, "node1").data["values"] == {"rack": "r12"}
    nodes.attribute(env, "node1", "rack", delete=True)
    with pytest.raises(CommandError, match="no attribute 'rack'"):
        nodes.attribute(env, "node1", "rack")
    nodes.utilization(env, "node1", "cpu", "8")
    el = root_of(env).find("configuration/nodes/node[@id='1']/utilization/nvpair")
    assert el is not None and el.get("name") == "cpu" and el.get("value") == "8"
    with pytest.raises(CommandError, match="integer"):
        nodes.utilization(env, "node1", "cpu", "lots")
    with pytest.raises(UnknownReferenceError, match="did you mean 'node2'"):
        nodes.standby(env, "nodr2")
    with pytest.raises(CommandError, match="on or off"):
        nodes.parse_on_off("maybe")


def test_fence_goes_to_the_env() -> None:
    env = settled_env()
    nodes.fence(env, "node2")
    assert env.fenced == ["node2"]


# -- properties ---------------------------------------------------------------------------------


def test_property_set_get_delete_validated() -> None:
    env = settled_env()
    assert prop.show(env, "stonith-enabled").lines == ("stonith-enabled=false",)
    assert prop.show(env, "no-quorum-policy").lines == ("no-quorum-policy=stop (default)",)
    prop.set_property(env, "no-quorum-policy", "ignore")
    nv = root_of(env).find(
        "configuration/crm_config/cluster_property_set/nvpair[@name='no-quorum-policy']")
    assert nv is not None and nv.get("id") == "cib-bootstrap-options-no-quorum-policy"
    assert "no-quorum-policy=ignore" in prop.show(env).lines
    with pytest.raises(CommandError, match="one of stop, freeze, ignore"):
        prop.set_property(env, "no-quorum-policy", "ignroe")
    with pytest.raises(CommandError, match="a time"):
        prop.set_property(env, "cluster-recheck-interval", "often")
    prop.set_property(env, "cluster-recheck-interval", "5min")
    with pytest.raises(CommandError, match="boolean"):
        prop.set_property(env, "maintenance-mode", "maybe")
    with pytest.raises(UnknownReferenceError, match="did you mean 'stonith-enabled'"):
        prop.set_property(env, "stonith-enable", "true")
    with pytest.raises(CommandError, match="maintained by the cluster"):
        prop.set_property(env, "dc-version", "1")
    assert prop.delete(env, "no-quorum-policy").changed
    assert not prop.delete(env, "no-quorum-policy").changed
    assert len(prop.show(env, all_options=True).lines) > 40


def test_maintenance_mode_property_freezes_the_cluster() -> None:
    env = settled_env()
    prop.set_property(env, "maintenance-mode", "true")
    r.stop(env, "web")
    wait_settled(env, 10)
    assert where(env, "web") == ["node1"]  # not stopped: nothing is managed


# -- waiting, conflicts, files ------------------------------------------------------------------


def test_wait_times_out_naming_what_is_pending() -> None:
    env = settled_env()
    env.on_sleep = None  # the cluster does nothing
    r.move(env, "web", "node2")
    with pytest.raises(CommandError, match=r"did not settle within 2s.*Move\s+web"):
        wait_settled(env, 2)


def test_edit_refuses_to_overwrite_a_concurrent_change() -> None:
    class Racing(MemoryEnv):
        def read(self) -> str:
            xml = super().read()
            root = ET.fromstring(xml)
            # Somebody else commits between every read and write.
            self.xml = xml.replace(f'epoch="{root.get("epoch")}"',
                                   f'epoch="{int(root.get("epoch", "0")) + 1}"', 1)
            return xml

    env = Racing(CIB)
    with pytest.raises(CommandError, match="keeps changing"):
        edit(env, lambda root: root.find("configuration/nodes").clear())  # type: ignore
    assert env.writes == []


def test_file_env_edits_the_file_and_refuses_wait(tmp_path: Path) -> None:
    path = tmp_path / "cib.xml"
    path.write_text(settled_env().xml)
    env = FileEnv(path)
    r.ban(env, "web", "node1")
    assert "cli-ban-web-on-node1" in path.read_text()
    r.cleanup(env, "web", "node1")
    text = path.read_text()
    state = ET.fromstring(text).find("status/node_state[@id='1']")
    assert state is not None and state.find(".//lrm_resource[@id='web']") is None
    assert ET.fromstring(text).find(".//node_state[@id='2']//lrm_resource[@id='web']") is not None
    with pytest.raises(CommandError, match="needs a running cluster"):
        wait_settled(env, 1)
    with pytest.raises(CommandError, match="running cluster"):
        nodes.fence(env, "node1")
    with pytest.raises(DefibError, match="does not exist"):
        FileEnv(tmp_path / "nope.xml").read()


def test_parse_lifetime() -> None:
    assert r.parse_lifetime("PT1H") == dt.timedelta(hours=1)
    assert r.parse_lifetime("P1DT30M") == dt.timedelta(days=1, minutes=30)
    assert r.parse_lifetime("30m") == dt.timedelta(minutes=30)
    with pytest.raises(CommandError):
        r.parse_lifetime("P")


def test_transient_standby_and_online_clears_it() -> None:
    env = settled_env()
    nodes.standby(env, "node1", lifetime="reboot")
    state = root_of(env).find("status/node_state[@id='1']/transient_attributes")
    assert state is not None and 'name="standby" value="on"' in ET.tostring(
        state, encoding="unicode")
    assert root_of(env).find("configuration/nodes/node[@id='1']/instance_attributes") is None
    wait_settled(env, 10)
    assert where(env, "web") == ["node2"]
    assert nodes.attribute(env, "node1", lifetime="reboot").data["values"] == {"standby": "on"}
    out = nodes.online(env, "node1")
    assert "transient standby removed" in out.text()
    wait_settled(env, 10)
    assert where(env, "web") == ["node1"]
    with pytest.raises(CommandError, match="invalid lifetime"):
        nodes.standby(env, "node1", lifetime="week")


def test_wait_also_waits_for_operations_in_flight() -> None:
    env = settled_env()
    env.busy = ["1 operations in flight (DC node1)"]

    def finish(e: MemoryEnv) -> None:
        if e.clock - start >= 1.0:
            e.busy = []

    start = env.clock
    env.on_sleep = finish
    lines: list[str] = []
    waited = wait_settled(env, 10, lines.append)
    assert waited >= 1.0 and "in flight" in lines[0]


def test_move_the_promoted_instance() -> None:
    env = settled_env()
    # What the Stateful agent's crm_master would set: promotion scores.
    env.set_transient("node1", "master-db", "10")
    env.set_transient("node2", "master-db", "5")
    wait_settled(env, 10)
    promoted = [d["node"] for d in r.locate(env, "ms").data["nodes"] if d["role"] == "Promoted"]
    assert len(promoted) == 1
    target = "node2" if promoted == ["node1"] else "node1"
    r.move(env, "ms", target, promoted=True)
    el = constraint(env, "cli-prefer-ms")
    assert el is not None and el.get("role") == "Promoted" and el.get("node") == target
    wait_settled(env, 10)
    assert r.locate(env, "ms").lines.count(f"resource ms is running on: {target} Promoted") == 1


def test_lifetime_ids_are_crm_resources() -> None:
    env = settled_env()
    r.ban(env, "web", "node1", lifetime="PT10M")
    ids = [el.get("id") for el in root_of(env).iter()
           if (el.get("id") or "").startswith("cli-")]
    assert ids == ["cli-ban-web-on-node1", "cli-ban-web-on-node1-rule",
                   "cli-ban-web-on-node1-expr", "cli-ban-web-on-node1-lifetime"]
    r.move(env, "web", "node2", lifetime="PT10M")
    ids = [el.get("id") for el in root_of(env).iter()
           if (el.get("id") or "").startswith("cli-prefer")]
    assert ids == ["cli-prefer-web", "cli-prefer-rule-web", "cli-prefer-expr-web",
                   "cli-prefer-lifetime-end-web"]
