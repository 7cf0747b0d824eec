"""--json everywhere: every command of the parser offers it (but for the few whose output is
not a result), and the cluster, sandbox and simulate commands answer with data."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from defib.cli.main import build_parser, main

CIB = Path(__file__).with_name("whatif_cib.xml")

# Commands whose output is not a command result, with the reason.
NOT_RESULTS = {
    "daemon": "runs a node in the foreground; what it says is its log",
    "demo": "a guided walk through a live cluster, written for people",
    "completion": "prints a shell script to be sourced",
    "man": "prints manual pages",
}


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
            ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
    for action in subs:
        for name, sub in action.choices.items():
            yield from _leaves(sub, (*path, name))


def test_every_command_offers_json() -> None:
    missing = [" ".join(path) for path, parser in _leaves(build_parser())
               if path[0] not in NOT_RESULTS
               and "--json" not in {o for a in parser._actions for o in a.option_strings}]
    assert not missing, missing


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = main(list(argv))
    out = capsys.readouterr().out
    assert out.startswith("{"), out
    answer = json.loads(out)
    assert answer["ok"] == (code == 0)
    return code, answer


def test_simulate_json_gives_the_summary_and_every_action(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, answer = _json(capsys, "simulate", "-x", str(CIB), "-S", "-f", "node1", "--json")
    assert code == 0
    summary = answer["summary"]
    assert isinstance(summary, list) and summary
    actions = answer["actions"]
    assert isinstance(actions, list)
    fence = [a for a in actions if a["task"] == "stonith"]
    assert fence and fence[0]["node"] == "node1" and fence[0]["executed_as"] is not None
    assert "Fence (reboot) node1" in str(answer["output"])
    # The same decisions as the text output.
    main(["simulate", "-x", str(CIB), "-S", "-f", "node1"])
    text = capsys.readouterr().out
    for line in summary:
        assert " ".join(line.split()) in " ".join(text.split()), line


def test_sandbox_commands_answer_json(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    for name in ("DEFIB_SANDBOX", "DEFIB_SANDBOX_DIR", "CIB_file", "DEFIB_SANDBOX_ACTIVE"):
        # set first, so that the value a command sets is undone too
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    live = tmp_path / "cib.xml"
    live.write_text(CIB.read_text())
    code, answer = _json(capsys, "sandbox", "new", "t1", "--file", str(live), "--json")
    assert code == 0 and answer["changed"] and answer["version"] == "0.5.9"
    assert main(["configure", "--sandbox", "t1", "primitive", "db", "ocf:heartbeat:Dummy"]) == 0
    capsys.readouterr()
    code, answer = _json(capsys, "sandbox", "list", "--json")
    (row,) = answer["sandboxes"]  # type: ignore[misc]
    assert row["name"] == "t1" and row["lines_changed"] > 0
    code, answer = _json(capsys, "sandbox", "diff", "t1", "--json")
    assert "primitive db" in str(answer["diff"])
    code, answer = _json(capsys, "sandbox", "inject", "t1", "op", "nosuch_start_0@node1=1",
                         "--json")
    assert code == 1 and answer["reports"][0]["code"] == "injection-refused"  # type: ignore[index]
    code, answer = _json(capsys, "sandbox", "commit", "t1", "--json")
    assert code == 0 and answer["changed"] and answer["epoch"] == 6
    live.write_text(live.read_text().replace('epoch="6"', 'epoch="7"'))
    assert main(["configure", "--sandbox", "t1", "primitive", "db2", "ocf:heartbeat:Dummy"]) == 0
    capsys.readouterr()
    code, answer = _json(capsys, "sandbox", "commit", "t1", "--json")
    assert code == 1 and answer["reports"][-1]["code"] == "sandbox-stale"  # type: ignore[index]
    code, answer = _json(capsys, "sandbox", "delete", "t1", "--json")
    assert code == 1 and answer["reports"][-1]["code"] == "confirmation-needed"  # type: ignore[index]
    code, answer = _json(capsys, "sandbox", "delete", "t1", "--json", "--force")
    assert code == 0 and answer["changed"]


def test_cluster_keygen_and_setup_answer_json(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, answer = _json(capsys, "cluster", "keygen", "--dir", str(tmp_path), "--json")
    assert code == 0 and answer["path"] == str(tmp_path / "authkey")
    assert (tmp_path / "authkey").stat().st_mode & 0o777 == 0o600
    code, answer = _json(capsys, "cluster", "stop", "--dir", str(tmp_path / "none"), "--json")
    assert code == 1 and answer["reports"][0]["severity"] == "error"  # type: ignore[index]
