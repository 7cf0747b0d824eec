"""The history explorer's API (timeline, one transition opened, replay in a sandbox) and
explain, on a real history database and saved scheduler inputs."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from defib.commands.env import MemoryEnv
from defib.errors import CommandError
from defib.history.store import HistoryEvent, HistoryStore
from defib.web.api import history, sandbox, usersandbox
from tests.unit.webapi_support import CIB, call

R = history.ROUTES + sandbox.ROUTES
NOW = 1_700_000_000.0
# pe-input-2: the same cluster with a new preference for node2 (web moves there).
MOVED = CIB.replace("<constraints/>", '<constraints><rsc_location id="prefer" rsc="web" '
                    'node="node2" score="100"/></constraints>').replace('epoch="5"', 'epoch="6"')


@dataclass
class RecordedEnv(MemoryEnv):
    history_source: history.StoreHistory | None = None


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RecordedEnv:
    monkeypatch.setenv("DEFIB_SANDBOX_DIR", str(tmp_path / "sandboxes"))
    pengine = tmp_path / "pengine"
    pengine.mkdir()
    (pengine / "pe-input-1.xml").write_text(CIB)
    (pengine / "pe-input-2.xml").write_text(MOVED)
    store = HistoryStore(tmp_path / "history.sqlite")
    store.add([
        HistoryEvent(ts=NOW - 600, kind="config", rsc="prefer", user="alice",
                     summary="rsc_location prefer added by alice"),
        HistoryEvent(ts=NOW - 599, kind="transition", transition=2,
                     summary="transition 2 (pe-input-2): 4 actions; cause: configuration "
                             "changed", detail={"cause": "configuration changed",
                                                "summary": ["* Move web ( node1 -> node2 )"]}),
        HistoryEvent(ts=NOW - 598, kind="operation", rsc="web", node="node2", transition=2,
                     summary="start of web on node2: unknown error — FAILED",
                     detail={"failed": True}),
        HistoryEvent(ts=NOW - 597, kind="transition", transition=2,
                     summary="transition 2 complete: 3 run, 1 failed",
                     detail={"complete": True, "failed": ["web_start_0"]}),
        HistoryEvent(ts=NOW - 10, kind="membership", summary="membership: node1, node2"),
    ])
    store.close()
    return RecordedEnv(MOVED, clock=NOW, is_live=False,
                       history_source=history.StoreHistory(tmp_path / "history.sqlite",
                                                           pengine))


def test_timeline_filters_by_time_resource_and_kind(env: RecordedEnv) -> None:
    every = call(R, "GET", "/api/history", env).body
    assert len(every["events"]) == 5 and every["transitions"] == [2]
    recent = call(R, "GET", "/api/history", env, query={"since": "5min"}).body["events"]
    assert [e["kind"] for e in recent] == ["membership"]
    window = call(R, "GET", "/api/history", env,
                  query={"since": str(NOW - 599.5), "until": str(NOW - 597.5)}).body["events"]
    assert [e["kind"] for e in window] == ["transition", "operation"]
    ops = call(R, "GET", "/api/history", env, query={"kind": "operation"}).body["events"]
    assert [e["summary"] for e in ops] == ["start of web on node2: unknown error — FAILED"]
    assert ops[0]["transition"] == 2  # the failed action leads to its transition
    web = call(R, "GET", "/api/history", env, query={"rsc": "web"}).body["events"]
    assert {e["kind"] for e in web} == {"transition", "operation", "membership"}
    with pytest.raises(CommandError, match="unknown kind"):
        call(R, "GET", "/api/history", env, query={"kind": "weather"})


def test_transition_opened_with_graph_diff_log_and_why(env: RecordedEnv) -> None:
    got = call(R, "GET", "/api/history/transitions/2", env).body
    assert got["summary"] == ["* Move       web     ( node1 -> node2 )"]
    assert "+location prefer web 100: node2" in got["diff"]
    assert "location constraint prefer gives node2 +100" in got["explanation"]
    assert "transition 2 complete: 3 run, 1 failed" in got["explanation"]
    assert [e["kind"] for e in got["events"]] == ["transition", "operation", "transition"]
    picture = ET.fromstring(got["svg"])
    assert picture.tag.endswith("svg") and "Transition 2" in got["svg"]
    first = call(R, "GET", "/api/history/transitions/1", env).body
    assert first["diff"] == ""  # pe-input-0 is not kept: nothing to compare with
    with pytest.raises(CommandError, match="pe-input-9"):
        call(R, "GET", "/api/history/transitions/9", env)


def test_replay_puts_the_saved_input_in_the_sandbox(env: RecordedEnv) -> None:
    answer = call(R, "POST", "/api/history/transitions/2/replay", env).body
    assert answer["sandbox"]["source"] == "replay pe-input-2"  # Source.describe of a replay
    box = usersandbox.find_by_user("alice", env)
    assert box is not None and box.read() == MOVED
    shown = call(R, "POST", "/api/sandbox/simulate", env, {}).body
    # A replay is simulated on its own status: what the scheduler decided then.
    assert shown["after"]["summary"] == ["* Move       web     ( node1 -> node2 )"]
    with pytest.raises(CommandError, match="replays a saved scheduler input"):
        call(R, "POST", "/api/sandbox/commit", env, {})


def test_explain_any_resource(env: RecordedEnv) -> None:
    got = call(R, "GET", "/api/explain/web", env).body
    assert got["text"].startswith("web (ocf:heartbeat:Dummy) runs on node1; it will move to "
                                  "node2.")
    assert any("prefer" in c["text"] for a in got["answers"] for c in a["causes"])
    assert "node2" in got["scores"] and "chosen" in got["scores"]
    with pytest.raises(CommandError):
        call(R, "GET", "/api/explain/nosuch", env)


def test_without_a_recorded_history_it_says_so() -> None:
    with pytest.raises(CommandError, match="no history here"):
        call(R, "GET", "/api/history", MemoryEnv(CIB, is_live=False))
