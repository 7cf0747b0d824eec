"""The crm_resource / crm node / crm ra commands added to the library: resource attributes
(param, meta, utilization), list, operations, refresh, why; node list, clearstate, delete;
agent classes, lists and metadata. On an in-memory CIB with the fake cluster."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from defib.commands import node as nodes
from defib.commands import ra
from defib.commands import resource as r
from defib.commands import rsc_info as ri
from defib.commands.env import MemoryEnv
from defib.commands.wait import pending, wait_settled
from defib.errors import CommandError, UnknownReferenceError
from tests.unit.test_commands import fail, root_of, settled_env, where


def test_param_utilization_meta_set_show_list_delete() -> None:
    env = settled_env()
    assert ri.attribute(env, "web", "param", "fake", "x").changed
    prim = root_of(env).find(".//primitive[@id='web']")
    assert prim is not None
    nv = prim.find("instance_attributes/nvpair[@name='fake']")
    assert nv is not None and nv.get("id") == "web-instance_attributes-fake"
    assert ri.attribute(env, "web", "param", "fake").data["value"] == "x"
    assert not ri.attribute(env, "web", "param", "fake", "x").changed
    assert ri.attribute(env, "web", "utilization", "cpu", "2").changed
    with pytest.raises(CommandError) as bad:
        ri.attribute(env, "web", "utilization", "cpu", "two")
    assert bad.value.code == "invalid-value"
    # meta on a clone's child goes to the clone, as crm_resource puts it
    assert ri.attribute(env, "ping", "meta", "resource-stickiness", "5").data["resource"] == "cl"
    assert ri.attribute(env, "web", "param").data["values"] == {"fake": "x"}
    assert ri.attribute(env, "web", "param", "fake", delete=True).changed
    with pytest.raises(CommandError) as missing:
        ri.attribute(env, "web", "param", "fake")
    assert missing.value.code == "attribute-not-set"
    with pytest.raises(UnknownReferenceError):
        ri.attribute(env, "wbe", "param")


def test_list_and_operations() -> None:
    env = settled_env()
    listed = ri.listing(env)
    ids = [rsc["id"] for rsc in listed.data["resources"]]
    assert ids == ["web", "grp", "ms", "cl"]
    assert any(line.startswith("* web\t") and "Started node1" in line for line in listed.lines)
    ops = ri.operations(env, "web").data["operations"]
    assert {(o["node"], o["operation"]) for o in ops} >= {("node1", "web_start_0"),
                                                          ("node2", "web_monitor_0")}
    assert all(o["resource"] == "web" for o in ops)
    only = ri.operations(env, None, "node2").data["operations"]
    assert only and {o["node"] for o in only} == {"node2"}


def test_refresh_forgets_history_and_the_cluster_probes_again() -> None:
    env = settled_env()
    out = ri.refresh(env, "web")
    assert out.reports[0].code == "refreshed" and out.data["cleaned"] == ["web"]
    assert root_of(env).find(".//lrm_resource[@id='web']") is None
    assert pending(env).actions >= 3
    wait_settled(env, 10)
    assert where(env, "web") == ["node1"]


def test_why_names_each_reason() -> None:
    env = settled_env()
    codes = [x["code"] for x in ri.why(env, "web").data["reasons"]]
    assert codes == ["running"]
    r.stop(env, "web")
    r.ban(env, "web", "node2")
    wait_settled(env, 10)
    reasons = ri.why(env, "web").data["reasons"]
    assert [x["code"] for x in reasons] == ["not-running", "target-role-stopped", "banned"]
    assert reasons[2]["ids"] == ["web", "node2", "cli-ban-web-on-node2"]
    r.start(env, "web")
    wait_settled(env, 10)
    fail(env, "1", "web", "INFINITY")
    text = ri.why(env, "web", "node1").output
    assert "'web' cannot run on 'node1' due to reaching migration threshold" in text
    nodes.standby(env, "node1")
    assert "node-standby" in [x["code"] for x in ri.why(env, "web").data["reasons"]]


def _node_down(env: MemoryEnv, node_id: str) -> None:
    root = root_of(env)
    state = root.find(f"status/node_state[@id='{node_id}']")
    assert state is not None
    state.set("in_ccm", "false")
    state.set("crmd", "offline")
    state.set("join", "down")
    state.set("expected", "down")
    env.xml = ET.tostring(root, encoding="unicode")


def test_node_list_clearstate_delete() -> None:
    env = settled_env()
    nodes.attribute(env, "node1", "rack", "r1")
    listed = nodes.listing(env)
    assert [n["name"] for n in listed.data["nodes"]] == ["node1", "node2"]
    assert listed.data["nodes"][0]["attributes"] == {"rack": "r1"}
    assert "node1(1): member: online" in listed.lines and "\track=r1" in listed.lines
    with pytest.raises(CommandError) as online:
        nodes.clearstate(env, "node2")
    assert online.value.code == "node-online"
    nodes.attribute(env, "node2", "probe", "1", lifetime="reboot")
    _node_down(env, "2")
    cleared = nodes.clearstate(env, "node2")
    assert cleared.changed and "probe" in cleared.data["attributes"]
    state = root_of(env).find("status/node_state[@id='2']")
    assert state is not None and state.find(".//lrm_resource") is None
    r.move(env, "web", "node2")
    deleted = nodes.delete(env, "node2")
    assert "cli-prefer-web" in deleted.data["removed"]
    assert root_of(env).find("configuration/nodes/node[@id='2']") is None
    assert root_of(env).find(".//rsc_location[@id='cli-prefer-web']") is None


def test_agents_classes_list_and_metadata() -> None:
    assert "heartbeat" in ra.classes().data["ocf_providers"]
    assert "Dummy" in ra.listing("ocf:heartbeat").data["agents"]
    dummy = ra.info("ocf:heartbeat:Dummy")
    names = {p["name"] for p in dummy.data["parameters"]}
    assert {"state", "fake"} <= names
    assert {a["name"] for a in dummy.data["actions"]} >= {"start", "stop", "monitor"}
    assert ra.info("Dummy").data["agent"] == "ocf:heartbeat:Dummy"
    with pytest.raises(CommandError) as unknown:
        ra.info("ocf:heartbeat:Dumy")
    assert unknown.value.code == "unknown-agent" and "did you mean 'Dummy'" in str(unknown.value)
    with pytest.raises(CommandError) as bad:
        ra.listing("ocff")
    assert bad.value.code == "unknown-class"


def test_tickets_grant_standby_revoke_move_what_is_bound() -> None:
    from defib.commands import ticket as t
    from defib.configure.commands import apply_script

    env = settled_env()
    assert apply_script(env, "rsc_ticket web-needs-a site-a: web loss-policy=stop", None).ok
    wait_settled(env, 10)
    assert where(env, "web") == []  # not granted: bound resources stay stopped
    assert t.listing(env).data["tickets"] == [{"id": "site-a", "status": "revoked",
                                               "standby": "false", "last-granted": ""}]
    granted = t.grant(env, "site-a")
    assert granted.changed and granted.reports[0].code == "ticket-granted"
    assert not t.grant(env, "site-a").changed
    wait_settled(env, 10)
    assert where(env, "web") == ["node1"]
    assert [d.code for d in t.dangers(env, "site-a")] == ["ticket-stops-resources"]
    t.standby(env, "site-a")
    wait_settled(env, 10)
    assert where(env, "web") == []
    t.activate(env, "site-a")
    wait_settled(env, 10)
    assert where(env, "web") == ["node1"]
    t.revoke(env, "site-a")
    wait_settled(env, 10)
    assert where(env, "web") == [] and t.dangers(env, "site-a") == []
    with pytest.raises(CommandError) as typo:
        t.revoke(env, "site-b")
    assert typo.value.code == "unknown-id" and "did you mean 'site-a'" in str(typo.value)


def test_ticket_revoke_asks_first_on_the_command_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from defib.cli.main import main
    from defib.commands import ticket as t
    from defib.configure.commands import apply_script

    env = settled_env()
    apply_script(env, "rsc_ticket web-needs-a site-a: web", None)
    t.grant(env, "site-a")
    wait_settled(env, 10)
    cib = tmp_path / "cib.xml"
    cib.write_text(env.xml)
    assert main(["ticket", "revoke", "site-a", "--file", str(cib)]) == 1
    out, err = capsys.readouterr()
    assert "stops resources bound to ticket site-a" in err and "--force" in err
    assert 'granted="true"' in cib.read_text()
    assert main(["ticket", "revoke", "site-a", "--file", str(cib), "--force"]) == 0
    assert 'granted="false"' in cib.read_text()


def test_crm_attribute_scopes_query_update_delete(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from defib.cli.main import main
    from defib.commands.attribute import EXIT_NOSUCH
    from defib.commands.attribute import attribute as crm_attribute

    env = settled_env()
    shown = crm_attribute(env, "stonith-enabled")
    assert shown.output == "scope=crm_config  name=stonith-enabled value=false"
    assert crm_attribute(env, "rack", node="node1", value="r12").changed
    assert crm_attribute(env, "rack", node="node1", quiet=True).output == "r12"
    assert crm_attribute(env, "pingd", node="node2", value="5", lifetime="reboot").changed
    assert crm_attribute(env, "pingd", "status", "node2").data["value"] == "5"
    assert crm_attribute(env, "cpu", node="node1", value="8", utilization=True).changed
    assert crm_attribute(env, "cpu", node="node1", utilization=True).data["value"] == "8"
    assert crm_attribute(env, "rack", node="node1", delete=True).changed
    with pytest.raises(CommandError) as unset:
        crm_attribute(env, "rack", node="node1")
    assert unset.value.code == "attribute-not-set"
    assert crm_attribute(env, "rack", node="node1", default="none").data["value"] == "none"
    with pytest.raises(CommandError) as no_node:
        crm_attribute(env, "rack", "nodes")
    assert no_node.value.code == "usage"
    cib = tmp_path / "cib.xml"
    cib.write_text(env.xml)
    assert main(["attribute", "-n", "no-quorum-policy", "-G", "--file", str(cib)]) == EXIT_NOSUCH
    assert main(["attribute", "-n", "no-quorum-policy", "-v", "freeze", "--file", str(cib)]) == 0
    capsys.readouterr()
    assert main(["attribute", "-n", "no-quorum-policy", "-q", "--file", str(cib)]) == 0
    assert capsys.readouterr().out == "freeze\n"
