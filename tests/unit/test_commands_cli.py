"""The everyday commands through the real CLI parser and dispatch, on a CIB file."""

from __future__ import annotations

import argparse
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from defib.cli.main import build_parser, main
from tests.unit.test_commands import settled_env


@pytest.fixture
def cib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cib.xml"
    path.write_text(settled_env().xml)
    monkeypatch.delenv("CIB_file", raising=False)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _actions(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices.items())
    return {}


def test_every_everyday_command_has_help_with_an_example() -> None:
    top = _actions(build_parser())
    checked = 0
    for command in ("resource", "node", "property"):
        parser = top[command]
        assert "example" in parser.format_help()
        for name, sub in _actions(parser).items():
            text = sub.format_help()
            assert "example:" in text and f"defib {command} {name}" in text, name
            checked += 1
    assert checked >= 20


def test_move_ban_clear_on_a_file(cib: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "resource", "--file", str(cib), "move", "web", "node2")
    assert code == 0 and "prefers node2" in out
    code, out, _ = run(capsys, "resource", "ban", "web", "--node", "node1", "--file", str(cib),
                       "--lifetime", "P1D", "--json")
    assert code == 0 and '"constraint": "cli-ban-web-on-node1"' in out
    root = ET.parse(cib).getroot()
    assert root.find(".//rsc_location[@id='cli-prefer-web']") is not None
    assert root.find(".//rsc_location[@id='cli-ban-web-on-node1']/rule/date_expression") \
        is not None
    code, out, _ = run(capsys, "resource", "clear", "web", "--file", str(cib))
    assert code == 0 and "cli-prefer-web" in out
    assert "cli-" not in cib.read_text()


def test_errors_exit_non_zero_with_the_reason(cib: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "resource", "--file", str(cib), "move", "wbe", "node2")
    assert code == 1 and "no resource 'wbe'" in err and "did you mean 'web'" in err
    code, _, err = run(capsys, "resource", "--file", str(cib), "mvoe", "web", "node2")
    assert code == 2 and "unknown action 'mvoe'" in err and "did you mean 'move'" in err
    code, _, err = run(capsys, "node", "--file", str(cib), "standby", "node9")
    assert code == 1 and "no node 'node9'" in err
    code, _, err = run(capsys, "property", "--file", str(cib), "no-quorum-policy=sometimes")
    assert code == 1 and "one of stop, freeze" in err
    code, _, err = run(capsys, "resource", "--file", str(cib), "move", "web", "node2", "--wait")
    assert code == 1 and "--wait needs a running cluster" in err


