"""history, explain and report on a live local cluster, through the real ``defib`` CLI
(real daemons, controller and ``ocf:heartbeat:Dummy`` agents)."""

from __future__ import annotations

import getpass
import json
import os
import stat
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.cli_cluster import tear_down, until

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

DEFIB = [sys.executable, "-m", "defib.cli.main"]
CONFIG = """\
property stonith-enabled=false
primitive db ocf:heartbeat:Dummy op monitor interval=5s timeout=20s
primitive web ocf:heartbeat:Dummy op monitor interval=1s timeout=20s
order db-then-web db web
primitive ip ocf:heartbeat:Dummy
group site ip
"""


def defib(directory: Path, *args: str, check: bool = True,
          timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEFIB_CLUSTER_DIR": str(directory)}
    env.pop("CIB_file", None)
    proc = subprocess.run([*DEFIB, *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=directory.parent)
    if check:
        assert proc.returncode == 0, f"defib {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return proc


def events(directory: Path, *args: str) -> list[dict[str, Any]]:
    return list(json.loads(defib(directory, "history", "--json", *args).stdout))


def running_on(directory: Path, rsc: str) -> list[str]:
    return sorted(p.parent.parent.name for p in directory.glob(f"*/run/Dummy-{rsc}.state"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("history") / "c"
    try:
        defib(directory, "cluster", "start", "-n", "2", "--dir", str(directory))
        script = directory.parent / "site.crm"
        script.write_text(CONFIG)
        defib(directory, "configure", "-f", str(script))
        defib(directory, "resource", "cleanup", "--wait", "--timeout", "30")
        yield directory
    finally:
        tear_down(directory)


def test_a_move_is_in_the_history_with_its_user_transition_and_replay(cluster: Path) -> None:
    home = until(lambda: running_on(cluster, "web"))[0]
    other = "node2" if home == "node1" else "node1"
    defib(cluster, "resource", "move", "web", other, "--wait", "--timeout", "30")
    user = getpass.getuser()

    def moved() -> tuple[dict[str, Any], dict[str, Any]] | None:
        seen = events(cluster, "--resource", "web", "--since", "5min")
        config = [e for e in seen if e["kind"] == "config"
                  and e["summary"] == f"rsc_location cli-prefer-web added by {user}"]
        started = [e for e in seen if e["summary"] == f"start of web on {other}: ok"]
        return (config[-1], started[-1]) if config and started else None

    config, started = until(moved)
    assert config["user"] == user and config["rsc"] == "web"
    number = started["transition"]
    assert isinstance(number, int) and config["ts"] <= started["ts"]
    # The transition that moved it is recorded with its pe-input, and replays to the move.
    recorded = events(cluster, "--kind", "transition")
    assert any(e["transition"] == number and f"pe-input-{number}" in e["summary"]
               for e in recorded)
    replay = defib(cluster, "history", "transition", str(number)).stdout
    assert f"Transition {number} (pe-input-{number}.xml)" in replay
    assert "rsc_location cli-prefer-web added by" in replay
    assert f"Move       web     ( {home} -> {other} )" in replay
    assert f"location constraint cli-prefer-web gives {other} +INFINITY" in replay
    assert "complete" in replay.split("How it ended:")[1]
    # A group stands for its members; filters: a node's events, an empty time window.
    site = events(cluster, "--resource", "site")
    assert any(e["summary"].startswith("start of ip on ") for e in site)
    assert any(e["summary"] == "group site added by " + user for e in site)
    assert all(e["node"] in (home, None) for e in events(cluster, "--node", home))
    assert events(cluster, "--until", "2000-01-01 00:00") == []
    # Every node keeps its own, private database.
    for node in ("node1", "node2"):
        db = cluster / node / "history.sqlite"
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
    defib(cluster, "resource", "clear", "web", "--wait")


def test_a_failure_is_recorded_and_drawn(cluster: Path, tmp_path: Path) -> None:
    home = until(lambda: running_on(cluster, "web"))[0]
    (cluster / home / "run" / "Dummy-web.state").unlink()
    failed = until(lambda: [e for e in events(cluster, "--resource", "web", "--kind",
                                              "operation") if e["detail"].get("failed")])
    assert failed[-1]["summary"] == f"monitor (1s) of web on {home}: not running — FAILED"
    picture = tmp_path / "history.svg"
    out = defib(cluster, "history", "--svg", str(picture)).stdout
    assert "events drawn in" in out
    root = ET.fromstring(picture.read_text())
    titles = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert any("FAILED" in t for t in titles)
    defib(cluster, "resource", "cleanup", "--wait", "--timeout", "30")


def test_explain_why_it_runs_and_why_it_does_not(cluster: Path) -> None:
    where = until(lambda: running_on(cluster, "web"))[0]
    text = defib(cluster, "explain", "web").stdout
    assert f"web (ocf:heartbeat:Dummy) runs on {where}; it stays on {where}." in text
    # db stopped by its target-role: web, ordered after it, cannot start either.
    defib(cluster, "resource", "stop", "db", "--force", "--wait", "--timeout", "30")
    until(lambda: not running_on(cluster, "web"))
    text = defib(cluster, "explain", "web").stdout
    assert "web (ocf:heartbeat:Dummy) is stopped; it should start on" in text
    assert "is ordered after start of db" in text
    assert "target-role=Stopped is set on db" in text
    answer = json.loads(defib(cluster, "explain", "web", "--json").stdout)
    assert {c["kind"] for c in answer[0]["causes"]} >= {"order", "target-role"}
    scores = defib(cluster, "explain", "db", "--scores").stdout
    assert "Placement scores:\ndb:" in scores
    defib(cluster, "resource", "start", "db", "--wait", "--timeout", "30")
    missing = defib(cluster, "explain", "nosuch", check=False)
    assert missing.returncode != 0 and "no resource 'nosuch'" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_report_gathers_every_node(cluster: Path, tmp_path: Path) -> None:
    archive = tmp_path / "incident.tar.gz"
    out = defib(cluster, "report", "-o", str(archive)).stdout
    assert "from 2 node(s) (node1, node2)" in out
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        for node in ("node1", "node2"):
            for part in ("cib.xml", "history.sqlite", "history.txt", "daemon.log"):
                assert f"incident/{node}/{part}" in names
        assert any(n.startswith("incident/") and "/pengine/pe-input-" in n for n in names)
        tar.extractall(tmp_path, filter="data")
    # The copy of a node's database reads as the live one does.
    copy = tmp_path / "incident" / "node1" / "history.sqlite"
    shown = defib(cluster, "history", "--db", str(copy), "--kind", "config").stdout
    assert "primitive web added by" in shown


def test_a_crash_and_its_fencing_are_in_the_dc_history(tmp_path: Path) -> None:
    from defib.controller.harness import ResourceCluster, cib_xml, fence_device, primitive

    with ResourceCluster(tmp_path / "c", 3) as rc:
        dc = str(rc.dc_status()["node"])
        target = next(n for n in ("node1", "node2", "node3") if n != dc)
        prefer = (f'<rsc_location id="prefer" rsc="svc" node="{target}" score="100"/>')
        rc.load(cib_xml(fence_device() + primitive("svc", "ocf", "Dummy", "heartbeat",
                                                   monitor="1s"), prefer))
        assert rc.wait_running("svc")[0] == target
        rc.crash(target)
        survivor, _ = rc.wait_running("svc", not_on={target}, timeout=20)

        def story() -> list[dict[str, Any]] | None:
            seen = events(rc.dir, "--since", "10min")
            fenced = [e for e in seen if e["kind"] == "fencing" and e["node"] == target]
            started = [e for e in seen if e["summary"] == f"start of svc on {survivor}: ok"]
            return seen if fenced and started else None

        seen = until(story)
        summaries = [e["summary"] for e in seen]
        lost = summaries.index(f"{target} was lost")
        fenced = next(i for i, e in enumerate(seen) if e["kind"] == "fencing")
        started = summaries.index(f"start of svc on {survivor}: ok")
        assert lost < fenced < started, summaries
        assert any(e["kind"] == "membership" and target in e["detail"]["left"] for e in seen)
        # The recovery's transition replays to the same decision, fencing first.
        number = seen[started]["transition"]
        replay = defib(rc.dir, "history", "transition", str(number)).stdout
        assert f"  - {target} was lost" in replay.split("What the scheduler")[0]
        assert f"* Fence (reboot) {target} 'peer is no longer part of the cluster'" in replay
        assert f"{target} is UNCLEAN (peer is no longer part of the cluster): it must be " \
               "fenced" in replay
