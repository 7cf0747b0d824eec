"""The status entries the DC writes for members, by the rules of ``controller.status``."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from defib.controller.status import INCARNATION, member_state


def _state(**attrs: str) -> ET.Element:
    el = ET.Element("node_state", {"id": "3", "uname": "node3", **attrs})
    attrs_el = ET.SubElement(el, "transient_attributes", id="3")
    sets = ET.SubElement(attrs_el, "instance_attributes", id="status-3")
    ET.SubElement(sets, "nvpair", id="status-3-shutdown", name="shutdown", value="1700000000")
    return el


def test_a_member_on_its_way_out_stays_expected_down() -> None:
    current = _state(in_ccm="true", expected="down", **{INCARNATION: "10"})
    new = member_state(current, "3", "node3", True, None, "10")
    assert new.get("expected") == "down"
    assert new.find("transient_attributes") is not None


def test_a_new_daemon_is_expected_up_and_loses_the_old_ones_attributes() -> None:
    # It stopped cleanly (expected=down, a shutdown request) and came back before the DC
    # wrote its departure: the status still says in_ccm=true.
    current = _state(in_ccm="true", expected="down", **{INCARNATION: "10"})
    new = member_state(current, "3", "node3", True, None, "11")
    assert new.get("expected") == "member"
    assert new.get(INCARNATION) == "11"
    assert new.find("transient_attributes") is None
    assert current.get("expected") == "down"  # the CIB's own element is left untouched


def test_ticket_state_attributes_set_and_removed() -> None:
    from defib.controller.status import set_ticket_state

    tickets = ET.Element("tickets")
    assert set_ticket_state(tickets, "t1", {"granted": "true", "last-granted": "5"})
    assert not set_ticket_state(tickets, "t1", {"granted": "true"})  # nothing changed
    assert set_ticket_state(tickets, "t1", {"last-granted": None, "standby": "false"})
    [state] = tickets.findall("ticket_state")
    assert state.attrib == {"id": "t1", "granted": "true", "standby": "false"}
