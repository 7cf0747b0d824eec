"""The editing API: agent metadata, the configuration text validated and applied, forms;
every change lands in the user's sandbox, never in the cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from defib.errors import CommandError
from defib.sandbox import store
from defib.web.api import edit, forms, usersandbox
from tests.unit.webapi_support import call, memory_env


@pytest.fixture(autouse=True)
def sandboxes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DEFIB_SANDBOX_DIR", str(tmp_path / "sandboxes"))
    return tmp_path / "sandboxes"


R = edit.ROUTES


def test_agent_metadata_puts_required_parameters_first_with_their_help() -> None:
    env = memory_env()
    meta = call(R, "GET", "/api/agents/ocf:heartbeat:IPaddr2", env).body
    assert meta["agent"] == "ocf:heartbeat:IPaddr2"
    first = meta["parameters"][0]
    assert first["name"] == "ip" and first["required"] and first["longdesc"]
    required = [p["required"] for p in meta["parameters"]]
    assert required == sorted(required, reverse=True)  # every required one before the rest
    assert any(p["name"] == "cidr_netmask" and p["type"] for p in meta["parameters"])
    assert {a["name"] for a in meta["actions"]} >= {"start", "stop", "monitor"}
    assert any(m["name"] == "migration-threshold" for m in meta["meta"])
    listed = call(R, "GET", "/api/agents", env, query={"class": "ocf"}).body["agents"]
    assert "ocf:heartbeat:Dummy" in listed and "ocf:heartbeat:IPaddr2" in listed
    with pytest.raises(CommandError, match="not installed"):
        call(R, "GET", "/api/agents/ocf:heartbeat:Dumy", env)


def test_validate_reports_a_typo_with_its_line_column_and_suggestion() -> None:
    env = memory_env()
    text = call(R, "GET", "/api/config/text", env).body["text"]
    good = call(R, "POST", "/api/config/validate", env, {"text": text}).body
    assert good == {"ok": True, "source": "live", "reports": []}
    typo = text + "primitve db ocf:heartbeat:Dummy\n"
    bad = call(R, "POST", "/api/config/validate", env, {"text": typo}).body
    assert not bad["ok"]
    (report,) = bad["reports"]
    assert report["line"] == len(text.splitlines()) + 1 and report["column"] == 1
    assert report["suggestion"] == "primitive"
    assert env.writes == []  # validation writes nothing, anywhere
    assert store.names() == []


def test_applying_text_with_an_error_changes_nothing_and_says_where() -> None:
    env = memory_env()
    got = call(R, "GET", "/api/config/text", env, query={"source": "sandbox"}).body
    assert got["source"] == "sandbox"
    box = usersandbox.find_by_user("alice", env)
    before = box.read()
    text = got["text"] + "colocation c inf: web nosuch\n"
    answer = call(R, "PUT", "/api/config/text", env, {"text": text, "base": got["base"]})
    assert answer.status == 422
    (report,) = answer.body["reports"]
    assert report["code"] == "missing-resource" and "line" in report
    assert box.read() == before
    text = got["text"] + "primitive db ocf:heartbeat:Dummy\n"
    answer = call(R, "PUT", "/api/config/text", env, {"text": text, "base": got["base"]})
    assert answer.status == 200 and "+primitive db Dummy" in answer.body["diff"]
    assert env.writes == []  # the cluster is only ever written by a sandbox commit
    again = call(R, "PUT", "/api/config/text", env, {"text": text, "base": got["base"]})
    assert again.status == 409  # based on the sandbox as it was before the first apply


def test_primitive_form_gets_the_agents_default_operations_in_the_sandbox() -> None:
    env = memory_env()
    form = {"kind": "primitive", "id": "vip", "agent": "ocf:heartbeat:IPaddr2",
            "params": {"ip": "198.18.0.10", "cidr_netmask": "24", "nic": ""},
            "meta": {"migration-threshold": "3"}, "utilization": {"cpu": "1"},
            "ops": [{"name": "monitor", "interval": "10s"}]}
    answer = call(R, "POST", "/api/config/objects", env, form)
    assert answer.status == 200, answer.body
    assert answer.body["text"].startswith("primitive vip ocf:heartbeat:IPaddr2 \\\n\tparams "
                                          "ip=198.18.0.10 cidr_netmask=24")
    shown = call(R, "GET", "/api/config/objects/vip", env).body
    assert shown["form"]["params"] == {"ip": "198.18.0.10", "cidr_netmask": "24"}
    assert {op["name"] for op in shown["form"]["ops"]} == {"monitor", "start", "stop"}
    assert "nic" not in shown["text"]  # an empty field is no parameter
    objects = call(R, "GET", "/api/config/objects", env).body
    assert objects["source"] == "sandbox" and "vip" in objects["objects"]["primitive"]
    assert objects["nodes"] == ["node1", "node2"]
    assert env.writes == []


def test_form_errors_are_reported_and_nothing_is_written() -> None:
    env = memory_env()
    answer = call(R, "POST", "/api/config/objects", env,
                  {"kind": "primitive", "id": "vip", "agent": "ocf:heartbeat:IPaddr2"})
    assert answer.status == 200  # as in crmsh, a missing required parameter is a warning
    assert any(r["severity"] == "warning" and "ip" in r["message"]
               for r in answer.body["reports"])
    before = usersandbox.find_by_user("alice", env).read()
    answer = call(R, "POST", "/api/config/objects", env,
                  {"kind": "primitive", "id": "other", "agent": "ocf:heartbeat:Dummy",
                   "meta": {"migration-threshold": "lots"}})
    assert answer.status == 422
    assert any(r["severity"] == "error" and "migration-threshold" in r["message"]
               for r in answer.body["reports"])
    assert answer.body["text"] == ("primitive other ocf:heartbeat:Dummy \\\n"
                                   "\tmeta migration-threshold=lots")
    assert usersandbox.find_by_user("alice", env).read() == before
    with pytest.raises(CommandError, match="must be a name"):
        call(R, "POST", "/api/config/objects", env,
             {"kind": "group", "id": "g\nprimitive x", "members": ["web"]})


def test_group_reorder_replaces_the_group_and_delete_removes_it() -> None:
    env = memory_env()
    for ident in ("a", "b"):
        call(R, "POST", "/api/config/objects", env,
             {"kind": "primitive", "id": ident, "agent": "ocf:heartbeat:Dummy"})
    call(R, "POST", "/api/config/objects", env, {"kind": "group", "id": "g",
                                                 "members": ["a", "b"]})
    answer = call(R, "POST", "/api/config/objects", env, {"kind": "group", "id": "g",
                                                          "members": ["b", "a"]})
    assert answer.status == 200, answer.body
    assert call(R, "GET", "/api/config/objects/g", env).body["form"]["members"] == ["b", "a"]
    answer = call(R, "DELETE", "/api/config/objects/g", env)
    assert answer.status == 200
    assert "g" not in call(R, "GET", "/api/config/objects", env).body["objects"].get(
        "group", [])


@pytest.mark.parametrize(("form", "text"), [
    ({"kind": "clone", "id": "c", "rsc": "web", "promotable": True},
     "clone c web \\\n\tmeta promotable=true"),
    ({"kind": "location", "id": "l", "rsc": "web", "node": "node2", "score": "-INFINITY"},
     "location l web -INFINITY: node2"),
    ({"kind": "location", "id": "l", "rsc": "web", "rule": "100: #uname eq node2"},
     "location l web rule 100: #uname eq node2"),
    ({"kind": "colocation", "id": "c", "score": "inf", "resources": "a ( b c )"},
     "colocation c inf: a ( b c )"),
    ({"kind": "order", "id": "o", "resources": ["a", "b"],
      "symmetrical": False}, "order o Mandatory: a b symmetrical=false"),
    ({"kind": "rsc_ticket", "id": "t", "ticket": "tk", "resources": "web",
      "loss_policy": "stop"}, "rsc_ticket t tk: web loss-policy=stop"),
    ({"kind": "tag", "id": "t", "members": "a b"}, "tag t a b"),
    ({"kind": "property", "values": {"no-quorum-policy": "ignore"}},
     "property no-quorum-policy=ignore"),
    ({"kind": "rsc_defaults", "values": {"resource-stickiness": "100"}},
     "rsc_defaults resource-stickiness=100"),
])
def test_forms_become_crmsh_statements(form: dict[str, object], text: str) -> None:
    assert forms.statement(form) == text


def test_values_are_quoted_and_names_checked() -> None:
    assert forms.quote('a "b" c') == '"a \\"b\\" c"'
    assert forms.quote("198.18.0.1/24") == "198.18.0.1/24"
    with pytest.raises(CommandError):
        forms.quote("two\nlines")
    with pytest.raises(CommandError, match="score"):
        forms.statement({"kind": "colocation", "id": "c", "score": "always",
                         "resources": "a b"})
    with pytest.raises(CommandError, match="no form"):
        forms.statement({"kind": "bundle"})
