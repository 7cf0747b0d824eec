"""What keeps the per-operation cost of the daemons down (docs/benchmarks.md, "Per-operation
cost of the daemons"): the history diff of a CIB change, the nodes' histories kept current
lazily, recurring monitors beside a transition's operations on a node."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from pathlib import Path

from defib.controller.lrm import NodeExecutor
from defib.controller.statuswriter import Reports
from defib.executor.metadata import AgentMetadata
from defib.executor.types import ExecStatus, OcfRc, Operation, OpResult, ResourceInfo
from defib.history.derive import cib_events


def entry(rsc: str, op: str, call: int, rc: int = 0) -> str:
    return (f'<lrm_resource id="{rsc}" class="ocf" provider="heartbeat" type="Dummy">'
            f'<lrm_rsc_op id="{rsc}_last_0" operation="{op}" operation_key="{rsc}_{op}_0"'
            f' interval="0" call-id="{call}" rc-code="{rc}" op-status="0"'
            f' transition-key="3:1:0:x" last-rc-change="1700000000"/></lrm_resource>')


def cib(entries: list[ET.Element]) -> ET.Element:
    root = ET.fromstring('<cib><configuration/><status><node_state id="1" uname="node1"'
                         ' in_ccm="true" crmd="online" join="member" expected="member">'
                         '<lrm id="1"><lrm_resources/></lrm></node_state></status></cib>')
    resources = root.find("status/node_state/lrm/lrm_resources")
    assert resources is not None
    resources.extend(entries)
    return root


def test_history_diff_reports_only_the_entries_that_changed() -> None:
    # As the replicated CIB is copy-on-write: entries no result touched are shared.
    shared = [ET.fromstring(entry(f"r{i}", "start", i)) for i in range(50)]
    old = cib([*shared, ET.fromstring(entry("web", "start", 100))])
    new = cib([*shared, ET.fromstring(entry("web", "stop", 101))])
    events = cib_events(old, new, 1.0, "node1")
    assert [(e.rsc, e.summary) for e in events] == [("web", "stop of web on node1: ok")]
    # An entry whose operations are gone: its history was cleared.
    cleared = cib(list(shared))
    events = cib_events(old, cleared, 2.0, "node1")
    assert [e.summary for e in events] == ["history of web on node1 cleared"]


def test_histories_take_results_when_read() -> None:
    reports = Reports()
    lrm = ET.fromstring(f'<lrm id="2"><lrm_resources>{entry("a", "start", 1)}'
                        '</lrm_resources></lrm>')
    reports.announced("node2", "v1", lrm)
    reports.result("node2", "b", entry("b", "start", 2))
    reports.result("node2", "a", entry("a", "stop", 3))
    reports.result("node2", "a", entry("a", "start", 4))  # the last entry of a resource wins
    reports.result("node9", "x", entry("x", "start", 5))  # never announced: nothing kept
    assert [el.get("id") for el in lrm.iter("lrm_resource")] == ["a"]  # not parsed yet
    got = reports.get("node2")
    assert got is not None and got[0] == "v1" and got[1] is lrm
    ops = {el.get("id"): el.find("lrm_rsc_op") for el in lrm.iter("lrm_resource")}
    assert sorted(ops) == ["a", "b"]
    assert ops["a"] is not None and ops["a"].get("call-id") == "4"
    assert reports.get("node9") is None and reports.view_of("node9") == ""
    reports.forget("node2")
    assert reports.get("node2") is None


class _Agents:
    """A local executor whose recurring monitors hang until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started: list[str] = []

    async def run(self, op: Operation) -> OpResult:
        self.started.append(op.key)
        if op.interval_ms > 0:
            await self.release.wait()
        return OpResult(op, int(OcfRc.OK), ExecStatus.DONE)

    async def metadata(self, rsc: ResourceInfo) -> AgentMetadata:
        raise NotImplementedError


def test_recurring_monitors_do_not_hold_back_a_transitions_operations(tmp_path: Path) -> None:
    async def scenario() -> list[str]:
        executor = NodeExecutor.for_node("node1", tmp_path / "run")
        executor._jobs = asyncio.Semaphore(1)
        executor._recurring_jobs = asyncio.Semaphore(1)
        agents = _Agents()
        executor.local = agents  # type: ignore[assignment]
        rsc = ResourceInfo("d1", "ocf", "Dummy", "heartbeat")
        monitors = [asyncio.ensure_future(executor.run(Operation(rsc, "monitor", 10000)))
                    for _ in range(2)]
        await asyncio.sleep(0)
        # Both shares of one: the monitors hold theirs, a start still runs at once.
        result = await asyncio.wait_for(executor.run(Operation(rsc, "start")), 5)
        assert result.rc == 0
        agents.release.set()
        await asyncio.gather(*monitors)
        return agents.started

    started = asyncio.run(scenario())
    assert started[:2] == ["d1_monitor_10000", "d1_start_0"]
    assert len(started) == 3
