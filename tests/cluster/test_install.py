"""Three hosts installed from the wheel with `defib cluster setup`, on Corosync.

The wheel is built from this tree and installed into a fresh virtual environment; setup
writes the files once, they are copied to every host (as an administrator would), and each
host (own network, mount, UTS and PID namespaces) runs corosync and the installed `defib
daemon`. Root only; slow (a wheel build and an install).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from defib.cluster import hosts
from defib.cluster.client import ControlClient
from defib.cluster.hostinit import members
from defib.cluster.testing import corosync_unavailable_reason
from defib.errors import ClusterError, NotConnectedError
from defib.fencing.local_agent import power_off_node

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.slow,
    pytest.mark.skipif(corosync_unavailable_reason() is not None,
                       reason=f"corosync: {corosync_unavailable_reason()}"),
]
ROOT = Path(__file__).resolve().parents[2]
NODES = ("node1", "node2", "node3")


def run(*cmd: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd,
                          timeout=240)
    assert done.returncode == 0, f"{cmd}: {done.stderr[-2000:]}"
    return done.stdout


def install_wheel(tmp_path: Path) -> Path:
    """Build the wheel, install it into a new venv; returns the venv's bin directory."""
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path / "wheels", ROOT)
    [wheel] = (tmp_path / "wheels").glob("defib-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    run(venv / "bin/pip", "install", "-q", wheel)
    return venv / "bin"


def formed(state: Path) -> dict[str, dict]:
    out = {}
    for name in NODES:
        try:
            out[name] = ControlClient.for_node(state, name, 2.0).status()
        except (NotConnectedError, ClusterError):
            return {}
    return out


def test_three_hosts_from_the_wheel_with_cluster_setup(tmp_path: Path) -> None:
    bin_dir = install_wheel(tmp_path)
    # The wheel carries the agents, executable.
    package = Path(run(bin_dir / "python", "-c", "import defib, os;"
                       " print(os.path.dirname(defib.__file__))", cwd=tmp_path).strip())
    assert package.is_relative_to(tmp_path / "venv")
    for agent in ("agents/ocf/defib/Recorder", "agents/ocf/defib/DemoHTTP",
                  "agents/fence_defib_local"):
        assert os.access(package / agent, os.X_OK), agent
    assert os.access(bin_dir / "fence_defib_local", os.X_OK)

    stage, state = tmp_path / "stage", tmp_path / "state"
    addresses = [f"{n}=198.18.0.{10 + i}" for i, n in enumerate(NODES, 1)]
    run(bin_dir / "defib", "cluster", "setup", "inst", *addresses, "--stack", "corosync",
        "--token", "1000", "--root", stage, "--state-dir", state, cwd=tmp_path)
    unit = stage / "etc/systemd/system/defib.service"
    assert f"ExecStart={bin_dir / 'defib'} daemon" in unit.read_text()
    if shutil.which("systemd-analyze"):
        verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                                text=True)
        assert verify.returncode == 0, verify.stderr

    directory = tmp_path / "hosts"
    directory.mkdir()
    hosts.enable(directory, 1, corosync=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DEFIB_LOCAL_NODE")}
    try:
        for index, name in enumerate(NODES, 1):
            # What the administrator copies to each machine: /etc/defib and /etc/corosync.
            node_dir = directory / name
            shutil.copytree(stage / "etc/corosync", node_dir / "corosync/etc")
            (node_dir / "corosync/lib").mkdir()
            shutil.copytree(stage / "etc/defib", node_dir / "etc-defib")
            cmd = [str(bin_dir / "defib"), "daemon", "--config",
                   str(node_dir / "etc-defib/cluster.toml"), "--node", name]
            with open(node_dir / "daemon.log", "ab") as log:
                hosts.spawn(directory, name, index, cmd, env, log)
        deadline = time.monotonic() + 60
        while not (sts := formed(state)) or {len(s["members"]) for s in sts.values()} != {3}:
            assert time.monotonic() < deadline, {n: (directory / n / "daemon.log").read_text()
                                                 [-1500:] for n in NODES}
            time.sleep(0.2)
        for name, status in sts.items():
            assert status["quorum"]["quorate"] and status["quorum"]["total_votes"] == 3
            assert status["dc"]["name"] == "node1"
            # The host's daemon is the installed one, not this tree's.
            record = hosts.host_record(directory, name)
            assert record is not None
            argvs = [Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
                     for pid in members(str(record["pid_namespace"]))]
            assert [str(bin_dir / "defib"), "daemon"] in [a[1:3] for a in argvs]
        # Its state is where setup put it (written with the DC's first change: wait for it).
        saved = state / "node2" / "cib.xml"
        deadline = time.monotonic() + 30
        while not saved.exists():
            assert time.monotonic() < deadline, f"{saved} never written"
            time.sleep(0.1)
    finally:
        for name in NODES:
            power_off_node(str(directory), name, 5.0)
        hosts.teardown(directory)
