"""The CLI as a careful tool: dangerous changes are shown and confirmed (a prompt on a
terminal, ``--force`` otherwise), options go anywhere, argument errors show the sub-command's
usage, and no traceback ever reaches the user, whatever the arguments.

Everything runs the real ``defib`` as a subprocess on CIB files (no cluster); the terminal is a
real pseudo-terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import pty
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from defib.cli.main import build_parser, main

DEFIB = [sys.executable, "-m", "defib.cli.main"]
CASES = Path(__file__).resolve().parents[2] / ".." / "shared" / "scheduler-cases" / "xml"
# A: running on 18node1, B: running on 18node2 (the status section says so).
RUNNING = CASES / "1-a-then-bm-move-b.xml"


def run(*args: str, cib: Path | None = None, stdin: int | None = subprocess.DEVNULL,
        cwd: Path | None = None, extra_env: dict[str, str] | None = None,
        ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CIB_file", "DEFIB_CLUSTER_DIR")}
    if cib is not None:
        env["CIB_file"] = str(cib)
    env.update(extra_env or {})
    return subprocess.run([*DEFIB, *args], stdin=stdin, capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120, check=False)


@pytest.fixture()
def live_cib(tmp_path: Path) -> Path:
    if not RUNNING.is_file():
        pytest.skip(f"scheduler cases not found at {CASES} (reference data is outside the repo)")
    cib = tmp_path / "cib.xml"
    shutil.copy(RUNNING, cib)
    return cib


@pytest.mark.parametrize(("args", "danger"), [
    (("configure", "erase"), "erases the whole configuration"),
    (("configure", "delete", "A"), "deletes running resources: A (on 18node1)"),
    (("configure", "load", "replace", "/dev/null"), "erases the whole configuration"),
    (("resource", "stop", "A"), "stops running resources: A (on 18node1)"),
    (("node", "fence", "18node2"), "fences (reboots) node 18node2"),
])
def test_dangerous_without_terminal_needs_force(live_cib: Path, args: tuple[str, ...],
                                                danger: str) -> None:
    before = live_cib.read_bytes()
    r = run(*args, cib=live_cib)
    assert r.returncode == 1
    assert danger in r.stderr and "--force" in r.stderr
    if args[0] != "node":
        assert "\n-" in r.stderr  # the change is shown (a diff of the configuration)
    assert live_cib.read_bytes() == before


def test_force_does_it_and_harmless_changes_do_not_ask(live_cib: Path) -> None:
    assert run("configure", "primitive", "C", "Dummy", cib=live_cib).returncode == 0
    quiet = run("resource", "stop", "C", cib=live_cib)  # C does not run: nothing to confirm
    assert quiet.returncode == 0 and "WARNING" not in quiet.stderr
    r = run("configure", "delete", "A", "--force", cib=live_cib)
    assert r.returncode == 0 and "deletes running resources: A" in r.stderr
    assert "primitive A" not in run("configure", "show", cib=live_cib).stdout
    assert run("configure", "erase", "--force", cib=live_cib).returncode == 0
    assert "primitive" not in run("configure", "show", cib=live_cib).stdout


def _on_terminal(args: list[str], cib: Path, answer: bytes) -> tuple[int, str]:
    """Run with stdin (and the prompt's stderr) on a pseudo-terminal, answering ``answer``."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "DEFIB_CLUSTER_DIR"}
    env["CIB_file"] = str(cib)
    proc = subprocess.Popen([*DEFIB, *args], stdin=slave, stdout=subprocess.PIPE,
                            stderr=slave, env=env)
    os.close(slave)
    seen = b""
    while b"[y/N]" not in seen:
        chunk = os.read(master, 4096)
        assert chunk, seen
        seen += chunk
    os.write(master, answer)
    code = proc.wait(timeout=60)
    assert proc.stdout is not None
    proc.stdout.close()
    os.close(master)
    return code, seen.decode(errors="replace")


def test_terminal_prompt_no_then_yes(live_cib: Path) -> None:
    before = live_cib.read_bytes()
    code, shown = _on_terminal(["configure", "delete", "B"], live_cib, b"n\n")
    assert code == 1 and "deletes running resources: B (on 18node2)" in shown
    assert "-primitive B" in shown and live_cib.read_bytes() == before
    code, _ = _on_terminal(["configure", "delete", "B"], live_cib, b"y\n")
    assert code == 0 and "primitive B" not in run("configure", "show", cib=live_cib).stdout


def test_cib_import_over_running_resources_confirms(live_cib: Path, tmp_path: Path) -> None:
    src = tmp_path / "new.xml"
    src.write_text('<cib validate-with="pacemaker-3.9" epoch="9" num_updates="0" '
                   'admin_epoch="0"><configuration><crm_config/><nodes/><resources/>'
                   "<constraints/></configuration><status/></cib>")
    before = live_cib.read_bytes()
    r = run("cib", "import", str(src), cib=live_cib)
    assert r.returncode == 1 and "deletes running resources" in r.stderr
    assert live_cib.read_bytes() == before
    assert run("cib", "import", "--force", str(src), cib=live_cib).returncode == 0
    assert live_cib.read_bytes() != before


def test_options_after_the_words(live_cib: Path) -> None:
    before = run("configure", "--file", str(live_cib), "show", "B")
    after = run("configure", "show", "B", "--file", str(live_cib))
    assert before.returncode == after.returncode == 0
    assert after.stdout == before.stdout and after.stdout.startswith("primitive B")
    # A statement may still hold what looks like an option.
    assert run("configure", "location", "l9", "B", "-inf:", "18node3",
               "--file", str(live_cib)).returncode == 0
    assert "location l9 B -inf: 18node3" in run("configure", "show", cib=live_cib).stdout


def test_version_and_sub_command_usage() -> None:
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("defib ")
    r = run("resource", "stop", "web", "--bogus")
    assert r.returncode == 2 and r.stderr.startswith("usage: defib resource stop")
    r = run("cib", "import")
    assert r.returncode == 2 and r.stderr.startswith("usage: defib cib import")


def test_missing_file_and_broken_pipe_are_not_tracebacks(tmp_path: Path) -> None:
    r = run("cib", "import", "--file", str(tmp_path / "c.xml"), "/missing.xml")
    assert r.returncode == 1 and "No such file or directory: /missing.xml" in r.stderr
    if not CASES.is_dir():
        pytest.skip("scheduler cases not found")
    big = max(CASES.glob("*.xml"), key=lambda p: p.stat().st_size)
    # `defib configure show | head -1`: the reader goes away after one line.
    env = {**os.environ, "CIB_file": str(big)}
    proc = subprocess.Popen([*DEFIB, "configure", "show"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "Exception ignored" not in err, err


def _leaves(parser: argparse.ArgumentParser,
            path: list[str]) -> list[tuple[list[str], argparse.ArgumentParser]]:
    sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    if sub is None:
        return [(path, parser)]
    return [leaf for name, child in sub._name_parser_map.items()
            for leaf in _leaves(child, path + [name])]


# A path nothing can be created under, even as root.
BAD = "/proc/nonexistent/bad"


def _invocations() -> list[list[str]]:
    """Each sub-command: without its required arguments, with a bad value for each, and with
    an unknown option."""
    out = []
    for path, parser in _leaves(build_parser(), []):
        positional = [a for a in parser._actions if not a.option_strings
                      and a.nargs not in ("?", "*") and a.default is None]
        options = [a for a in parser._actions if a.option_strings and a.required]
        if positional or options:
            out.append(path)
        bad = [BAD] * len(positional)
        for opt in options:
            bad += [opt.option_strings[0], BAD]
        out.append(path + (bad or [BAD]))
        out.append(path + bad + ["--no-such-option"])
    return out


def _in_process(args: list[str]) -> tuple[int, str]:
    """``defib ARGS`` in this process (a subprocess each would take minutes for all of them);
    an exception escaping ``main`` is what a user would see as a traceback."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            _stdin(io.StringIO("")):
        try:
            code = main(args)
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException as exc:  # noqa: BLE001 - this is what the test looks for
            return -1, f"Traceback: {type(exc).__name__}: {exc}"
    return code, err.getvalue() + out.getvalue()


@contextlib.contextmanager
def _stdin(stream: io.StringIO) -> Iterator[None]:
    saved, sys.stdin = sys.stdin, stream
    try:
        yield
    finally:
        sys.stdin = saved


def test_every_sub_command_with_bad_and_missing_arguments(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _invocations()
    assert len(calls) > 80
    # No cluster, a CIB file that does not exist: nothing real can be touched.
    monkeypatch.setenv("DEFIB_CLUSTER_DIR", str(tmp_path / "no-cluster"))
    monkeypatch.setenv("CIB_file", str(tmp_path / "no-cib.xml"))
    monkeypatch.chdir(tmp_path)
    bad = []
    for args in calls:
        code, text = _in_process(args)
        if code == 0 or "Traceback" in text:
            bad.append(f"defib {' '.join(args)} -> {code}: {text[-300:]}")
    assert not bad, "\n".join(bad)
    assert not list(tmp_path.iterdir()), "a refused command wrote something"
