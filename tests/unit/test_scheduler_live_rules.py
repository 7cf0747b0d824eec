"""Scheduler rules behind needless restarts on a live cluster (issue 9).

Each CIB is a state a live 3-node cluster reaches in everyday administration: an
interleaved clone ``cc`` and a group ``g`` ordered after it (``order cc-then-g
Mandatory: cc g``), all running with their monitors. The expected decisions are what
``crm_simulate`` 2.1.5 prints for the very same CIB; the scheduler runs for real.
"""

from __future__ import annotations

from defib.cib.parse import parse_cib
from defib.graph.build import build_graph
from defib.scheduler import schedule

NODES = ("node1", "node2", "node3")
OP = ('<lrm_rsc_op id="{r}_{id}" operation_key="{r}_{task}_{ms}" operation="{task}" '
      'transition-key="{call}:1:0:x" transition-magic="0:{rc};{call}:1:0:x" call-id="{call}" '
      'rc-code="{rc}" op-status="0" interval="{ms}" last-rc-change="1700000000" '
      'op-digest="{digest}"/>')
DIGESTS = {0: "f2317cad3d54cec5d7d7aa7d0bf35cf8", 10000: "4811cef7f7f94e3a35a70be7916cb2fd"}


def dummy(rid: str) -> str:
    return (f'<primitive id="{rid}" class="ocf" provider="heartbeat" type="Dummy"><operations>'
            f'<op id="{rid}-mon" name="monitor" interval="10s"/></operations></primitive>')


CONFIG = (
    '<clone id="cc"><meta_attributes id="cc-meta"><nvpair id="cc-il" name="interleave" '
    f'value="true"/></meta_attributes>{dummy("c")}</clone>'
    f'<group id="g">{dummy("a")}{dummy("b")}</group>'
)
ORDER = '<rsc_order id="cc-then-g" kind="Mandatory" first="cc" then="g"/>'


def running(rid: str, monitor_rc: int = 0, rsc_class: str = "ocf") -> str:
    """History of a resource started and monitored (monitor_rc 7: the monitor failed)."""
    ops = OP.format(r=rid, id="last_0", task="start", ms=0, call=2, rc=0, digest=DIGESTS[0])
    ops += OP.format(r=rid, id="monitor_10000", task="monitor", ms=10000, call=3,
                     rc=monitor_rc, digest=DIGESTS[10000])
    if monitor_rc != 0:
        ops += OP.format(r=rid, id="last_failure_0", task="monitor", ms=10000, call=3,
                         rc=monitor_rc, digest=DIGESTS[10000])
    provider = ' provider="heartbeat"' if rsc_class == "ocf" else ""
    kind = "Dummy" if rsc_class == "ocf" else "fence_xvm"
    return (f'<lrm_resource id="{rid}" class="{rsc_class}"{provider} type="{kind}">'
            f"{ops}</lrm_resource>")


def state(node: int, rscs: str, online: bool = True, attrs: str = "") -> str:
    flags = ('in_ccm="true" crmd="online" join="member"' if online
             else 'in_ccm="false" crmd="offline" join="down"')
    return (f'<node_state id="{node}" uname="node{node}" {flags} expected="member">'
            f'{attrs}<lrm id="{node}"><lrm_resources>{rscs}</lrm_resources></lrm></node_state>')


def cluster(states: str, resources: str = CONFIG, constraints: str = ORDER,
            props: str = "", node_attrs: dict[str, str] | None = None,
            stonith: bool = False) -> str:
    node_attrs = node_attrs or {}
    nodes = "".join(
        f'<node id="{i + 1}" uname="{n}">'
        + (f'<instance_attributes id="n{i}-ia"><nvpair id="n{i}-a" name="{node_attrs[n]}" '
           f'value="{"on" if node_attrs[n] == "standby" else "true"}"/></instance_attributes>'
           if n in node_attrs else "")
        + "</node>"
        for i, n in enumerate(NODES))
    return (
        '<cib have-quorum="1" dc-uuid="1" epoch="1" admin_epoch="0" num_updates="0">'
        '<configuration><crm_config><cluster_property_set id="o">'
        f'<nvpair id="o1" name="stonith-enabled" value="{str(stonith).lower()}"/>{props}'
        f"</cluster_property_set></crm_config><nodes>{nodes}</nodes>"
        f"<resources>{resources}</resources><constraints>{constraints}</constraints>"
        f"</configuration><status>{states}</status></cib>"
    )


