"""Sandboxes on a CIB file (the same commands as on a live cluster; tests/cluster has those)."""

from __future__ import annotations

import re
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from defib.cli.main import main
from defib.sandbox import store

CIB = Path(__file__).with_name("whatif_cib.xml").read_text()


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A CIB file standing for the cluster; sandboxes under a private state directory."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    for name in ("DEFIB_SANDBOX", "DEFIB_SANDBOX_DIR", "CIB_file", "DEFIB_SANDBOX_ACTIVE"):
        # set first, so that the value a command sets is undone too
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    path = tmp_path / "cib.xml"
    path.write_text(CIB)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _ids(path: Path) -> set[str]:
    return {p.get("id", "") for p in ET.parse(path).getroot().iter("primitive")}


def test_new_copies_privately_and_remembers_the_version(
        live: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "sandbox", "new", "try1", "--file", str(live))
    assert code == 0 and "at version 0.5.9" in out
    box = store.load("try1")
    assert box.base_version == (0, 5, 9)
    assert box.source.kind == "file" and box.source.where == str(live.resolve())
    assert box.directory.parent == live.parent / "state" / "defib" / "sandboxes"
    assert stat.S_IMODE(box.directory.stat().st_mode) == 0o700
    for path in box.directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    code, _, err = run(capsys, "sandbox", "new", "try1", "--file", str(live))
    assert code == 1 and "exists already" in err


