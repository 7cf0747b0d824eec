"""The crm_mon-style resource status report on an in-memory CIB."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from defib.attrd.store import record_failure
from defib.commands.env import FileEnv, MemoryEnv
from defib.commands.status import View, crm_mon_xml, resource_status
from defib.executor.record import record_op
from defib.executor.types import ExecStatus, Operation, OpResult, ResourceInfo
from tests.unit.test_commands import settled_env


def failed_monitor(env: MemoryEnv, node_id: str) -> None:
    root = ET.fromstring(env.xml)
    state = root.find(f"status/node_state[@id='{node_id}']")
    assert state is not None
    rsc = ResourceInfo("web", "ocf", "Dummy", "heartbeat")
    op = Operation(rsc, "monitor", 10000, 20000, transition_key="5:3:0:fake")
    record_op(state, rsc, OpResult(op, 7, ExecStatus.DONE, "state file gone", call_id=12,
                                   started=env.clock, exec_ms=4))
    record_failure(state, "web", "monitor", 10000, env.clock)
    conf = root.find("configuration/constraints")
    assert conf is not None
    ET.SubElement(conf, "rsc_ticket", {"id": "web-t", "rsc": "web", "ticket": "ticketA"})
    status = root.find("status")
    assert status is not None
    tickets = ET.SubElement(status, "tickets")
    ET.SubElement(tickets, "ticket_state", {"id": "ticketA", "granted": "true",
                                            "last-granted": str(int(env.clock))})
    env.xml = ET.tostring(root, encoding="unicode")


def test_text_has_crm_mon_sections() -> None:
    env = settled_env()
    report = resource_status(env)
    text = "\n".join(report.lines(View(inactive=True)))
    assert "Full List of Resources:\n  * web\t(ocf:heartbeat:Dummy):\t Started node1" in text
    assert "Active Resources:\n  * web" in "\n".join(report.lines())
    assert "  * Resource Group: grp:" in text and "  * Clone Set: cl [ping]:" in text
    assert "Failed Resource Actions" not in text and "Migration Summary" not in text
    failed_monitor(env, "1")
    text = "\n".join(resource_status(env).lines())
    assert "Migration Summary:\n  * Node: node1:\n    * web: migration-threshold=1000000 " \
           "fail-count=1 last-failure=" in text
    assert "Failed Resource Actions:\n  * web_monitor_10000 on node1 'not running' (7): " \
           "call=12, status='complete', exitreason='state file gone', last-rc-change=" in text
    assert "Tickets:\n  * ticketA:\tgranted last-granted=" in text


def test_node_modes_and_data_forms() -> None:
    env = settled_env()
    root = ET.fromstring(env.xml)
    node = root.find("configuration/nodes/node[@id='2']")
    assert node is not None
    attrs = ET.SubElement(node, "instance_attributes", {"id": "nodes-2"})
    ET.SubElement(attrs, "nvpair", {"id": "nodes-2-standby", "name": "standby", "value": "on"})
    env.xml = ET.tostring(root, encoding="unicode")
    failed_monitor(env, "1")
    report = resource_status(env)
    assert report.node_mode_lines() == ["  * Node node2: standby (with active resources)"]
    data = report.to_dict()
    json.dumps(data)
    web = next(r for r in data["resources"] if r["id"] == "web")
    assert web["role"] == "Started" and web["nodes"] == [{"name": "node1", "id": "1"}]
    grp = next(r for r in data["resources"] if r["id"] == "grp")
    assert [c["id"] for c in grp["children"]] == ["ip", "fs"]
    assert data["fail_counts"]["node1"]["web"]["fail-count"] == "1"
    assert data["failures"][0]["op_key"] == "web_monitor_10000"
    assert data["tickets"][0]["status"] == "granted"
    xml = ET.fromstring(crm_mon_xml({"dc": {"name": "node1", "id": 1},
                                     "quorum": {"quorate": True},
                                     "node": {"name": "node1"}}, report))
    assert xml.tag == "pacemaker-result"
    assert xml.find("summary/current_dc").get("name") == "node1"  # type: ignore[union-attr]
    assert xml.find("resources/resource[@id='web']/node").get("name") == "node1"  # type: ignore[union-attr]
    assert xml.find("resources/group[@id='grp']/resource[@id='fs']") is not None
    failure = xml.find("failures/failure")
    assert failure is not None and failure.get("exitcode") == "7" \
        and failure.get("exitstatus") == "not running"
    assert xml.find("node_history/node/resource_history").get("fail-count") == "1"  # type: ignore[union-attr]
    assert xml.find("tickets/ticket").get("id") == "ticketA"  # type: ignore[union-attr]


def test_full_text_completes_the_membership_header() -> None:
    from defib.commands import resource as r
    from defib.commands.status import full_dict, full_text

    env = settled_env()
    r.stop(env, "grp")
    header = ("Cluster Summary:\n  * Stack: defib heartbeat (cluster c)\n"
              "  * 2 nodes configured\n\nNode List:\n  * Online: [ node1 node2 ]")
    text = full_text(header, resource_status(env))
    lines = text.split("\n")
    assert lines[2:4] == ["  * 2 nodes configured",
                          "  * 7 resource instances configured (2 DISABLED)"]
    assert lines[6:9] == ["  * Online: [ node1 node2 ]", "", "Active Resources:"]
    data = full_dict({"cluster": "c", "nodes": []}, resource_status(env))
    assert data["cluster"] == "c" and "resources" in data and data["nodes"] == []


def test_a_probe_that_found_the_resource_running_is_no_failure() -> None:
    env = settled_env()
    root = ET.fromstring(env.xml)
    state = root.find("status/node_state[@id='2']")
    assert state is not None
    rsc = ResourceInfo("web", "ocf", "Dummy", "heartbeat")
    probe = Operation(rsc, "monitor", 0, 20000, transition_key="3:1:7:fake")
    record_op(state, rsc, OpResult(probe, 0, ExecStatus.DONE, call_id=3, started=env.clock))
    env.xml = ET.tostring(root, encoding="unicode")
    assert "web_last_failure_0" in env.xml
    assert "Failed Resource Actions" not in "\n".join(resource_status(env).lines())


def test_crm_mon_display_options() -> None:
    from defib.commands import node as nodes
    from defib.commands import resource as r
    from defib.commands.status import View, full_text
    from defib.commands.wait import wait_settled

    env = settled_env()
    nodes.attribute(env, "node1", "rack", "r12")
    nodes.attribute(env, "node2", "pingd", "100", lifetime="reboot")
    r.stop(env, "web")
    wait_settled(env, 10)
    report = resource_status(env)
    header = "Cluster Summary:\n  * 2 nodes configured\n\nNode List:\n  * Online: [ node1 node2 ]"
    text = full_text(header, report, View(inactive=True, by_node=True, node_attributes=True,
                                          failcounts=True))
    assert "Online: [" not in text  # the nodes with their resources replace the Node List
    assert "Node List:\n  * Node node1: online:\n    * db\t(ocf:heartbeat:Stateful):\t " \
           "Unpromoted\n    * ping\t(ocf:heartbeat:Dummy):\t Started\n  * Node node2: online:" \
           in text
    assert "Inactive Resources:\n  * web\t(ocf:heartbeat:Dummy):\t Stopped (disabled)" in text
    assert "Node Attributes:\n  * Node: node1 (1):\n    * rack" in text
    assert "    * pingd                           : 100" in text
    assert "Migration Summary:\n  * Node: node1:\n  * Node: node2:" in text
    plain = full_text(header, report)
    assert "Online: [ node1 node2 ]" in plain and "Migration Summary" not in plain
    assert report.to_dict()["node_attributes"] == {"node1": {"rack": "r12"},
                                                   "node2": {"pingd": "100"}}


def test_cluster_status_is_a_library_command() -> None:
    from defib.commands.cluster_status import cluster_status
    from defib.commands.status import View

    env = settled_env()
    result = cluster_status(env, View(by_node=True))
    assert result.ok and result.output.startswith("Cluster Summary:\n  * CIB file")
    assert "  * Node node1: online:\n    * db\t" in result.output
    assert result.data == resource_status(env).to_dict()
    assert cluster_status(env, as_xml=True).output.startswith("<pacemaker-result")


CASES = Path(__file__).parents[2].parent / "shared" / "scheduler-cases" / "xml"


def _resource_block(text: str) -> list[str]:
    out: list[str] = []
    for line in text.splitlines():
        if line.startswith(("Active Resources:", "Full List of Resources:")):
            out.append(line)
        elif out and (not line or not line.startswith(" ")):
            break
        elif out:
            out.append(" ".join(line.split()))
    return out


def test_without_inactive_only_active_resources_as_crm_mon() -> None:
    """crm_mon without -r lists only what is active ("Active Resources:"): stopped
    primitives and clone instances are left out, a group says how many members it hides.
    Compared with crm_mon itself on the reference cases whose full list defib renders as
    crm_mon -r does (the rest differ for other reasons: orphans, bundles)."""
    if not CASES.is_dir() or not shutil.which("crm_mon"):
        pytest.skip("needs ../shared/scheduler-cases and crm_mon (Debian pacemaker-cli-utils)")
    compared = hidden = 0
    for case in sorted(CASES.glob("*.xml"))[:80]:
        env = {**os.environ, "CIB_file": str(case)}
        report = resource_status(FileEnv(case))
        ours = {flag: _resource_block("\n".join(report.lines(View(inactive=flag))))
                for flag in (True, False)}
        theirs = {flag: _resource_block(subprocess.run(
            ["crm_mon", "-1", *(["-r"] if flag else [])], env=env, capture_output=True,
            text=True, timeout=60, check=False).stdout) for flag in (True, False)}
        if ours[True] != theirs[True]:
            continue
        compared += 1
        hidden += ours[True] != ours[False]
        assert ours[False] == theirs[False], case.name
    assert compared >= 60 and hidden >= 10, (compared, hidden)
