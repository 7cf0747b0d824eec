"""`explain` on constructed cases: at least one per cause kind, and ordering chains."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from defib.cib.digest import op_digest
from defib.cib.parse import parse_cib
from defib.cli.main import main
from defib.errors import CommandError
from defib.explain import Explanation, explain, trace_schedule
from defib.explain.scores import score_table
from defib.scheduler import schedule
from defib.simulate.engine import simulate

NODES = ("n1", "n2", "n3")
NOW = dt.datetime(2026, 1, 1, 12, 0, 0)


def prim(rid: str, meta: dict[str, str] | None = None, util: dict[str, str] | None = None,
         cls: str = 'class="ocf" provider="heartbeat" type="Dummy"') -> str:
    body = ""
    if meta:
        body += f'<meta_attributes id="{rid}-m">' + "".join(
            f'<nvpair id="{rid}-m-{k}" name="{k}" value="{v}"/>' for k, v in meta.items()
        ) + "</meta_attributes>"
    if util:
        body += f'<utilization id="{rid}-u">' + "".join(
            f'<nvpair id="{rid}-u-{k}" name="{k}" value="{v}"/>' for k, v in util.items()
        ) + "</utilization>"
    return f'<primitive id="{rid}" {cls}>{body}</primitive>'


def state(node: str, running: tuple[str, ...] = (), attrs: dict[str, str] | None = None,
          member: bool = True, expected: str = "member") -> str:
    ops = "".join(
        f'<lrm_resource id="{r}" class="ocf" provider="heartbeat" type="Dummy">'
        f'<lrm_rsc_op id="{r}_last_0" operation="start" operation_key="{r}_start_0" '
        'interval="0" call-id="3" rc-code="0" op-status="0" transition-key="1:1:0:x" '
        f'op-digest="{op_digest({})}"/>'
        "</lrm_resource>" for r in running)
    transient = ""
    if attrs:
        transient = (f'<transient_attributes id="{node}"><instance_attributes id="st-{node}">'
                     + "".join(f'<nvpair id="st-{node}-{k}" name="{k}" value="{v}"/>'
                               for k, v in attrs.items())
                     + "</instance_attributes></transient_attributes>")
    ccm = 'in_ccm="true" crmd="online" join="member"' if member else (
        'in_ccm="false" crmd="offline" join="down"')
    return (f'<node_state id="{node}" uname="{node}" {ccm} expected="{expected}">'
            f'{transient}<lrm id="{node}"><lrm_resources>{ops}</lrm_resources></lrm>'
            "</node_state>")


def build(resources: str, constraints: str = "", states: str | None = None,
          props: dict[str, str] | None = None, node_xml: str | None = None,
          quorum: bool = True, tickets: str = "") -> str:
    options = {"stonith-enabled": "false", **(props or {})}
    nvs = "".join(f'<nvpair id="o-{k}" name="{k}" value="{v}"/>' for k, v in options.items())
    nodes = node_xml or "".join(f'<node id="{n}" uname="{n}"/>' for n in NODES)
    if states is None:
        states = "".join(state(n) for n in NODES)
    return (f'<cib have-quorum="{str(quorum).lower()}" epoch="1"><configuration><crm_config>'
            f'<cluster_property_set id="o">{nvs}</cluster_property_set></crm_config>'
            f"<nodes>{nodes}</nodes><resources>{resources}</resources>"
            f"<constraints>{constraints}</constraints></configuration>"
            f"<status>{states}{tickets}</status></cib>")


def why(xml: str, rsc: str, node: str | None = None) -> Explanation:
    answers = explain(trace_schedule(parse_cib(xml), NOW), rsc, node)
    assert len(answers) == 1
    return answers[0]


def test_location_and_best_score() -> None:
    xml = build(prim("web"), '<rsc_location id="prefer-n2" rsc="web" node="n2" score="50"/>')
    answer = why(xml, "web")
    assert "will start on n2" in answer.summary
    assert "location constraint prefer-n2 gives n2 +50" in answer.text()
    assert "n1 scores 0, not better than n2's +50" in answer.text()


def test_location_ban() -> None:
    xml = build(prim("web"), '<rsc_location id="not-n1" rsc="web" node="n1" score="-INFINITY"/>')
    answer = why(xml, "web", "n1")
    assert [c.kind for c in answer.causes] == ["location"]
    assert "location constraint not-n1 bans it from n1" in answer.text()


def test_stickiness_keeps_it_where_it_runs() -> None:
    xml = build(prim("web", {"resource-stickiness": "100"}),
                '<rsc_location id="prefer-n2" rsc="web" node="n2" score="50"/>',
                state("n1", ("web",)) + state("n2") + state("n3"))
    answer = why(xml, "web")
    assert "stays on n1" in answer.summary
    assert "stickiness" in answer.kinds
    assert "resource-stickiness keeps it on n1, where it runs (+100)" in answer.text()


def test_fail_count_below_and_at_migration_threshold() -> None:
    fails = {"fail-count-web#monitor_10000": "1"}
    below = build(prim("web", {"migration-threshold": "3"}), "",
                  state("n1", ("web",), fails) + state("n2") + state("n3"))
    answer = why(below, "web")
    assert "fail-count" in answer.kinds and "stays on n1" in answer.summary
    assert "it failed 1 time(s) on n1 (migration-threshold=3)" in answer.text()
    reached = below.replace('value="3"', 'value="1"')
    answer = why(reached, "web", "n1")
    assert "migration-threshold" in answer.kinds
    assert "reaching migration-threshold=1: banned there" in answer.text()


@pytest.mark.parametrize("attr, kind, words", [
    ("standby", "standby", "n2 is in standby"),
    ("maintenance", "maintenance", "n2 is in maintenance"),
])
def test_node_standby_and_maintenance(attr: str, kind: str, words: str) -> None:
    xml = build(prim("web"), '<rsc_location id="prefer-n2" rsc="web" node="n2" score="50"/>',
                state("n1") + state("n2", attrs={attr: "on"}) + state("n3"))
    answer = why(xml, "web", "n2")
    assert kind in answer.kinds and words in answer.text()
    assert "n2" not in answer.summary.split(";")[1]


def test_offline_node() -> None:
    xml = build(prim("web"), '<rsc_location id="only-n2" rsc="web" node="n2" score="INFINITY"/>'
                '<rsc_location id="ban1" rsc="web" node="n1" score="-INFINITY"/>'
                '<rsc_location id="ban3" rsc="web" node="n3" score="-INFINITY"/>',
                state("n1") + state("n2", member=False, expected="down") + state("n3"))
    answer = why(xml, "web")
    assert "will not run anywhere" in answer.summary
    assert "offline" in answer.kinds and "n2 is offline" in answer.text()


def test_cluster_maintenance_mode_leaves_it_alone() -> None:
    xml = build(prim("web"), props={"maintenance-mode": "true"})
    answer = why(xml, "web")
    assert "maintenance" in answer.kinds
    assert "the cluster is in maintenance-mode" in answer.text()


def test_quorum() -> None:
    xml = build(prim("web"), quorum=False)
    answer = why(xml, "web")
    assert "cannot" in answer.summary and "quorum" in answer.kinds
    assert "the partition has no quorum" in answer.text()


def test_unclean_node_waits_for_fencing() -> None:
    fence = prim("fence", cls='class="stonith" type="fence_dummy"')
    xml = build(fence + prim("web"), '<rsc_location id="not-fence-n2" rsc="fence" node="n2" '
                'score="-INFINITY"/>',
                state("n1", ("fence",)) + state("n2", ("web",), member=False) + state("n3"),
                props={"stonith-enabled": "true"}, quorum=False)
    answer = why(xml, "web")
    assert "fencing" in answer.kinds
    assert "n2 is UNCLEAN" in answer.text()


def test_no_fence_device_means_nothing_is_managed() -> None:
    xml = build(prim("web"), props={"stonith-enabled": "true"})
    answer = why(xml, "web")
    assert "fencing" in answer.kinds and "no fence device" in answer.text()


def test_utilization() -> None:
    node_xml = "".join(
        f'<node id="{n}" uname="{n}"><utilization id="{n}-u"><nvpair id="{n}-u-cpu" '
        f'name="cpu" value="{cpu}"/></utilization></node>'
        for n, cpu in (("n1", 1), ("n2", 1), ("n3", 4)))
    xml = build(prim("big", util={"cpu": "2"}), node_xml=node_xml,
                props={"placement-strategy": "utilization"})
    answer = why(xml, "big", "n1")
    assert "utilization" in answer.kinds
    assert "n1 has not enough capacity left" in answer.text()
    assert "will start on n3" in answer.summary


def test_order_chain_blocked_by_a_failure() -> None:
    # A after B after C; C failed on n1, its only node: C, then B, then A cannot start.
    cons = ('<rsc_order id="b-then-a" first="B" then="A"/>'
            '<rsc_order id="c-then-b" first="C" then="B"/>'
            '<rsc_location id="c-n1" rsc="C" node="n1" score="INFINITY"/>'
            '<rsc_location id="c-not-n2" rsc="C" node="n2" score="-INFINITY"/>'
            '<rsc_location id="c-not-n3" rsc="C" node="n3" score="-INFINITY"/>')
    xml = build(prim("A") + prim("B") + prim("C", {"migration-threshold": "1"}), cons,
                state("n1", attrs={"fail-count-C#monitor_10000": "1"}) + state("n2")
                + state("n3"))
    answer = why(xml, "A")
    assert "should start" in answer.summary and "cannot" in answer.summary
    depths = [(c.depth, c.kind) for c in answer.causes if c.kind in ("order",
                                                                       "migration-threshold")]
    assert depths[:4] == [(0, "order"), (1, "order"), (2, "order"),
                          (3, "migration-threshold")]
    text = answer.text()
    assert "start of A on" in text and "is ordered after start of B" in text
    assert "start of B on" in text and "is ordered after start of C" in text
    assert "C cannot run anywhere" in text and "reaching migration-threshold=1" in text


def test_colocation_with_a_resource_that_cannot_run() -> None:
    cons = ('<rsc_colocation id="web-with-db" rsc="web" with-rsc="db" score="INFINITY"/>')
    xml = build(prim("web") + prim("db", {"target-role": "Stopped"}), cons)
    answer = why(xml, "web", "n1")
    assert "colocation" in answer.kinds
    assert "it must run with db (web-with-db), which cannot run" in answer.text()
    assert "target-role" in why(xml, "db").kinds


def test_ticket() -> None:
    cons = '<rsc_ticket id="web-needs-t" rsc="web" ticket="ticketA" loss-policy="stop"/>'
    xml = build(prim("web"), cons)
    answer = why(xml, "web", "n1")
    assert "ticket" in answer.kinds and "ticket ticketA not granted" in answer.text()
    granted = xml.replace("</status>", '<tickets><ticket_state id="ticketA" granted="true"/>'
                          "</tickets></status>")
    assert "ticket" not in why(granted, "web").kinds


def test_target_role_stopped() -> None:
    answer = why(build(prim("web", {"target-role": "Stopped"})), "web")
    assert answer.kinds == {"target-role"}
    assert "target-role=Stopped is set on web" in answer.text()


def test_target_role_on_the_group() -> None:
    group = ('<group id="g"><meta_attributes id="g-m"><nvpair id="g-m-t" name="target-role" '
             f'value="Stopped"/></meta_attributes>{prim("a")}{prim("b")}</group>')
    answer = why(build(group), "b")
    assert "target-role=Stopped is set on g" in answer.text()


def test_is_managed_false() -> None:
    xml = build(prim("web", {"is-managed": "false"}), "",
                state("n1", ("web",)) + state("n2") + state("n3"))
    answer = why(xml, "web")
    assert "is-managed" in answer.kinds and "is-managed=false is set on web" in answer.text()


def test_resource_discovery_exclusive() -> None:
    cons = ('<rsc_location id="disc" rsc="web" node="n3" score="0" '
            'resource-discovery="exclusive"/>')
    answer = why(build(prim("web"), cons), "web", "n1")
    assert "discovery" in answer.kinds
    assert "resource-discovery=exclusive" in answer.text()


def test_node_health() -> None:
    xml = build(prim("web"), "", state("n1", attrs={"#health-disk": "red"}) + state("n2")
                + state("n3"), props={"node-health-strategy": "migrate-on-red"})
    answer = why(xml, "web", "n1")
    assert "health" in answer.kinds and "#health-disk=red" in answer.text()


def test_clone_explains_each_instance_and_unknown_names_are_refused() -> None:
    clone = f'<clone id="c">{prim("d")}</clone>'
    answers = explain(trace_schedule(parse_cib(build(clone)), NOW), "c")
    assert len(answers) == 3
    with pytest.raises(CommandError, match="no resource 'nope'"):
        explain(trace_schedule(parse_cib(build(clone)), NOW), "nope")


def test_score_table() -> None:
    xml = build(prim("web"), '<rsc_location id="prefer-n2" rsc="web" node="n2" score="50"/>')
    table = score_table(trace_schedule(parse_cib(xml), NOW), "web")
    lines = table.splitlines()
    assert lines[0] == "web:"
    assert lines[2].split() == ["location", "prefer-n2", "+50"]
    assert lines[3].split() == ["=", "score", "0", "+50", "0"]
    assert lines[4].split() == ["chosen", "*"]


def test_tracing_changes_no_decision() -> None:
    cons = '<rsc_colocation id="c1" rsc="A" with-rsc="B" score="100"/>'
    xml = build(prim("A") + prim("B", {"resource-stickiness": "10"}), cons,
                state("n1", ("B",)) + state("n2") + state("n3"))
    plain = simulate(parse_cib(xml), NOW, execute=False).transition.summary
    traced = schedule(parse_cib(xml), NOW, trace=trace_schedule(parse_cib(xml), NOW))
    assert plain == traced.summary


def test_failed_fencing_is_named() -> None:
    fence = prim("fence", cls='class="stonith" type="fence_dummy"')
    xml = build(fence + prim("web"), "",
                state("n1", ("fence",)) + state("n2", ("web",), member=False) + state("n3"),
                props={"stonith-enabled": "true"})
    trace = trace_schedule(parse_cib(xml), NOW)
    trace.fence_failures = {"n2": "no fence device can fence n2"}
    (answer,) = explain(trace, "web", "n2")
    assert "n2 is UNCLEAN" in answer.text()
    assert "its fencing has failed: no fence device can fence n2" in answer.text()


def test_cli_on_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cib.xml"
    path.write_text(build(prim("web"), '<rsc_location id="prefer-n2" rsc="web" node="n2" '
                          'score="50"/>'))
    assert main(["explain", "web", "--file", str(path), "--scores"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("web (ocf:heartbeat:Dummy) is stopped; it will start on n2.")
    assert "Placement scores:\nweb:" in out
    assert main(["explain", "nope", "--file", str(path)]) == 1
    assert "defib: error: no resource 'nope' (known: web)" in capsys.readouterr().err


def test_colocation_chain_names_the_root_cause() -> None:
    cons = '<rsc_colocation id="web-with-db" rsc="web" with-rsc="db" score="INFINITY"/>'
    xml = build(prim("web") + prim("db", {"target-role": "Stopped"}), cons)
    text = why(xml, "web").text()
    assert text.splitlines()[1:] == [
        "  - it must run with db (web-with-db), which cannot run",
        "    - db cannot run anywhere:",
        "      - target-role=Stopped is set on db (`defib resource start db` clears it)"]


def test_colocation_loop_is_cut_short() -> None:
    cons = ('<rsc_colocation id="a-with-b" rsc="a" with-rsc="b" score="INFINITY"/>'
            '<rsc_colocation id="b-with-a" rsc="b" with-rsc="a" score="INFINITY"/>'
            '<rsc_location id="a-nowhere" rsc="a" score="-INFINITY" node="n1"/>'
            '<rsc_location id="a-not-n2" rsc="a" score="-INFINITY" node="n2"/>'
            '<rsc_location id="a-not-n3" rsc="a" score="-INFINITY" node="n3"/>')
    xml = build(prim("a") + prim("b"), cons)
    # Pacemaker ignores the colocation that closes the loop: b is placed; a is not.
    assert "will not run anywhere" in why(xml, "a").summary
    assert all(len(why(xml, r).causes) < 50 for r in ("a", "b"))


def test_promotion_is_said() -> None:
    stateful = 'class="ocf" provider="pacemaker" type="Stateful"'
    clone = ('<clone id="ms"><meta_attributes id="ms-m"><nvpair id="ms-m-p" '
             'name="promotable" value="true"/></meta_attributes>'
             f'{prim("st", cls=stateful)}</clone>')
    states = "".join(state(n, attrs={"master-st": "10" if n == "n2" else "5"})
                     for n in NODES)
    answers = explain(trace_schedule(parse_cib(build(clone, "", states)), NOW), "ms")
    summaries = [a.summary for a in answers]
    assert sum("and promoted on n2" in s for s in summaries) == 1, summaries
