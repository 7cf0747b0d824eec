"""Reattach after a daemon restart, a network partition, standby: real daemons and agents."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from defib.cluster.local import daemon_pid
from defib.cluster.testing import corosync_unavailable_reason, netns_available
from defib.controller.cibinput import parse_input
from defib.controller.harness import ResourceCluster, cib_xml, fence_device, overlaps, primitive
from defib.scheduler.pipeline import unpack


def recorder(log: Path) -> str:
    return primitive("rec", "ocf", "Recorder", "defib", {"log": str(log)}, monitor="1s")


def crm_config(props: dict[str, str]) -> str:
    pairs = "".join(f'<nvpair id="opt-{k}" name="{k}" value="{v}"/>' for k, v in props.items())
    return (f'<crm_config><cluster_property_set id="cib-bootstrap-options">{pairs}'
            "</cluster_property_set></crm_config>")


def test_restarted_daemon_reattaches_to_running_resource(tmp_path: Path) -> None:
    log = tmp_path / "activations.log"
    with ResourceCluster(tmp_path / "c", 3) as rc:
        # Without fencing and in maintenance mode, a daemon may restart under its resources.
        rc.load(cib_xml(recorder(log), properties={"stonith-enabled": "false"}))
        home, _ = rc.wait_running("rec")
        rc.replace_section("crm_config", crm_config({"stonith-enabled": "false",
                                                     "maintenance-mode": "true"}))
        time.sleep(0.5)
        pid = daemon_pid(rc.dir, home)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # the daemon only: the resource keeps running
        rc.forget_pid(home)
        rc.down.add(home)
        rc.wait("the others see it gone",
                lambda: not any(n["member"] for n in rc.client_request("status")["nodes"]
                                if n["name"] == home), timeout=10)
        rc.restart(home)
        rc.cluster.wait_formed(timeout=20)
        # The DC probes the new daemon, which finds the resource running where it was.
        rc.wait("probe found rec", lambda: rc.locations()["rec"] == [home], timeout=15)
        dc = rc.dc_status()["node"]
        assert "probing" in rc.log(dc)
        rc.replace_section("crm_config", crm_config({"stonith-enabled": "false",
                                                     "maintenance-mode": "false"}))
        time.sleep(2.0)
        assert rc.locations()["rec"] == [home]
    lines = log.read_text().splitlines()
    assert [ln.split()[0] for ln in lines if ln.split()[0] in ("start", "stop")][:1] == ["start"]
    assert len([ln for ln in lines if ln.startswith("start")]) == 1, lines
    assert overlaps(log.read_text(), {}) == []


def test_standby_moves_resource_cleanly(tmp_path: Path) -> None:
    log = tmp_path / "activations.log"
    with ResourceCluster(tmp_path / "c", 3) as rc:
        rc.load(cib_xml(fence_device() + recorder(log)))
        home, _ = rc.wait_running("rec")
        node_id = home.removeprefix("node")
        nodes = "".join(
            f'<node id="{i}" uname="node{i}">' + (
                f'<instance_attributes id="nodes-{i}"><nvpair id="nodes-{i}-standby"'
                ' name="standby" value="on"/></instance_attributes>' if str(i) == node_id
                else "") + "</node>"
            for i in range(1, 4))
        rc.replace_section("nodes", f"<nodes>{nodes}</nodes>")
        other, took = rc.wait_running("rec", not_on={home}, timeout=10)
        assert rc.dc_status()["fenced"] == {}
    lines = [ln.split() for ln in log.read_text().splitlines()]
    assert [(a, n) for a, _, n, _ in lines] == [("start", home), ("stop", home),
                                                ("start", other)]
    assert overlaps(log.read_text(), {}) == []


@pytest.mark.parametrize("stack", [
    pytest.param("heartbeat", marks=pytest.mark.skipif(
        not netns_available(), reason="needs root and ip netns for partitions")),
    # On Corosync the nodes are hosts and the partition is a switch split.
    pytest.param("corosync", marks=[pytest.mark.slow, pytest.mark.skipif(
        corosync_unavailable_reason() is not None,
        reason=f"corosync: {corosync_unavailable_reason()}")]),
])
def test_partition_majority_fences_minority_and_takes_over(tmp_path: Path, stack: str) -> None:
    log = tmp_path / "activations.log"
    prefer = '<rsc_location id="rec-prefers-node1" rsc="rec" node="node1" score="100"/>'
    # A fencing delay gives the minority time to act on its own before it is powered off.
    device = fence_device(params={"pcmk_delay_base": "1s"})
    with ResourceCluster(tmp_path / "c", 3, netns=stack == "heartbeat", stack=stack) as rc:
        rc.load(cib_xml(device + recorder(log), prefer))
        rc.wait("rec on node1", lambda: rc.locations()["rec"] == ["node1"], timeout=20)
        if stack == "corosync":
            rc.cluster.split([["node2", "node3"], ["node1"]])
        else:
            rc.cluster.block(["node1"], ["node2", "node3"])
        rc.down.add("node1")
        other, _ = rc.wait_running("rec", not_on={"node1"}, timeout=20)
        majority_dc = rc.dc_status()
        assert majority_dc["node"] in ("node2", "node3")
        assert "node1" in majority_dc["fenced"]
        fenced = {k: list(v) for k, v in majority_dc["fenced"].items()}
        rc.cluster.heal()
    lines = [ln.split() for ln in log.read_text().splitlines()]
    # The minority lost quorum and stopped rec itself (no-quorum-policy=stop) ...
    stop = next(float(t) for a, t, n, _ in lines if a == "stop" and n == "node1")
    start = next(float(t) for a, t, n, _ in lines if a == "start" and n == other)
    # ... before the majority fenced node1 and started rec elsewhere.
    assert stop < fenced["node1"][0] < start
    assert overlaps(log.read_text(), fenced) == []
    assert other in ("node2", "node3")


def test_sigterm_is_a_clean_shutdown(tmp_path: Path) -> None:
    log = tmp_path / "activations.log"
    with ResourceCluster(tmp_path / "c", 3) as rc:
        rc.load(cib_xml(fence_device() + recorder(log)))
        home, _ = rc.wait_running("rec")
        rc.cluster.stop([home])  # SIGTERM; the launcher waits for the daemon to exit
        rc.down.add(home)
        other, _ = rc.wait_running("rec", not_on={home}, timeout=10)
        time.sleep(0.5)
        assert rc.dc_status()["fenced"] == {}
        state = ET.fromstring(rc.cib()).find(f"status/node_state[@uname='{home}']")
        assert state is not None and state.get("expected") == "down"
        assert state.get("in_ccm") == "false"
        # It comes back as a member and can run resources again.
        rc.restart(home)
        rc.cluster.wait_formed(timeout=20)
        rc.wait("member again", lambda: (
            ET.fromstring(rc.cib()).find(f"status/node_state[@uname='{home}']")
            .get("expected") == "member"), timeout=10)  # type: ignore[union-attr]
    lines = [ln.split() for ln in log.read_text().splitlines()]
    assert [(a, n) for a, _, n, _ in lines[:3]] == [("start", home), ("stop", home),
                                                    ("start", other)]
    assert overlaps(log.read_text(), {}) == []


def test_transient_attribute_drives_placement(tmp_path: Path) -> None:
    log = tmp_path / "activations.log"
    with ResourceCluster(tmp_path / "c", 3) as rc:
        rc.load(cib_xml(fence_device() + recorder(log)))
        home, _ = rc.wait_running("rec")
        # Transient standby (as `crm_standby -l reboot`), through the DC's attribute writer.
        rc.client_request("crm_attribute", node=home, name="standby", value="on")
        other, _ = rc.wait_running("rec", not_on={home}, timeout=10)
        assert rc.attributes()[home].get("standby") == "on"
        rc.client_request("crm_attribute", node=home, name="standby", value=None)
        rc.wait("attribute deleted", lambda: "standby" not in rc.attributes()[home])
    assert overlaps(log.read_text(), {}) == []
    assert other != home


def test_manual_fencing_request(tmp_path: Path) -> None:
    log = tmp_path / "activations.log"
    with ResourceCluster(tmp_path / "c", 3) as rc:
        rc.load(cib_xml(fence_device() + recorder(log)))
        home, _ = rc.wait_running("rec")
        if home == "node1":  # the DC does not fence itself: ask about another node
            pytest.skip("rec landed on the DC")
        done = subprocess.run(
            [sys.executable, "-m", "defib.cli.main", "node", "--dir", str(rc.dir),
             "fence", home, "--force"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"{home} fenced" in done.stdout
        rc.down.add(home)
        other, _ = rc.wait_running("rec", not_on={home}, timeout=10)
        fenced = {k: list(v) for k, v in rc.dc_status()["fenced"].items()}
        assert len(fenced[home]) == 1, fenced  # once: not again when it leaves the view
    assert overlaps(log.read_text(), fenced) == []
    assert other != home


def promoted_on(rc: ResourceCluster) -> list[str]:
    ws = unpack(parse_input(rc.cib()), None)
    return sorted(n.uname for p in ws.all_primitives() if p.role == "Promoted"
                  for n in p.running_on)


def test_promotable_clone_promotes_elsewhere_after_a_crash(tmp_path: Path) -> None:
    """ocf:pacemaker:Stateful sets its promotion score with crm_attribute, which the
    executor's Pacemaker-tool shims send to the DC's attribute writer."""
    stateful = ('<primitive id="st" class="ocf" provider="pacemaker" type="Stateful">'
                '<operations><op id="st-m1" name="monitor" interval="2s" role="Promoted"'
                ' timeout="20s"/><op id="st-m2" name="monitor" interval="3s"'
                ' role="Unpromoted" timeout="20s"/></operations></primitive>')
    clone = ('<clone id="st-clone"><meta_attributes id="stc-meta"><nvpair id="stc-p"'
             ' name="promotable" value="true"/></meta_attributes>' + stateful + "</clone>")
    with ResourceCluster(tmp_path / "c", 3) as rc:
        rc.load(cib_xml(fence_device() + clone))
        rc.wait("one promoted", lambda: len(promoted_on(rc)) == 1, timeout=20)
        first = promoted_on(rc)[0]
        assert rc.attributes()[first].get("master-st") == "10"
        rc.crash(first)
        rc.wait("promoted elsewhere", lambda: promoted_on(rc) not in ([], [first]),
                timeout=15)
        assert len(promoted_on(rc)) == 1
        assert first in rc.dc_status()["fenced"]
        time.sleep(2.5)  # the new Promoted monitor runs and reports: no failures
        attrs = rc.attributes()
        assert not any(k.startswith("fail-count-") for a in attrs.values() for k in a), attrs


def test_promotable_clone_with_notify_tells_every_instance(tmp_path: Path) -> None:
    """notify=true: a promotion is preceded by pre-notify operations on every active
    instance, which the agents (ocf:pacemaker:Stateful) run and answer. (Post-notify
    operations run too unless an attribute change aborts the transition first.)"""
    stateful = ('<primitive id="sn" class="ocf" provider="pacemaker" type="Stateful">'
                '<operations><op id="sn-m1" name="monitor" interval="2s" role="Promoted"'
                ' timeout="20s"/><op id="sn-m2" name="monitor" interval="3s"'
                ' role="Unpromoted" timeout="20s"/></operations></primitive>')
    clone = ('<clone id="sn-clone"><meta_attributes id="snc-meta">'
             '<nvpair id="snc-p" name="promotable" value="true"/>'
             '<nvpair id="snc-n" name="notify" value="true"/></meta_attributes>'
             + stateful + "</clone>")
    with ResourceCluster(tmp_path / "c", 3) as rc:
        rc.load(cib_xml(fence_device() + clone))
        rc.wait("one promoted", lambda: len(promoted_on(rc)) == 1, timeout=20)
        time.sleep(1)  # the promoted monitor reports
        logs = "\n".join(rc.log(n) for n in rc.names)
        attrs = rc.attributes()
    told = {ln.split(" on ")[1].split(":")[0] for ln in logs.splitlines()
            if "sn_pre_notify_promote_0 on node" in ln and ": rc=0" in ln}
    assert told == {"node1", "node2", "node3"}, logs[-3000:]
    failed = [ln for ln in logs.splitlines()
              if "_notify_" in ln and ": rc=" in ln and ": rc=0" not in ln]
    assert failed == []
    assert not any(k.startswith("fail-count-") for a in attrs.values() for k in a), attrs
