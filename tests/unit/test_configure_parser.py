"""Parser, renderer and error reports of the configure language."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from defib.configure.agents import LocalAgents
from defib.configure.commands import apply_script, load, memory, show, show_xml
from defib.configure.parser import parse_text


def _one(text: str) -> ET.Element:
    parsed, problems = parse_text(text)
    assert not problems, problems
    assert len(parsed) == 1
    return parsed[0].element


def test_primitive_ids_as_crmsh() -> None:
    el = _one("primitive p1 ocf:heartbeat:IPaddr2 params ip=198.18.0.10 meta target-role=Stopped"
              " op monitor interval=10 timeout=20s OCF_CHECK_LEVEL=10")
    assert el.get("class") == "ocf" and el.get("provider") == "heartbeat"
    assert el.find("instance_attributes/nvpair").get("id") == "p1-instance_attributes-ip"
    assert el.find("meta_attributes/nvpair").get("id") == "p1-meta_attributes-target-role"
    op = el.find("operations/op")
    assert op.get("id") == "p1-monitor-10s" and op.get("interval") == "10s"
    nv = op.find("instance_attributes/nvpair")
    assert nv.get("id") == "p1-monitor-10s-instance_attributes-OCF_CHECK_LEVEL"


def test_location_rule_expressions_and_dates() -> None:
    el = _one("location l8 m5 rule inf: #uname eq node1 and pingd gt 0 and date lt 2009-05-26 "
              "and date in start=2009-05-26 years=2009 and date spec hours=09-17")
    rule = el.find("rule")
    assert rule.get("score") == "INFINITY" and rule.get("id") == "l8-rule"
    ids = [c.get("id") for c in rule]
    assert ids == ["l8-rule-expression", "l8-rule-expression-0", "l8-rule-expression-1",
                   "l8-rule-expression-2", "l8-rule-expression-3"]
    assert rule[3].find("duration").get("years") == "2009"
    assert rule[4].get("operation") == "date_spec"


def test_resource_sets_and_simple_forms() -> None:
    col = _one("colocation c1 inf: d4 ( d1 d2 d3 )")
    sets = col.findall("resource_set")
    assert [s.get("sequential") for s in sets] == [None, "false"]
    assert [s.get("id") for s in sets] == ["c1-0", "c1-1"]
    simple = _one("colocation c2 inf: m5:Promoted g1:Started")
    assert simple.get("rsc-role") == "Promoted" and simple.get("with-rsc") == "g1"
    order = _one("order o2 Optional: g1:start m5:promote")
    assert order.get("kind") == "Optional" and order.get("then-action") == "promote"
    ticket = _one("rsc_ticket t ticket-C: m6 m5:Promoted loss-policy=stop")
    assert [s.get("role") for s in ticket.findall("resource_set")] == [None, "Promoted"]
    req = _one("colocation c3 inf: [ a b ] c")
    assert req.find("resource_set").get("require-all") == "false"


def test_acl_shortcuts_round_trip() -> None:
    store = memory()
    # ref:d0 must name something: Pacemaker's schema refuses a dangling reference.
    text = ("primitive d0 Dummy\n"
            "role r read meta:d0:target-role write property read status deny ref:d0\n"
            "acl_target alice r\n")
    assert load(store, "replace", text).ok
    xml = show_xml(store).output
    assert "//primitive[@id='d0']/meta_attributes/nvpair[@name='target-role']" in xml
    assert show(store, ["r", "alice"]).output == (
        "role r \\\n\tread meta:d0:target-role \\\n\twrite property"
        " \\\n\tread status \\\n\tdeny ref:d0\nacl_target alice \\\n\tr\n")


def test_errors_have_location_and_suggestion_and_are_collected() -> None:
    store = memory()
    before = store.xml
    text = ("primitive ip1 ocf:heartbeat:IPaddr2 parms ip=198.18.0.10\n"
            "primitve x Dummy\n"
            "primitive y ocf:heartbeat:Dumy\n"
            "primitive z ocf:heartbeat:IPaddr2 params ipaddr=198.18.0.11\n"
            "location l1 zz 100: node1\n")
    result = apply_script(store, text, LocalAgents())
    assert not result.ok
    assert store.xml == before, "an invalid configuration must never be written"
    got = {(p.code, p.location.line if p.location else None, p.suggestion)
           for p in result.problems if p.severity == "error"}
    assert ("syntax", 1, "params") in got
    assert ("unknown-keyword", 2, "primitive") in got
    assert ("unknown-agent", 3, "Dummy") in got
    assert ("unknown-parameter", 4, "ip") in got
    assert ("missing-resource", 5, "z") in got
    first = next(p for p in result.problems if p.code == "syntax")
    assert first.location is not None and first.location.column == 37


def test_duplicate_id_is_refused() -> None:
    store = memory()
    assert apply_script(store, "primitive a Dummy", None).ok
    result = apply_script(store, "primitive a Dummy", None)
    assert not result.ok and result.problems[0].code == "duplicate-id"


def test_line_continuation_and_comments() -> None:
    parsed, problems = parse_text("# a comment\nprimitive a Dummy \\\n\tparams state=1 \\\n"
                                  "\top monitor interval=10s\n")
    assert not problems
    assert parsed[0].element.find("operations/op").get("id") == "a-monitor-10s"


def test_unterminated_quote_and_library_exception() -> None:
    import pytest

    from defib.commands.result import ReportedError

    parsed, problems = parse_text('primitive a Dummy params x="open\n')
    assert not parsed and problems[0].message == "unterminated quote"
    assert problems[0].location is not None and problems[0].location.column == 28
    result = apply_script(memory(), "primitve a Dummy", None)
    with pytest.raises(ReportedError) as info:
        result.raise_for_errors()
    (first,) = info.value.reports
    assert first.code == "unknown-keyword" and info.value.code == "unknown-keyword"
    assert first.location is not None and first.location.line == 1
    assert first.suggestion == "primitive"


def test_location_on_unknown_node_is_a_warning() -> None:
    store = memory()
    result = apply_script(store, "node node1\nprimitive a Dummy\nlocation l a 50: nod1\n", None)
    assert result.ok
    (warning,) = [p for p in result.problems if p.code == "unknown-node"]
    assert warning.severity == "warning" and warning.suggestion == "node1"
    assert warning.location is not None and warning.location.column == 18


def test_dangling_id_ref_is_refused() -> None:
    store = memory()
    result = apply_script(store, "primitive a Dummy params $id-ref=nothere\n", None)
    assert not result.ok
    assert [p.code for p in result.problems] == ["missing-reference"]
