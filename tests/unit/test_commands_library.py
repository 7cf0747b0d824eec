"""The command library as the web interface and sandboxes will call it: an environment built
from a CIB file path, results and reports as data, errors told apart by code, and every
library command of the CLI answering ``--json`` with data (refusals included)."""

from __future__ import annotations

import argparse
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from defib.cli.main import build_parser, main
from defib.commands import resource
from defib.commands.connection import Connection
from defib.commands.env import FileEnv, LiveEnv, MemoryEnv, open_env
from defib.commands.result import ReportedError
from defib.configure import commands as configure
from defib.errors import CommandError, NotConnectedError, UnsupportedOpError
from tests.unit.test_commands import settled_env


@pytest.fixture
def cib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cib.xml"
    path.write_text(settled_env().xml)
    monkeypatch.delenv("CIB_file", raising=False)
    return path


def test_env_from_a_file_path_and_results_as_data(cib: Path) -> None:
    env = open_env(file=cib)
    assert isinstance(env, FileEnv) and not env.live
    moved = resource.move(env, "web", "node2")
    assert moved.ok and moved.changed and moved.data["constraint"] == "cli-prefer-web"
    codes = [r.code for r in moved.reports]
    assert codes == ["prefers", "was-active"]
    assert moved.reports[0].ids == ("web", "node2", "cli-prefer-web")
    as_data = json.loads(json.dumps(moved.to_dict()))
    assert as_data["reports"][0] == {"code": "prefers", "severity": "info",
                                     "ids": ["web", "node2", "cli-prefer-web"],
                                     "message": moved.reports[0].message}
    # The configure language works on the same environment and reports the same way.
    added = configure.apply_script(env, "primitive extra ocf:heartbeat:Dummy", None)
    assert added.ok and added.changed and "primitive extra" in configure.show(env).output
    typo = configure.apply_script(env, "colocation c inf: extra wbe", None)
    (problem,) = typo.problems
    assert not typo.ok and problem.code == "missing-resource" and problem.suggestion == "web"
    assert problem.location is not None and problem.location.column is not None


def test_a_missing_file_is_refused_unless_created(tmp_path: Path) -> None:
    with pytest.raises(CommandError) as refused:
        open_env(file=tmp_path / "none.xml").read()
    assert refused.value.code == "no-cib-file"
    created = open_env(file=tmp_path / "new.xml", create=True)
    assert configure.apply_script(created, "primitive a ocf:heartbeat:Dummy", None).changed
    assert 'id="a"' in (tmp_path / "new.xml").read_text()


def test_invalid_write_is_refused_with_every_report() -> None:
    env = settled_env()
    before = env.xml
    with pytest.raises(ReportedError) as refused:
        resource.set_meta(env, "web", "target-role", "Strated")
    assert refused.value.code == refused.value.reports[0].code
    assert [r.severity for r in refused.value.reports] == ["error"]
    assert "web" in refused.value.reports[0].ids and env.xml == before


def test_no_cluster_is_an_error_with_a_code(tmp_path: Path) -> None:
    env = open_env(directory=tmp_path)
    assert isinstance(env, LiveEnv) and env.live
    with pytest.raises(NotConnectedError) as refused:
        env.read()
    assert refused.value.code == "not-connected"


@pytest.fixture
def daemon_without_ops(tmp_path: Path) -> Iterator[Path]:
    """A control socket (a real one) whose daemon offers no controller requests."""
    directory = tmp_path / "c"
    (directory / "n1").mkdir(parents=True)
    (directory / "cluster.toml").write_text(
        '[cluster]\nname = "t"\n\n[[node]]\nid = 1\nname = "n1"\naddresses = ["127.0.0.11:5405"]\n')
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(directory / "n1" / "control.sock"))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                op = json.loads(conn.makefile("rb").readline())["op"]
                conn.sendall(json.dumps({"ok": False, "error": f"unknown op {op!r}",
                                         "kind": "UnsupportedOpError"}).encode() + b"\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield directory
    finally:
        stop.set()
        server.close()
        thread.join(timeout=5)


def test_unsupported_request_told_by_kind_not_text(daemon_without_ops: Path) -> None:
    connection = Connection(daemon_without_ops)
    with pytest.raises(UnsupportedOpError):
        connection.request("crm_status")
    with pytest.raises(CommandError) as refused:
        LiveEnv(daemon_without_ops).in_flight()
    assert refused.value.code == "no-controller"


def _actions(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices.items())
    return {}


def _positionals(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not a.option_strings
            and not isinstance(a, argparse._SubParsersAction)]


def test_every_library_command_answers_json_even_when_refused(
        cib: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each resource and node action, run on a name that does not exist, and property,
    configure, cib and status: standard output is one JSON document with ok and reports,
    each report with a code; nothing on a refusal is matched by its text."""
    top = _actions(build_parser())
    runs: list[list[str]] = []
    for command in ("resource", "node"):
        for name, sub in _actions(top[command]).items():
            args = ["nosuch"] * sum(1 for a in _positionals(sub) if a.nargs is None)
            runs.append([command, name, *args])
    runs += [["property", "stonith-enabeld", "false"], ["configure", "show", "nosuch"],
             ["configure", "primitive", "x", "ocf:heartbeat:Dumy"], ["cib", "export"],
             ["configure", "show", "xml", "nosuch"]]
    refused = 0
    for argv in runs:
        try:
            code = main([*argv, "--file", str(cib), "--json"])
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        assert out.startswith("{"), (argv, out, err)
        answer = json.loads(out)
        assert isinstance(answer["ok"], bool) and answer["ok"] == (code == 0), argv
        assert all(r["code"] and r["severity"] for r in answer["reports"]), argv
        if argv[0] in ("resource", "node") and "nosuch" in argv:
            # A name that does not exist is refused, and said so as data.
            assert not answer["ok"] and answer["reports"][0]["severity"] == "error", argv
            refused += 1
    assert len(runs) >= 35 and refused >= 25


def test_trial_runs_leave_the_environment_alone() -> None:
    env = settled_env()
    trial = MemoryEnv(env.xml, is_live=False)
    resource.stop(trial, "web")
    assert "Stopped" in trial.xml and "Stopped" not in env.xml


def test_argument_errors_with_json_are_data_too(cib: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["resource", "mvoe", "web"], ["node", "standby"],
                 ["resource", "move", "web", "node2", "--lifetime"]):
        with pytest.raises(SystemExit) as exited:
            main([*argv, "--file", str(cib), "--json"])
        out, err = capsys.readouterr()
        (report,) = json.loads(out)["reports"]
        assert exited.value.code == 2 and report["code"] == "usage" and "usage:" in err


def test_a_refusal_for_want_of_confirmation_is_data_too(
        cib: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = cib.read_text()
    for argv in (["resource", "stop", "web"], ["configure", "erase"],
                 ["configure", "delete", "web"]):
        assert main([*argv, "--file", str(cib), "--json"]) == 1
        out, err = capsys.readouterr()
        codes = [r["code"] for r in json.loads(out)["reports"]]
        assert codes[-1] == "confirmation-needed" and len(codes) >= 2, argv
        assert "--force" in err
    assert cib.read_text() == before
    assert main(["resource", "stop", "web", "--file", str(cib), "--json", "--force"]) == 0
    assert json.loads(capsys.readouterr().out)["changed"] is True
