"""The everyday commands as an administrator runs them: the real ``defib`` CLI as a
subprocess against a running local cluster (real daemons, controller and
``ocf:heartbeat:Dummy`` agents, whose state files show where a resource really runs)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from defib.cluster.local import daemon_pid
from tests.cluster.cli_cluster import tear_down

pytestmark = pytest.mark.cluster

DEFIB = [sys.executable, "-m", "defib.cli.main"]
CONFIG = """\
property stonith-enabled=false
primitive web ocf:heartbeat:Dummy op monitor interval=1s timeout=20s
primitive ip ocf:heartbeat:Dummy op monitor interval=5s timeout=20s
group site ip
"""


def defib(directory: Path, *args: str, check: bool = True,
          timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEFIB_CLUSTER_DIR": str(directory)}
    env.pop("CIB_file", None)
    proc = subprocess.run([*DEFIB, *args], capture_output=True, text=True, env=env,
                          timeout=timeout)
    if check:
        assert proc.returncode == 0, f"defib {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return proc


def running_on(directory: Path, rsc: str) -> list[str]:
    """Nodes whose Dummy state file for ``rsc`` exists: where the agent really runs."""
    return sorted(p.parent.parent.name for p in directory.glob(f"*/run/Dummy-{rsc}.state"))


def locate(directory: Path, rsc: str) -> str:
    return defib(directory, "resource", "locate", rsc).stdout.strip()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("everyday") / "c"
    try:
        defib(directory, "cluster", "start", "-n", "2", "--dir", str(directory))
        script = directory.parent / "site.crm"
        script.write_text(CONFIG)
        defib(directory, "configure", "-f", str(script))
        defib(directory, "resource", "cleanup", "--wait", "--timeout", "30")
        yield directory
    finally:
        tear_down(directory)


def test_move_wait_really_moves_and_clear(cluster: Path) -> None:
    home = running_on(cluster, "web")
    assert len(home) == 1
    other = "node2" if home == ["node1"] else "node1"
    t0 = time.monotonic()
    proc = defib(cluster, "resource", "move", "web", other, "--wait", "--timeout", "30")
    took = time.monotonic() - t0
    # --wait returned only once the agent had moved: no polling needed here.
    assert running_on(cluster, "web") == [other], proc.stdout
    assert f"prefers {other}" in proc.stdout and "settled after" in proc.stdout
    assert locate(cluster, "web") == f"resource web is running on: {other}"
    assert "cli-prefer-web" in defib(cluster, "configure", "show").stdout
    proc = defib(cluster, "resource", "clear", "web", "--wait")
    assert "removed cli-prefer-web" in proc.stdout
    assert "cli-prefer-web" not in defib(cluster, "configure", "show").stdout
    print(f"move --wait took {took:.2f}s")


def test_ban_without_node_then_clear(cluster: Path) -> None:
    home = running_on(cluster, "web")
    proc = defib(cluster, "resource", "ban", "web", "--wait", "--timeout", "30")
    assert f"banned from {home[0]}" in proc.stdout
    assert running_on(cluster, "web") not in ([], home)
    defib(cluster, "resource", "clear", "web", "--wait")
    shown = defib(cluster, "configure", "show").stdout
    assert "cli-ban" not in shown


def test_stop_start_with_wait(cluster: Path) -> None:
    defib(cluster, "resource", "stop", "site", "--force", "--wait", "--timeout", "30")
    assert running_on(cluster, "ip") == []
    assert locate(cluster, "site") == "resource site is NOT running"
    defib(cluster, "resource", "start", "site", "--wait", "--timeout", "30")
    assert len(running_on(cluster, "ip")) == 1


def test_standby_and_online(cluster: Path) -> None:
    home = running_on(cluster, "web")[0]
    proc = defib(cluster, "node", "standby", home, "--wait", "--timeout", "30")
    assert f"{home}: standby" in proc.stdout
    assert running_on(cluster, "web") not in ([], [home])
    assert running_on(cluster, "ip") not in ([], [home])
    defib(cluster, "node", "online", home, "--wait")
    shown = defib(cluster, "configure", "show").stdout
    assert "standby=off" in shown
    # Transient standby (crm_standby -l reboot): written by the DC into the status section.
    home = running_on(cluster, "web")[0]
    defib(cluster, "node", "standby", home, "--lifetime", "reboot", "--wait", "--timeout", "30")
    assert running_on(cluster, "web") not in ([], [home])
    assert defib(cluster, "node", "attribute", home, "-l", "reboot").stdout.strip() == \
        f"{home}: standby=on"
    proc = defib(cluster, "node", "online", home, "--wait")
    assert "transient standby removed" in proc.stdout


def test_failure_failcount_and_cleanup(cluster: Path) -> None:
    home = running_on(cluster, "web")[0]
    # Remove the agent's state: its next monitor (1 s) fails, the cluster counts the
    # failure and recovers web.
    (cluster / home / "run" / "Dummy-web.state").unlink()
    deadline = time.monotonic() + 15
    out = ""
    while time.monotonic() < deadline:
        out = defib(cluster, "resource", "failcount", "web", home).stdout
        if "value=0" not in out:
            break
        time.sleep(0.3)
    assert f"node={home}  name=fail-count-web  value=1" in out
    shown = defib(cluster, "status").stdout
    assert f"Migration Summary:\n  * Node: {home}:\n    * web: migration-threshold=1000000 " \
           "fail-count=1 last-failure=" in shown
    assert f"Failed Resource Actions:\n  * web_monitor_1000 on {home} 'not running' (7): " \
        in shown
    defib(cluster, "resource", "cleanup", "--wait")  # settle the recovery first
    proc = defib(cluster, "resource", "cleanup", "web", "--wait", "--timeout", "30")
    assert "cleaned up web" in proc.stdout
    assert "value=0" in defib(cluster, "resource", "failcount", "web", home).stdout
    assert len(running_on(cluster, "web")) == 1


def test_property_set_get_and_errors(cluster: Path) -> None:
    defib(cluster, "property", "no-quorum-policy", "ignore", "--wait")
    assert defib(cluster, "property", "no-quorum-policy").stdout.strip() == \
        "no-quorum-policy=ignore"
    assert "no-quorum-policy=ignore" in defib(cluster, "property").stdout
    bad = defib(cluster, "property", "no-quorum-policy", "ignroe", check=False)
    assert bad.returncode == 1 and "one of stop, freeze, ignore" in bad.stderr
    bad = defib(cluster, "resource", "move", "wbe", "node1", check=False)
    assert bad.returncode == 1 and "did you mean 'web'" in bad.stderr
    bad = defib(cluster, "node", "standby", "node7", check=False)
    assert bad.returncode == 1 and "no node 'node7'" in bad.stderr
    defib(cluster, "property", "--delete", "no-quorum-policy")
    assert "(default)" in defib(cluster, "property", "no-quorum-policy").stdout


def test_maintenance_unmanage_and_node_attributes(cluster: Path) -> None:
    home = running_on(cluster, "web")
    defib(cluster, "resource", "unmanage", "web")
    defib(cluster, "resource", "stop", "web", "--force", "--wait")
    assert running_on(cluster, "web") == home  # unmanaged: left alone
    defib(cluster, "resource", "manage", "web", "--wait", "--timeout", "30")
    assert running_on(cluster, "web") == []  # managed again: the stop applies
    defib(cluster, "resource", "start", "web", "--wait", "--timeout", "30")
    assert len(running_on(cluster, "web")) == 1
    defib(cluster, "node", "attribute", "node1", "rack", "r12")
    assert defib(cluster, "node", "attribute", "node1", "rack").stdout.strip() == \
        "node1: rack=r12"
    defib(cluster, "node", "utilization", "node2", "cpu", "4")
    assert "cpu=4" in defib(cluster, "node", "utilization", "node2").stdout


def test_restart(cluster: Path) -> None:
    home = running_on(cluster, "web")
    state = cluster / home[0] / "run" / "Dummy-web.state"
    before = state.stat().st_mtime_ns
    proc = defib(cluster, "resource", "restart", "web", "--timeout", "30")
    assert "restarted" in proc.stdout
    again = running_on(cluster, "web")
    assert len(again) == 1
    after = (cluster / again[0] / "run" / "Dummy-web.state").stat().st_mtime_ns
    assert after != before


def test_status_lists_resources_in_crm_mon_layout(cluster: Path) -> None:
    where = locate(cluster, "web").rsplit(" ", 1)[-1]
    text = defib(cluster, "status").stdout
    assert "Node List:" in text and "Active Resources:" in text
    assert "Full List of Resources:" in defib(cluster, "status", "-r").stdout
    assert "resource instances configured" in text
    assert any(line.strip().startswith("* web\t(ocf:heartbeat:Dummy):") and where in line
               for line in text.splitlines()), text
    assert "Resource Group: site:" in text
    xml = ET.fromstring(defib(cluster, "status", "--xml").stdout)
    assert xml.find("summary/current_dc") is not None
    assert any(r.get("id") == "web" for r in xml.iter("resource"))
    import json
    data = json.loads(defib(cluster, "status", "--json").stdout)
    assert data["quorum"]["quorate"] is True and data["resources"]
    brief = defib(cluster, "status", "--brief").stdout
    assert "Active Resources:" not in brief and "Node List:" in brief


def test_status_exact_layout_xml_nesting_and_watch(cluster: Path) -> None:
    out = defib(cluster, "status").stdout
    assert "  * 2 resource instances configured" in out
    assert "\nActive Resources:\n  * web\t(ocf:heartbeat:Dummy):\t Started node" in out
    assert "  * Resource Group: site:\n    * ip\t(ocf:heartbeat:Dummy):\t Started node" in out
    xml = ET.fromstring(defib(cluster, "status", "--xml").stdout)
    web = xml.find("resources/resource[@id='web']")
    assert web is not None and web.get("active") == "true"
    assert web.find("node") is not None
    assert xml.find("resources/group[@id='site']/resource[@id='ip']") is not None
    data = json.loads(defib(cluster, "status", "--json").stdout)
    assert [r["id"] for r in data["resources"]] == ["web", "site"]
    # --watch refreshes until Ctrl-C (SIGINT), then exits 0.
    watch = subprocess.Popen([*DEFIB, "status", "--watch", "0.3", "--dir", str(cluster)],
                             stdout=subprocess.PIPE, text=True)
    try:
        # Ctrl-C once two screens are out (so --watch is surely up), not after a fixed time.
        assert watch.stdout is not None
        seen, deadline = "", time.monotonic() + 60
        while seen.count("Active Resources:") < 2 and time.monotonic() < deadline:
            line = watch.stdout.readline()
            if not line:
                break
            seen += line
        watch.send_signal(signal.SIGINT)
        rest, _ = watch.communicate(timeout=10)
        out = seen + rest
    finally:
        if watch.poll() is None:
            watch.kill()
    assert watch.returncode == 0
    assert out.count("Cluster Summary:") >= 2 and out.count("Active Resources:") >= 2


def test_library_commands_answer_as_data_on_a_live_cluster(cluster: Path) -> None:
    """The crm_resource / crm node / crm_attribute commands through the one connection to
    the running cluster, read as JSON (codes and data, no text matching)."""
    def data(*args: str, check: bool = True) -> dict[str, object]:
        return dict(json.loads(defib(cluster, *args, "--json", check=check).stdout))

    where = running_on(cluster, "web")
    why = data("resource", "why", "web")
    assert why["running_on"] == where and why["reasons"] == [  # type: ignore[index]
        {"code": "running", "severity": "info", "ids": ["web", *where],
         "message": f"Resource web is running on host {where[0]}"}]
    listed = data("resource", "list")
    assert [r["id"] for r in listed["resources"]] == ["web", "site"]  # type: ignore[attr-defined]
    ops = data("resource", "operations", "web")["operations"]
    assert any(o["operation"] == "web_start_0" and o["node"] == where[0] and o["rc"] == "0"
               for o in ops)  # type: ignore[attr-defined]
    assert data("resource", "param", "web", "fake", "x", "--wait")["changed"] is True
    assert data("resource", "param", "web", "fake")["value"] == "x"
    assert running_on(cluster, "web") == where  # a reloadable parameter: reloaded in place
    nodes = data("node", "list")["nodes"]
    assert [(n["name"], n["online"]) for n in nodes] == [  # type: ignore[attr-defined]
        ("node1", True), ("node2", True)]
    defib(cluster, "attribute", "-N", "node1", "-n", "probe-me", "-v", "3", "-l", "reboot")
    assert defib(cluster, "attribute", "-N", "node1", "-n", "probe-me", "-l", "reboot", "-G",
                 "-q").stdout == "3\n"
    by_node = defib(cluster, "status", "-n", "-A", "-f").stdout
    assert f"  * Node {where[0]}: online:\n    * web\t" in by_node and "probe-me" in by_node
    # Tickets: the DC writes their state in the status section, as crm_ticket asks.
    defib(cluster, "ticket", "grant", "site-a")
    states = ET.fromstring(defib(cluster, "cib", "export").stdout).iterfind(
        "status/tickets/ticket_state")
    assert [(t.get("id"), t.get("granted")) for t in states] == [("site-a", "true")]
    listed_tickets = defib(cluster, "ticket", "list").stdout
    assert "site-a" in listed_tickets and "granted" in listed_tickets


def test_fence_a_node_last(cluster: Path) -> None:
    """Runs last: node2 is powered off (fence_defib_local) and stays down."""
    bad = defib(cluster, "node", "fence", "node9", check=False)
    assert bad.returncode == 1 and "no node 'node9'" in bad.stderr
    exported = cluster.parent / "cib.xml"
    exported.write_text(defib(cluster, "cib", "export").stdout)
    root = ET.parse(exported).getroot()
    resources = root.find("configuration/resources")
    status = root.find("status")
    assert resources is not None and status is not None
    resources.append(ET.fromstring(
        '<primitive id="fence-local" class="stonith" type="fence_defib_local"><operations>'
        '<op id="fence-local-monitor" name="monitor" interval="60s"/></operations></primitive>'))
    root.remove(status)
    exported.write_text(ET.tostring(root, encoding="unicode"))
    defib(cluster, "cib", "import", "--force", str(exported))
    defib(cluster, "resource", "cleanup", "--wait", "--timeout", "30")
    proc = defib(cluster, "node", "fence", "node2", "--force")
    assert "node2 fenced (reboot) by the DC node1" in proc.stdout
    assert daemon_pid(cluster, "node2") is None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (
            running_on(cluster, "web") == ["node1"] and running_on(cluster, "ip") == ["node1"]):
        time.sleep(0.2)
    assert running_on(cluster, "web") == ["node1"] and running_on(cluster, "ip") == ["node1"]
    # Membership notices the silence after its dead time (2 s).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and \
            "OFFLINE: [ node2 ]" not in defib(cluster, "status").stdout:
        time.sleep(0.3)
    assert "OFFLINE: [ node2 ]" in defib(cluster, "status").stdout
