"""The status view and the simulated execution, on variants of the demo cluster.

The expected status text is what crm_simulate 2.1.5 prints for the same CIB; when
crm_simulate is installed the test also checks that live.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from defib.cib.parse import parse_cib
from defib.graph.model import GraphAction
from defib.scheduler.pipeline import unpack
from defib.simulate.demo import sample_text
from defib.simulate.engine import action_line, simulate
from defib.simulate.inject import apply_results
from defib.simulate.status import render_status

EXPECTED_VARIANT = """\
Current cluster status:
  * Node List:
    * Node bravo: standby (with active resources)
    * Online: [ alpha charlie ]

  * Full List of Resources:
    * fence-dummy\t(stonith:fence_dummy):\t Started bravo
    * Resource Group: web:
      * web-ip\t(ocf:heartbeat:IPaddr2):\t Started alpha
      * web-fs\t(ocf:heartbeat:Dummy):\t Started alpha
      * web-server\t(ocf:heartbeat:apache):\t Started alpha (disabled)
    * Clone Set: health-clone [health] (unmanaged):
      * health\t(ocf:pacemaker:Dummy):\t Started alpha (unmanaged)
      * health\t(ocf:pacemaker:Dummy):\t Started bravo (unmanaged)
      * health\t(ocf:pacemaker:Dummy):\t Started charlie (unmanaged)
    * Clone Set: db-clone [db] (promotable):
      * db\t(ocf:pacemaker:Stateful):\t FAILED charlie
      * Promoted: [ alpha ]
      * Unpromoted: [ bravo ]"""


def variant_text() -> str:
    """The demo cluster with a disabled, an unmanaged and a failed resource, a standby node."""
    text = sample_text()
    text = text.replace(
        '<primitive id="web-server" class="ocf" provider="heartbeat" type="apache">',
        '<primitive id="web-server" class="ocf" provider="heartbeat" type="apache">'
        '<meta_attributes id="ws-meta"><nvpair id="ws-tr" name="target-role" value="Stopped"/>'
        '</meta_attributes>')
    text = text.replace(
        '<clone id="health-clone">',
        '<clone id="health-clone"><meta_attributes id="hc-meta">'
        '<nvpair id="hc-managed" name="is-managed" value="false"/></meta_attributes>')
    text = text.replace(
        '<node id="2" uname="bravo"/>',
        '<node id="2" uname="bravo"><instance_attributes id="n2">'
        '<nvpair id="n2-standby" name="standby" value="on"/></instance_attributes></node>')
    found = re.search(r'<lrm_rsc_op id="db_monitor_11000"[^>]*on_node="charlie"[^>]*/>', text)
    assert found is not None
    op = found.group(0)
    failed = op.replace('rc-code="0"', 'rc-code="7"').replace('magic="0:0;', 'magic="0:7;')
    return text.replace(op, failed)


def _status(text: str) -> str:
    cib = parse_cib(text)
    return "\n".join(render_status(unpack(cib, None)))


def test_status_view_forms() -> None:
    assert _status(variant_text()) == EXPECTED_VARIANT


def test_disabled_count_preamble() -> None:
    sim = simulate(parse_cib(variant_text()))
    assert sim.preamble() == [
        "1 of 10 resource instances DISABLED and 0 BLOCKED from further action due to failure",
        ""]


@pytest.mark.skipif(shutil.which("crm_simulate") is None, reason="crm_simulate not installed")
def test_status_view_matches_crm_simulate(tmp_path: Path) -> None:
    cib = tmp_path / "variant.xml"
    cib.write_text(variant_text())
    ref = subprocess.run(["crm_simulate", "-x", str(cib)], capture_output=True, text=True,
                         timeout=120)
    assert ref.returncode == 0, ref.stderr
    start = ref.stdout.index("Current cluster status:")
    assert ref.stdout[start:].rstrip("\n") == EXPECTED_VARIANT


def _op(aid: int, kind: str, operation: str, key: str, **kw: object) -> GraphAction:
    return GraphAction(id=aid, kind=kind, operation=operation, operation_key=key,  # type: ignore[arg-type]
                       **kw)  # type: ignore[arg-type]


def test_action_lines() -> None:
    start = _op(1, "rsc_op", "start", "db:1_start_0", rsc_id="db", rsc_long_id="db:1",
                node_uname="bravo", node_id="2")
    assert action_line(start) == "  * Resource action: db:1            start on bravo"
    assert action_line(start, frozenset({"db"})) == (
        "  * Resource action: db              start on bravo")
    monitor = _op(2, "rsc_op", "monitor", "web-ip_monitor_10000", rsc_id="web-ip",
                  node_uname="alpha", node_id="1", interval_ms=10000)
    assert action_line(monitor) == "  * Resource action: web-ip          monitor=10000 on alpha"
    pseudo = _op(3, "pseudo_event", "start", "web_start_0")
    assert action_line(pseudo) == "  * Pseudo action:   web_start_0"
    fence = _op(4, "crm_event", "stonith", "stonith-alpha-reboot", node_uname="alpha",
                node_id="1", attributes=(("CRM_meta_stonith_action", "reboot"),))
    assert action_line(fence) == "  * Fencing alpha (reboot)"
    shutdown = _op(5, "crm_event", "do_shutdown", "do_shutdown-alpha", node_uname="alpha",
                   node_id="1")
    assert action_line(shutdown) == "  * Cluster action:  do_shutdown on alpha"


def test_apply_results_records_and_fences() -> None:
    cib = parse_cib(sample_text())
    stop = _op(7, "rsc_op", "stop", "web-ip_stop_0", rsc_id="web-ip", node_uname="alpha",
               node_id="1", rsc_class="ocf", rsc_provider="heartbeat", rsc_type="IPaddr2")
    start = _op(8, "rsc_op", "start", "web-ip_start_0", rsc_id="web-ip", node_uname="charlie",
                node_id="3", rsc_class="ocf", rsc_provider="heartbeat", rsc_type="IPaddr2")
    fence = _op(9, "crm_event", "stonith", "stonith-bravo-reboot", node_uname="bravo",
                node_id="2", attributes=(("CRM_meta_stonith_action", "reboot"),))
    after = apply_results(cib, [stop, start, fence])
    states = {s.uname: s for s in after.node_states}
    assert states["bravo"].lrm_resources == () and states["bravo"].in_ccm == "false"
    ws = unpack(after, None)
    web_ip = ws.by_id["web-ip"]
    assert [n.uname for n in web_ip.running_on] == ["charlie"]  # type: ignore[attr-defined]
    assert not any(n.online for n in ws.nodes if n.uname == "bravo")


@pytest.mark.skipif(shutil.which("crm_simulate") is None, reason="crm_simulate not installed")
def test_status_view_matches_crm_simulate_on_generated_clusters(tmp_path: Path) -> None:
    """The "Current cluster status" section equals crm_simulate's on random small clusters
    (groups, clones, failures, lost nodes: defib.testing.gen_cib.small_spec)."""
    from defib.simulate.conformance import squeezed
    from defib.testing.gen_cib import generate_cib, small_spec

    def current(text: str) -> list[str]:
        return squeezed(text.split("Transition Summary:")[0])

    seeds = range(20)
    differ = []
    for seed in seeds:
        text = generate_cib(seed, small_spec(seed))
        path = tmp_path / f"seed{seed}.xml"
        path.write_text(text)
        ref = subprocess.run(["crm_simulate", "-x", str(path)], capture_output=True, text=True,
                             timeout=120)
        assert ref.returncode == 0, ref.stderr
        sim = simulate(parse_cib(text), execute=False)
        ours = "\n".join(sim.preamble() + sim.status_lines())
        if current(ref.stdout) != current(ours):
            differ.append(seed)
    print(f"status view equal to crm_simulate's on {len(seeds) - len(differ)}/{len(seeds)} seeds;"
          f" different: {differ}")
    assert len(differ) <= 1, f"status view differs from crm_simulate's on seeds {differ}"


def test_results_join_the_active_instance_history() -> None:
    """An anonymous clone instance's result goes to the history entry that says it runs
    there, whatever instance number the scheduler chose; crm_simulate prints that name."""
    from defib.model.status import LrmResource, NodeState, OpRecord
    from defib.simulate.inject import history_entry

    def lrm(name: str, operation: str, rc: int) -> LrmResource:
        return LrmResource(id=name, ops=(OpRecord(id=f"{name}_last_0", operation=operation,
                                                  call_id=3, rc_code=rc),))

    state = NodeState(id="1", uname="n1", lrm_resources=(
        lrm("ping:0", "monitor", 7), lrm("ping:1", "start", 0)))
    stop = _op(1, "rsc_op", "stop", "ping:0_stop_0", rsc_id="ping", rsc_long_id="ping:0",
               node_uname="n1", node_id="1")
    entry = history_entry(state, stop)
    assert entry is not None and entry.id == "ping:1"
    assert action_line(stop, frozenset(), entry.id) == (
        "  * Resource action: ping:1          stop on n1")
    from defib.model.cib import Cib, Node

    after = apply_results(Cib(nodes=(Node(id="1", uname="n1"),), node_states=(state,)), [stop])
    entries = {r.id: r for r in after.node_states[0].lrm_resources}
    assert set(entries) == {"ping:0", "ping:1"}
    recorded = {op.id: op.operation for op in entries["ping:1"].ops}
    assert recorded == {"ping:1_last_0": "stop"}  # replaced the start, as the controller does


def test_summary_columns_like_crm_simulate() -> None:
    from defib.simulate.engine import align_summary

    lines = [
        "  * Fence (reboot) node2 'rsc1 failed there'",
        "  * Start stonith-1 ( node1 )",
        "  * Recover rsc1 ( node2 -> node1 )",
        "  * Stop rsc2 ( node2 )  due to node availability",
    ]
    assert align_summary(lines) == [
        "  * Fence (reboot) node2 'rsc1 failed there'",
        "  * Start      stonith-1     (          node1 )",
        "  * Recover    rsc1          ( node2 -> node1 )",
        "  * Stop       rsc2          (          node2 )  due to node availability",
    ]