def test_node_and_property_on_a_file(cib: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIB_file", str(cib))
    assert run(capsys, "node", "standby", "node1")[0] == 0
    assert 'name="standby" value="on"' in cib.read_text()
    code, out, _ = run(capsys, "node", "utilization", "node2", "memory", "2048")
    assert code == 0 and "memory=2048" in out
    assert run(capsys, "property", "placement-strategy", "balanced")[0] == 0
    code, out, _ = run(capsys, "property", "placement-strategy")
    assert out.strip() == "placement-strategy=balanced"
    code, out, _ = run(capsys, "property", "--delete", "placement-strategy")
    assert code == 0 and "deleted" in out
    code, out, _ = run(capsys, "resource", "locate", "grp")
    assert out.strip() == "resource grp is running on: node2"
    code, out, _ = run(capsys, "resource", "failcount", "web")
    assert "name=fail-count-web  value=0" in out


def _complete_in_bash(script: str, line: str, env: dict[str, str]) -> list[str]:
    """What bash offers for ``line`` (the word being completed is its last, maybe empty)."""
    import shlex
    import subprocess
    import sys

    words = line.split(" ")
    # The script calls ``defib``: this checkout's, through a function.
    defib = f'defib() {{ {shlex.quote(sys.executable)} -m defib.cli.main "$@"; }}\n'
    array = " ".join(shlex.quote(w) for w in words)
    check = subprocess.run(["bash", "-c", defib + script + f"\nCOMP_WORDS=({array}); "
                            f"COMP_CWORD={len(words) - 1}; _defib; "
                            'printf "%s\\n" "${COMPREPLY[@]}"'],
                           capture_output=True, text=True, env=env, check=False, timeout=60)
    assert check.returncode == 0, check.stderr
    return check.stdout.split()


def test_completion_of_resource_node_agent_and_ticket_names(
        cib: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import os

    code, script, _ = run(capsys, "completion", "bash")
    assert code == 0
    env = {**os.environ, "CIB_file": str(cib)}
    assert _complete_in_bash(script, "defib resource move ", env) == [
        "cl", "db", "fs", "grp", "ip", "ms", "ping", "web"]
    assert _complete_in_bash(script, "defib resource move web n", env) == ["node1", "node2"]
    assert _complete_in_bash(script, "defib resource ban --node ", env) == ["node1", "node2"]
    assert _complete_in_bash(script, "defib node standby node", env) == ["node1", "node2"]
    assert "ocf:heartbeat:Dummy" in _complete_in_bash(script, "defib ra info ocf:heartbeat:D",
                                                      env)
    assert _complete_in_bash(script, "defib resource mo", env) == ["move"]
    assert "--json" in _complete_in_bash(script, "defib resource move web node1 --j", env)
    # No CIB anywhere: names are simply not offered (no error in the prompt).
    env_none = {**env, "CIB_file": str(cib.parent / "none.xml")}
    assert _complete_in_bash(script, "defib resource move ", env_none) == []


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts(shell: str, capsys: pytest.CaptureFixture[str],
                              tmp_path: Path) -> None:
    import shutil
    import subprocess

    code, script, _ = run(capsys, "completion", shell)
    assert code == 0 and "completion names" in script and "resource move" in script
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} not installed: script generated, not run")
    path = tmp_path / f"defib.{shell}"
    path.write_text(script)
    check = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True,
                           check=False, timeout=60)
    assert check.returncode == 0, check.stderr
    if shell == "fish":
        # Completion as fish offers it, with this checkout's defib first on PATH.
        import os
        import sys

        bindir = tmp_path / "bin"
        bindir.mkdir()
        (bindir / "defib").write_text(f'#!/bin/sh\nexec {sys.executable} -m defib.cli.main '
                                      '"$@"\n')
        (bindir / "defib").chmod(0o755)
        cib = tmp_path / "cib.xml"
        from tests.unit.test_commands import settled_env

        cib.write_text(settled_env().xml)
        env = {**os.environ, "CIB_file": str(cib), "PATH": f"{bindir}:{os.environ['PATH']}"}
        offered = subprocess.run(
            ["fish", "-c", f"source {path}; complete -C 'defib resource move web n'; "
                           "echo ---; complete -C 'defib reso'"],
            capture_output=True, text=True, check=False, timeout=60, env=env)
        assert offered.stdout.split() == ["node1", "node2", "---", "resource"], offered


def test_man_pages_from_the_parser(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """defib(1) and a page per command, each naming every action of its command; man
    renders each without a warning."""
    import shutil
    import subprocess

    code, out, _ = run(capsys, "man", "--write", str(tmp_path / "man1"))
    assert code == 0
    top = _actions(build_parser())
    pages = sorted(p.name for p in (tmp_path / "man1").iterdir())
    assert pages == sorted(["defib.1", *(f"defib-{c}.1" for c in top)])
    for command, parser in top.items():
        text = (tmp_path / "man1" / f"defib-{command}.1").read_text()
        assert text.startswith(".TH DEFIB\\-") and ".SH SYNOPSIS" in text
        for action in _actions(parser):
            assert f"\\fBdefib {command} {action}" in text.replace("\\-", "-"), (command, action)
    if shutil.which("man") is None:
        pytest.skip("man not installed: pages generated, not rendered")
    for page in pages:
        shown = subprocess.run(["man", "--warnings", "-l", str(tmp_path / "man1" / page)],
                               capture_output=True, text=True, check=False, timeout=60,
                               env={"MANWIDTH": "80", "PATH": "/usr/bin:/bin"})
        assert shown.returncode == 0 and not shown.stderr, (page, shown.stderr)
        assert "NAME" in shown.stdout and "SYNOPSIS" in shown.stdout
    code, _, err = run(capsys, "man", "resourse")
    assert code == 1 and "did you mean 'resource'" in err
