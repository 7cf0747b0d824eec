"""The preview API: a change in the user's sandbox simulated before and after (summary and
graph), with what-if events, then committed (only over the configuration it was copied from)
or discarded."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from defib.commands.env import epoch_of
from defib.errors import CommandError
from defib.web.api import edit, sandbox, usersandbox
from tests.unit.webapi_support import call, memory_env

R = edit.ROUTES + sandbox.ROUTES


@pytest.fixture(autouse=True)
def sandboxes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DEFIB_SANDBOX_DIR", str(tmp_path / "sandboxes"))
    return tmp_path / "sandboxes"


def _ban_web_from_node1(env: object) -> None:
    answer = call(R, "POST", "/api/config/objects", env,  # type: ignore[arg-type]
                  {"kind": "location", "id": "away", "rsc": "web", "node": "node1",
                   "score": "-INFINITY"})
    assert answer.status == 200, answer.body


def test_preview_shows_the_change_before_and_after_with_graphs() -> None:
    env = memory_env()
    assert call(R, "GET", "/api/sandbox", env).body["exists"] is False
    _ban_web_from_node1(env)
    state = call(R, "GET", "/api/sandbox", env).body
    assert state["exists"] and state["stale"] is None
    assert "+location away web -inf: node1" in state["diff"]
    assert state["changes"] == [{"kind": "location", "id": "away", "change": "added",
                                 "before": None, "after": "location away web -inf: node1"}]
    shown = call(R, "POST", "/api/sandbox/simulate", env, {}).body
    assert shown["before"]["summary"] == []
    assert shown["after"]["summary"] == ["* Move       web     ( node1 -> node2 )"]
    svg = ET.fromstring(shown["after"]["svg"])
    assert svg.tag.endswith("svg")
    assert "web" in shown["after"]["svg"] and "node2" in shown["after"]["svg"]
    assert "Transition Summary:" in shown["after"]["output"]
    assert env.writes == []


def test_what_if_events_apply_to_both_sides() -> None:
    env = memory_env()
    _ban_web_from_node1(env)
    shown = call(R, "POST", "/api/sandbox/simulate", env,
                 {"events": {"node_fail": ["node2"]}}).body
    # Without the change, node2 failing leaves web where it is; with it, web has nowhere
    # to go (banned from node1, node2 gone): it stops.
    assert shown["before"]["summary"] == []
    assert shown["after"]["summary"] == ["* Stop       web     ( node1 )  due to node availability"]
    assert "Performing Requested Modifications" in shown["after"]["output"]
    failing = call(R, "POST", "/api/sandbox/simulate", env,
                   {"events": {"op_inject": ["web_monitor_10000@node1=7"]}}).body
    assert any("Recover" in line for line in failing["before"]["summary"])
    with pytest.raises(CommandError, match="unknown event"):
        call(R, "POST", "/api/sandbox/simulate", env, {"events": {"meteor": ["node1"]}})


def test_commit_applies_the_change_once_confirmed() -> None:
    env = memory_env()
    _ban_web_from_node1(env)
    asked = call(R, "POST", "/api/sandbox/commit", env, {})
    # It moves a running resource away: not a danger (nothing stops), so it goes through.
    assert asked.status == 200, asked.body
    assert asked.body["changed"] and "+location away web -inf: node1" in asked.body["changes"]
    assert env.writes == ["configuration"]
    assert "away" in env.xml
    again = call(R, "POST", "/api/sandbox/commit", env, {})
    assert again.status == 200 and again.body["changed"] is False  # based on what it wrote


def test_commit_of_a_stop_asks_for_confirmation() -> None:
    env = memory_env()
    text = call(R, "GET", "/api/config/text", env, query={"source": "sandbox"}).body
    stopped = text["text"].replace("primitive web Dummy",
                                   "primitive web Dummy \\\n\tmeta target-role=Stopped")
    put = call(R, "PUT", "/api/config/text", env, {"text": stopped, "base": text["base"]})
    assert put.status == 200, put.body
    asked = call(R, "POST", "/api/sandbox/commit", env, {})
    assert asked.status == 409 and asked.body["needs_confirmation"]
    assert any(r["code"] == "stop-running" for r in asked.body["reports"])
    assert env.writes == []
    done = call(R, "POST", "/api/sandbox/commit", env, {"confirm": True})
    assert done.status == 200 and env.writes == ["configuration"]


def test_commit_is_refused_when_the_cluster_changed_since_the_copy() -> None:
    env = memory_env()
    _ban_web_from_node1(env)
    # Someone else changes the cluster meanwhile.
    env.write_section("crm_config", '<crm_config><cluster_property_set id="cib-bootstrap-'
                      'options"><nvpair id="o1" name="stonith-enabled" value="false"/>'
                      '<nvpair id="o2" name="no-quorum-policy" value="ignore"/>'
                      "</cluster_property_set></crm_config>", base=epoch_of(env.xml))
    state = call(R, "GET", "/api/sandbox", env).body
    assert state["stale"] is not None and state["stale"]["ours"] == ["location away"]
    assert state["stale"]["theirs"] == ["property cib-bootstrap-options"]
    refused = call(R, "POST", "/api/sandbox/commit", env, {"confirm": True})
    assert refused.status == 409 and refused.body["conflict"]
    assert "changed since the sandbox was copied" in refused.body["reports"][0]["message"]
    assert "away" not in env.xml
    fresh = call(R, "POST", "/api/sandbox", env).body  # copy again: the change is gone
    assert fresh["stale"] is None and fresh["diff"] == ""


def test_discard_deletes_the_sandbox_and_users_have_their_own() -> None:
    env = memory_env()
    _ban_web_from_node1(env)
    bob = call(R, "GET", "/api/sandbox", env, user="bob o'hara").body
    assert bob["exists"] is False and bob["name"].startswith("web-bob_o_hara-")
    assert call(R, "DELETE", "/api/sandbox", env).body == {"ok": True, "deleted": True}
    assert usersandbox.find_by_user("alice", env) is None