def settled(node3_online: bool = True) -> str:
    """cc on every node, g on node1; node3 possibly just (re)joining with no history."""
    out = state(1, running("c") + running("a") + running("b"))
    out += state(2, running("c"))
    out += state(3, running("c") if node3_online else "", online=True)
    return out


def decisions(xml: str) -> set[str]:
    return {" ".join(line.split()) for line in schedule(parse_cib(xml)).summary}


def graph_actions(xml: str) -> set[str]:
    graph = build_graph(schedule(parse_cib(xml)))
    return {f"{s.action.operation} {s.action.describe()}" for s in graph}


def test_clone_instance_starting_on_a_joining_node_restarts_nothing_after_the_clone() -> None:
    # node3 rejoined after a restart: the DC has no history of it yet.
    xml = cluster(settled(node3_online=False))
    assert decisions(xml) == {"* Start c:2 ( node3 )"}


def test_clone_instance_stopping_on_a_standby_node_restarts_nothing_after_the_clone() -> None:
    xml = cluster(settled(), node_attrs={"node2": "standby"})
    assert decisions(xml) == {"* Stop c:1 ( node2 ) due to node availability"}


def test_clone_instance_failing_on_the_groups_own_node_still_restarts_the_group() -> None:
    states = state(1, running("c", monitor_rc=7) + running("a") + running("b"))
    states += state(2, running("c")) + state(3, running("c"))
    assert decisions(cluster(states)) == {
        "* Recover c:0 ( node1 )",
        "* Restart a ( node1 ) due to required cc running",
        "* Restart b ( node1 ) due to required a start",
    }


def test_node_in_maintenance_keeps_everything_in_place_and_cancels_its_monitors() -> None:
    xml = cluster(settled(), node_attrs={"node1": "maintenance"})
    assert decisions(xml) == set()
    cancels = {a for a in graph_actions(xml) if "cancel" in a}
    assert len(cancels) == 3 and all("node1" in a for a in cancels), cancels


def test_cluster_maintenance_mode_cancels_every_monitor_and_moves_nothing() -> None:
    xml = cluster(settled(), props='<nvpair id="o2" name="maintenance-mode" value="true"/>')
    assert decisions(xml) == set()
    assert len({a for a in graph_actions(xml) if "cancel" in a}) == 5


def test_deleted_fence_device_is_stopped_and_resources_are_managed() -> None:
    # stonith-enabled, the only fence device deleted from the configuration but running.
    states = state(1, running("c") + running("a") + running("b") + running("fence", 0, "stonith"))
    states += state(2, running("c")) + state(3, running("c"))
    xml = cluster(states, stonith=True, resources=CONFIG + dummy("web"))
    assert decisions(xml) == {"* Stop fence ( node1 ) due to node availability",
                              "* Start web ( node2 )"}


def test_no_fence_device_means_no_fencing_of_a_lost_node() -> None:
    states = state(1, running("c") + running("a") + running("b"))
    states += state(2, running("c")) + state(3, running("c"), online=False)
    xml = cluster(states, stonith=True)
    assert not any(line.startswith("* Fence") for line in decisions(xml))


def test_deleted_fence_device_still_fences_but_maintenance_mode_fences_nobody() -> None:
    # The device was deleted and stopped; its history keeps it a fence device.
    stopped = OP.format(r="fence", id="last_0", task="stop", ms=0, call=4, rc=0,
                        digest=DIGESTS[0])
    history = f'<lrm_resource id="fence" class="stonith" type="fence_xvm">{stopped}</lrm_resource>'
    states = state(1, running("c") + running("a") + running("b") + history)
    states += state(2, running("c")) + state(3, running("c"), online=False)
    assert decisions(cluster(states, stonith=True)) == {
        "* Fence (reboot) node3 'peer is no longer part of the cluster'",
        "* Stop c:2 ( node3 ) due to node availability"}
    maintenance = '<nvpair id="o2" name="maintenance-mode" value="true"/>'
    assert decisions(cluster(states, stonith=True, props=maintenance)) == set()
