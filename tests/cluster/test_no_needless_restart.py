"""No needless restart on a live cluster (issue 9): an interleaved clone ``base-clone``
and a group ``svc`` ordered after it and colocated with it, on three real nodes with real
fencing. Standby and online, maintenance on and off (of another node and of the group's
own) and a node crash with its rejoin change where clone instances run, yet Pacemaker
keeps ``svc`` running throughout: so must defib.

Both resources are Recorder agents writing every start and stop to activation logs; the
test judges by those logs once the cluster has settled (the DC's own "nothing left to
do", as ``--wait`` checks it), never by sleeping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from defib.cib.parse import parse_cib_file
from defib.commands.env import LiveEnv
from defib.commands.wait import wait_settled
from defib.controller.harness import ResourceCluster, cib_xml, fence_device, primitive
from defib.scheduler import schedule
from defib.simulate.conformance import summary_set

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

DEFIB = [sys.executable, "-m", "defib.cli.main"]
SETTLE_S = 60.0


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ResourceCluster]:
    with ResourceCluster(tmp_path / "c", 3) as rc:
        yield rc


def resources(base_log: Path, svc_log: Path) -> str:
    base = primitive("base", "ocf", "Recorder", "defib", {"log": str(base_log)}, monitor="2s")
    # Sticky, as services usually are: without stickiness Pacemaker itself may move the
    # group when clone instances are renumbered.
    members = "".join(primitive(name, "ocf", "Recorder", "defib", {"log": str(svc_log)},
                                {"resource-stickiness": "100"}, monitor="2s")
                      for name in ("svc-ip", "svc-app"))
    clone = ('<clone id="base-clone"><meta_attributes id="base-clone-meta">'
             '<nvpair id="base-clone-interleave" name="interleave" value="true"/>'
             f"</meta_attributes>{base}</clone>")
    return fence_device() + clone + f'<group id="svc">{members}</group>'


CONSTRAINTS = ('<rsc_order id="base-then-svc" kind="Mandatory" first="base-clone" then="svc"/>'
               '<rsc_colocation id="svc-with-base" score="INFINITY" rsc="svc" '
               'with-rsc="base-clone"/>')


def defib(rc: ResourceCluster, *args: str) -> str:
    env = {**os.environ, "DEFIB_CLUSTER_DIR": str(rc.dir)}
    env.pop("CIB_file", None)
    proc = subprocess.run([*DEFIB, *args], capture_output=True, text=True, env=env,
                          timeout=SETTLE_S + 30)
    assert proc.returncode == 0, f"defib {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return proc.stdout


def settle(rc: ResourceCluster) -> None:
    wait_settled(LiveEnv(rc.dir), SETTLE_S)


def lines(log: Path, action: str) -> list[tuple[str, str]]:
    """(node, resource) of every ``action`` line of a Recorder log, in order."""
    if not log.exists():
        return []
    return [(p[2], p[3]) for p in (ln.split() for ln in log.read_text().splitlines())
            if len(p) == 4 and p[0] == action]


def base_nodes(rc: ResourceCluster) -> set[str]:
    return {n for rsc, where in rc.locations().items() if rsc.startswith("base")
            for n in where}


def test_clone_and_node_changes_never_restart_the_group(cluster: ResourceCluster,
                                                        tmp_path: Path) -> None:
    base_log, svc_log = tmp_path / "base.log", tmp_path / "svc.log"
    cluster.load(cib_xml(resources(base_log, svc_log), CONSTRAINTS))
    home, _ = cluster.wait_running("svc-app", timeout=SETTLE_S)
    cluster.wait("base on every node", lambda: base_nodes(cluster) == set(cluster.names),
                 timeout=SETTLE_S)
    settle(cluster)
    started = lines(svc_log, "start")
    assert sorted(r for _, r in started) == ["svc-app", "svc-ip"], started
    other = next(n for n in cluster.names if n != home)

    def unchanged(step: str) -> None:
        assert lines(svc_log, "stop") == [], f"svc stopped after {step}: {svc_log.read_text()}"
        assert lines(svc_log, "start") == started, f"svc restarted after {step}"
        assert cluster.locations()["svc-app"] == [home]

    # Standby and online of another node: its clone instance stops, then starts again.
    defib(cluster, "node", "standby", other, "--wait", "--timeout", str(SETTLE_S))
    assert (other, "base") in lines(base_log, "stop")
    assert other not in base_nodes(cluster)
    unchanged(f"standby {other}")
    defib(cluster, "node", "online", other, "--wait", "--timeout", str(SETTLE_S))
    cluster.wait(f"base back on {other}", lambda: other in base_nodes(cluster),
                 timeout=SETTLE_S)
    unchanged(f"online {other}")

    # Maintenance of another node, then of the group's own: nothing stops or moves.
    base_stops = len(lines(base_log, "stop"))
    for node in (other, home):
        defib(cluster, "node", "maintenance", node, "on", "--wait", "--timeout", str(SETTLE_S))
        assert base_nodes(cluster) == set(cluster.names)
        unchanged(f"maintenance on {node}")
        defib(cluster, "node", "maintenance", node, "off", "--wait",
              "--timeout", str(SETTLE_S))
        settle(cluster)
        unchanged(f"maintenance off {node}")
    assert len(lines(base_log, "stop")) == base_stops, "maintenance stopped a clone instance"

    # Another node crashes (fenced: its instance is gone) and rejoins (a new instance).
    cluster.crash(other)
    cluster.wait(f"{other} fenced", lambda: other in cluster.dc_status()["fenced"],
                 timeout=SETTLE_S)
    cluster.wait(f"base gone from {other}", lambda: other not in base_nodes(cluster),
                 timeout=SETTLE_S)
    settle(cluster)
    unchanged(f"crash of {other}")
    starts_before = lines(base_log, "start").count((other, "base"))
    cluster.restart(other)
    cluster.wait(f"base restarted on {other}",
                 lambda: lines(base_log, "start").count((other, "base")) > starts_before,
                 timeout=SETTLE_S)
    settle(cluster)
    assert other in base_nodes(cluster)
    unchanged(f"rejoin of {other}")

    # Every input the DCs scheduled, replayed: Pacemaker decides the same on each.
    if shutil.which("crm_simulate") is not None:
        inputs = sorted(cluster.dir.glob("*/pengine/pe-input-*.xml"))
        assert len(inputs) >= 8
        differ = []
        for path in inputs:
            ref = subprocess.run(["crm_simulate", "-x", str(path), "-R"], capture_output=True,
                                 text=True, timeout=120, check=True).stdout
            ours = {" ".join(line.split()) for line in schedule(parse_cib_file(str(path))).summary}
            if summary_set(ref) != ours:
                differ.append(f"{path}: {sorted(summary_set(ref) ^ ours)}")
        assert differ == [], "\n".join(differ)