def test_commands_work_inside_and_leave_the_original_alone(
        live: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    run(capsys, "sandbox", "new", "try1", "--file", str(live))
    code, _, err = run(capsys, "configure", "primitive", "db", "ocf:heartbeat:Dummy",
                       "--sandbox", "try1")
    assert code == 0, err
    monkeypatch.setenv("DEFIB_SANDBOX", "try1")
    code, _, err = run(capsys, "resource", "stop", "web", "--force")
    assert code == 0, err
    assert "in sandbox try1" in err  # the environment's sandbox is named
    assert "db" in _ids(store.load("try1").path)
    assert "db" not in _ids(live)
    code, out, _ = run(capsys, "sandbox", "diff", "try1")
    assert "+primitive db Dummy" in out and "target-role=Stopped" in out
    code, out, _ = run(capsys, "explain", "db")  # explained from the sandbox's CIB
    assert code == 0 and "db (ocf:heartbeat:Dummy) is stopped; it will start" in out


def test_commands_that_need_the_cluster_are_refused_in_a_sandbox(
        live: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    run(capsys, "sandbox", "new", "try1", "--file", str(live))
    code, _, err = run(capsys, "status", "--sandbox", "try1")
    assert code == 1 and "not in a sandbox" in err
    monkeypatch.setenv("DEFIB_SANDBOX", "try1")
    code, _, err = run(capsys, "cluster", "stop")
    assert code == 1 and "not in a sandbox" in err
    code, _, err = run(capsys, "configure", "show", "--sandbox", "try1", "--file", str(live))
    assert code == 1 and "not both" in err
    code, _, err = run(capsys, "configure", "show", "--sandbox", "nosuch")
    assert code == 1 and "no sandbox nosuch" in err


def test_simulate_shows_what_the_cluster_would_do(
        live: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "sandbox", "new", "try1", "--file", str(live))
    run(capsys, "configure", "--sandbox", "try1", "location", "web-on-1", "web", "inf:", "node1")
    svg = tmp_path / "graph.svg"
    code, out, _ = run(capsys, "sandbox", "simulate", "try1", "--svg", str(svg))
    assert code == 0
    assert "Move       web     ( node2 -> node1 )" in out
    # The same as defib simulate on the sandbox's file.
    _, plain, _ = run(capsys, "simulate", "-S", "--sandbox", "try1")
    assert plain == out
    assert ET.parse(svg).getroot().tag.endswith("svg")
    code, out, _ = run(capsys, "sandbox", "inject", "try1", "node-fail", "node1")
    assert code == 0 and "Failing node node1" in out
    _, out, _ = run(capsys, "sandbox", "simulate", "try1")
    assert "Fence (reboot) node1" in out


def test_commit_applies_the_configuration_only(
        live: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "sandbox", "new", "try1", "--file", str(live))
    run(capsys, "configure", "--sandbox", "try1", "primitive", "db", "ocf:heartbeat:Dummy")
    run(capsys, "sandbox", "inject", "try1", "node-fail", "node2")
    code, out, err = run(capsys, "sandbox", "commit", "try1")
    assert code == 0, err
    assert "+primitive db Dummy" in out and "committed sandbox try1" in out
    root = ET.parse(live).getroot()
    assert "db" in _ids(live)
    assert root.get("epoch") == "6"
    # The injected failure stayed in the sandbox: the status is the cluster's.
    node2 = root.find("status/node_state[@uname='node2']")
    assert node2 is not None and node2.get("in_ccm") == "true"
    assert store.load("try1").base_version[1] == 6  # rebased on what it committed
    code, out, _ = run(capsys, "sandbox", "commit", "try1")
    assert code == 0 and "nothing to commit" in out


def test_commit_refused_after_a_concurrent_change_with_a_three_way_diff(
        live: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "sandbox", "new", "try1", "--file", str(live))
    run(capsys, "configure", "--sandbox", "try1", "primitive", "db", "ocf:heartbeat:Dummy")
    run(capsys, "configure", "--sandbox", "try1", "primitive", "both", "ocf:heartbeat:Dummy")
    # Meanwhile, somebody changes the original.
    run(capsys, "configure", "--file", str(live), "primitive", "theirs", "ocf:heartbeat:Dummy")
    run(capsys, "configure", "--file", str(live), "primitive", "both", "ocf:heartbeat:Delay")
    before = live.read_text()
    code, out, err = run(capsys, "sandbox", "commit", "try1", "--force")
    assert code == 1
    assert "refused" in err and "epoch 5 -> 7" in err
    assert live.read_text() == before  # nothing written
    sections = re.split(r"^# ", out, flags=re.M)
    ours = next(s for s in sections if s.startswith("changed in sandbox try1 only"))
    theirs = next(s for s in sections if s.startswith("changed in the cluster"))
    conflicts = next(s for s in sections if s.startswith("changed on both sides differently"))
    assert "+ primitive db Dummy" in ours
    assert "+ primitive theirs Dummy" in theirs
    assert "primitive both Dummy" in conflicts and "primitive both Delay" in conflicts
    code, out, _ = run(capsys, "sandbox", "diff", "try1", "--live")
    assert code == 0 and "conflicts" in out


def test_commit_of_a_dangerous_change_needs_force(
        live: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "sandbox", "new", "try1", "--file", str(live))
    run(capsys, "configure", "--sandbox", "try1", "delete", "web", "--force")
    code, _, err = run(capsys, "sandbox", "commit", "try1")
    assert code == 1 and "deletes running resources: web" in err and "--force" in err
    assert "web" in _ids(live)
    code, _, err = run(capsys, "sandbox", "commit", "try1", "--force")
    assert code == 0, err
    assert "web" not in _ids(live)


def test_list_and_delete(live: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "sandbox", "list")
    assert "no sandboxes" in out
    run(capsys, "sandbox", "new", "a", "--file", str(live))
    run(capsys, "sandbox", "new", "b", "--file", str(live))
    run(capsys, "configure", "--sandbox", "b", "primitive", "db", "ocf:heartbeat:Dummy")
    _, out, _ = run(capsys, "sandbox", "list")
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["a", "unchanged"]
    assert lines[1].split()[0] == "b" and "lines changed" in lines[1]
    code, _, _ = run(capsys, "sandbox", "delete", "a")
    assert code == 0 and store.names() == ["b"]
    code, _, err = run(capsys, "sandbox", "delete", "b")  # holds changes: asks first
    assert code == 1 and "never committed" in err and store.names() == ["b"]
    code, _, _ = run(capsys, "sandbox", "delete", "b", "--force")
    assert code == 0 and store.names() == []
    code, _, err = run(capsys, "sandbox", "new", "../x", "--file", str(live))
    assert code == 1 and "bad sandbox name" in err
