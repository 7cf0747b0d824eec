"""Sandboxes on a live local cluster: docs/sandbox.md's walkthrough run command by command as
written (real ``defib`` processes, daemons and Dummy agents), and a commit whose write races a
concurrent change, refused by the DC itself."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from defib.commands.env import LiveEnv
from defib.errors import CibConflictError
from defib.sandbox import ops, store
from tests.cluster.cli_cluster import tear_down, until

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "sandbox.md"
BIN = Path(sys.executable).parent


def doc_commands() -> list[tuple[str, bool]]:
    """(command, expected to succeed) for every ``$ `` line of the walkthrough's blocks."""
    out = []
    for line in DOC.read_text(encoding="utf-8").split("## Reference")[0].splitlines():
        match = re.match(r"^    \$ (.*)$", line)
        if match:
            command, _, comment = match.group(1).partition("#")
            out.append((command.strip(), "refused" not in comment))
    return out


@dataclass
class Walk:
    directory: Path  # where the user runs the commands (the cluster is ./defib-local)
    env: dict[str, str]
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def cluster(self) -> Path:
        return self.directory / "defib-local"

    def run(self, command: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        return subprocess.run(shlex.split(command), cwd=self.directory, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def live_config(self) -> str:
        return self.run("defib configure show").stdout


def runs(walk: Walk, rsc: str) -> bool:
    return "is running on" in walk.run(f"defib resource locate {rsc}").stdout


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walk]:
    directory = tmp_path_factory.mktemp("sandbox-doc")
    env = {k: v for k, v in os.environ.items()
           if k not in ("CIB_file", "DEFIB_CLUSTER_DIR", "DEFIB_SANDBOX", "DEFIB_SANDBOX_DIR")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["XDG_STATE_HOME"] = str(directory / "state")
    here = Walk(directory, env)
    # Checks at points of the walkthrough, before the command named.
    before: dict[str, Callable[[], None]] = {
        "defib sandbox commit try1": lambda: check_nothing_reached_the_cluster(here),
    }
    try:
        for command, succeeds in doc_commands():
            if command in before:
                before[command]()
            began = time.monotonic()
            proc = here.run(command)
            print(f"{time.monotonic() - began:6.2f} s  $ {command}")
            here.outputs[command] = proc.stdout + proc.stderr
            assert (proc.returncode == 0) == succeeds, (
                f"$ {command}\nexit {proc.returncode}\n{proc.stdout}{proc.stderr}")
        yield here
    finally:
        tear_down(here.cluster)


def check_nothing_reached_the_cluster(walk: Walk) -> None:
    assert "primitive db" not in walk.live_config()
    assert not runs(walk, "db")


def test_walkthrough_commits_what_the_sandbox_showed(walk: Walk) -> None:
    assert "+primitive db Dummy" in walk.outputs["defib sandbox diff try1"]
    simulated = walk.outputs["defib sandbox simulate try1 --svg try1.svg"]
    assert re.search(r"\* Start\s+db\s+\( node\d \)", simulated)
    assert ET.parse(walk.directory / "try1.svg").getroot().tag.endswith("svg")
    failed = walk.outputs["defib sandbox simulate try1 --node-fail node2"]
    # stonith-enabled=false: node2 is not fenced, only gone.
    assert "* Failing node node2" in failed and "OFFLINE: [ node2 ]" in failed
    assert "committed sandbox try1" in walk.outputs["defib sandbox commit try1"]
    until(lambda: runs(walk, "db"), "db to run after the commit", timeout=60)
    # db is colocated with web.
    where = walk.run("defib resource locate db").stdout.split(":")[-1]
    assert where == walk.run("defib resource locate web").stdout.split(":")[-1]


def test_walkthrough_refused_the_stale_commit(walk: Walk) -> None:
    refused = walk.outputs["defib sandbox commit try2"]
    assert "refused" in refused and "nothing committed" in refused
    assert "+ primitive cache Dummy" in refused and "+ primitive other Dummy" in refused
    config = walk.live_config()
    assert "primitive other" in config and "primitive cache" not in config
    assert "try1" in walk.run("defib sandbox list").stdout
    assert "try2" not in walk.run("defib sandbox list").stdout


def test_the_cluster_refuses_a_commit_overtaken_between_check_and_write(
        walk: Walk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", walk.env["XDG_STATE_HOME"])
    source = store.Source("live", str(walk.cluster.resolve()))
    box = ops.new("race", source)
    box.write(ops.with_configuration(box.read(), box.read().replace(
        "</resources>", '<primitive id="late" class="ocf" provider="heartbeat" '
                        'type="Dummy"/></resources>')))
    plan = ops.plan_commit(box)
    assert plan.stale is None and "+primitive late" in plan.changes  # passes the check ...
    assert walk.run("defib configure primitive overtaker ocf:heartbeat:Dummy").returncode == 0
    with pytest.raises(CibConflictError):  # ... but the DC refuses the stale write
        ops.commit(plan, LiveEnv(walk.cluster.resolve()))
    config = walk.live_config()
    assert "primitive overtaker" in config and "primitive late" not in config


def test_simulate_live_what_if(walk: Walk) -> None:
    proc = walk.run("defib simulate -L -S -f node2 --svg live.svg")
    assert proc.returncode == 0, proc.stderr
    assert "* Failing node node2" in proc.stdout and "OFFLINE: [ node2 ]" in proc.stdout
    assert ET.parse(walk.directory / "live.svg").getroot().tag.endswith("svg")
