"""Careless statements and dangerous commands through the real ``defib`` CLI against a real
local cluster (daemons, controller, Dummy agents): refused, the configuration unchanged; the
export of the running cluster goes into crm_simulate and crm_verify; the key of
``cluster keygen`` is the one ``cluster start`` uses; a second ``cluster stop`` says so."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from defib.cluster.config import load_config
from tests.cluster.cli_cluster import tear_down

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

DEFIB = [sys.executable, "-m", "defib.cli.main"]
CONFIG = """\
property stonith-enabled=false
primitive db ocf:heartbeat:Dummy op monitor interval=2s timeout=20s
primitive web ocf:heartbeat:Dummy op monitor interval=2s timeout=20s
group site web
"""
CARELESS = [
    ["configure", "location", "l1", "db", "INFINITYY:", "node1"],
    ["configure", "location", "l1", "db", "abc:", "node1"],
    ["configure", "primitive", "x", "ocf:heartbeat:Dumy"],
    ["configure", "primitive", "x", "Dummy", "meta", "target-role=Strated"],
    ["configure", "primitive", "x", "Dummy", "op", "monitor", "interval=abc"],
    ["configure", "property", "stonith-enabeld=false"],
    ["configure", "colocation", "c1", "inf:", "db", "siet"],
    ["resource", "stop", "dbb"],
    ["node", "standby", "nod1"],
    ["property", "no-quorum-policy", "stpo"],
    ["configure", "erase"],  # dangerous: no terminal, no --force
    ["resource", "stop", "db"],  # running: the same
]


def defib(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEFIB_CLUSTER_DIR": str(directory)}
    env.pop("CIB_file", None)
    return subprocess.run([*DEFIB, *args], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=120, check=False)


def ok(directory: Path, *args: str) -> str:
    proc = defib(directory, *args)
    assert proc.returncode == 0, f"defib {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("careless") / "c"
    try:
        ok(directory, "cluster", "keygen", "--dir", str(directory))
        key = (directory / "authkey").read_bytes()
        ok(directory, "cluster", "start", "-n", "2", "--dir", str(directory))
        # The key keygen wrote is the one the cluster runs with (not replaced by start).
        assert (directory / "authkey").read_bytes() == key
        assert load_config(directory / "cluster.toml").key_file == directory / "authkey"
        script = directory.parent / "site.crm"
        script.write_text(CONFIG)
        ok(directory, "configure", "-f", str(script))
        ok(directory, "resource", "cleanup", "--wait", "--timeout", "30")
        yield directory
    finally:
        tear_down(directory)


def _configuration(directory: Path) -> tuple[str, str, str]:
    root = ET.fromstring(ok(directory, "cib", "export"))
    conf = root.find("configuration")
    assert conf is not None
    return root.get("admin_epoch", ""), root.get("epoch", ""), ET.tostring(conf).decode()


def test_careless_statements_are_refused_by_the_live_cluster(cluster: Path) -> None:
    before = _configuration(cluster)
    for args in CARELESS:
        proc = defib(cluster, *args)
        assert proc.returncode != 0, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert "did you mean" in proc.stderr or "--force" in proc.stderr \
            or "column" in proc.stderr, (args, proc.stderr)
    assert _configuration(cluster) == before
    bad = cluster.parent / "bad.xml"
    bad.write_text("<bogus/>")
    proc = defib(cluster, "cib", "import", "--force", str(bad))
    assert proc.returncode == 1 and "root element is <bogus>" in proc.stderr
    assert _configuration(cluster) == before


def test_export_of_the_live_cluster_goes_into_pacemaker(cluster: Path) -> None:
    export = cluster.parent / "export.xml"
    ok(cluster, "cib", "export", str(export))
    root = ET.parse(export).getroot()
    assert root.get("crm_feature_set") == "3.16.1"
    assert root.get("have-quorum") == "1" and root.get("dc-uuid")
    if not (shutil.which("crm_simulate") and shutil.which("crm_verify")):
        pytest.skip("crm_simulate/crm_verify not installed (Debian pacemaker-cli-utils)")
    sim = subprocess.run(["crm_simulate", "-x", str(export), "-S"], capture_output=True,
                         text=True, timeout=60, check=False)
    assert sim.returncode == 0 and "assertion" not in sim.stdout + sim.stderr, sim.stderr
    # The cluster has settled: Pacemaker sees db and web started and would change nothing.
    assert "Started" in sim.stdout
    summary = sim.stdout.split("Transition Summary:")[1].split("Executing")[0]
    assert summary.strip() == "", summary
    verify = subprocess.run(["crm_verify", "-x", str(export)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_second_cluster_stop_says_not_running(cluster: Path) -> None:
    """Runs last: stops the cluster."""
    first = defib(cluster, "cluster", "stop", "--dir", str(cluster))
    assert first.returncode == 0 and "node1: stopped" in first.stdout
    again = defib(cluster, "cluster", "stop", "--dir", str(cluster))
    assert again.returncode == 1
    assert "node1: was not running" in again.stdout and "is not running" in again.stderr
    as_data = defib(cluster, "cluster", "stop", "--dir", str(cluster), "--json")
    answer = json.loads(as_data.stdout)
    assert as_data.returncode == 1 and answer["ok"] is False
    assert answer["reports"][-1]["code"] == "cluster-not-running"
