"""Transient attributes under a ``node_state`` element, as Pacemaker's attribute manager
writes them::

    <node_state id="2" ...>
      <transient_attributes id="2">
        <instance_attributes id="status-2">
          <nvpair id="status-2-fail-count-web.monitor_10000" name="fail-count-web#monitor_10000"
                  value="1"/>

Pure functions over ElementTree elements; the controller owns the CIB and writes them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

INFINITY = 1_000_000


def fail_count_name(rsc_id: str, op: str, interval_ms: int) -> str:
    return f"fail-count-{rsc_id}#{op}_{interval_ms}"


def last_failure_name(rsc_id: str, op: str, interval_ms: int) -> str:
    return f"last-failure-{rsc_id}#{op}_{interval_ms}"


def _nvset(node_state: ET.Element, create: bool) -> ET.Element | None:
    node_id = node_state.get("id", "")
    transient = node_state.find("transient_attributes")
    if transient is None:
        if not create:
            return None
        transient = ET.Element("transient_attributes", {"id": node_id})
        # Pacemaker writes transient attributes before the lrm section.
        node_state.insert(0, transient)
    nvset = transient.find("instance_attributes")
    if nvset is None:
        if not create:
            return None
        nvset = ET.SubElement(transient, "instance_attributes", {"id": f"status-{node_id}"})
    return nvset


def get_attrs(node_state: ET.Element) -> dict[str, str]:
    nvset = _nvset(node_state, create=False)
    if nvset is None:
        return {}
    return {nv.get("name", ""): nv.get("value", "") for nv in nvset.findall("nvpair")}


def set_attr(node_state: ET.Element, name: str, value: str | None) -> bool:
    """Set (or with ``None`` delete) one attribute; True when something changed."""
    nvset = _nvset(node_state, create=value is not None)
    if nvset is None:
        return False
    for nv in nvset.findall("nvpair"):
        if nv.get("name") == name:
            if value is None:
                nvset.remove(nv)
                return True
            if nv.get("value") == value:
                return False
            nv.set("value", value)
            return True
    if value is None:
        return False
    ET.SubElement(nvset, "nvpair", {
        "id": f"{nvset.get('id')}-{name.replace('#', '.')}", "name": name, "value": value,
    })
    return True


def _parse_count(text: str | None) -> int:
    if text is None:
        return 0
    if text.strip().upper() in ("INFINITY", "+INFINITY"):
        return INFINITY
    try:
        return min(int(text), INFINITY)
    except ValueError:
        return 0


def record_failure(node_state: ET.Element, rsc_id: str, op: str, interval_ms: int,
                   when: float, fatal: bool = False) -> int:
    """Count one failure of ``rsc_id``'s ``op`` (INFINITY when fatal, as a failed start with
    ``start-failure-is-fatal``); returns the new fail count."""
    name = fail_count_name(rsc_id, op, interval_ms)
    count = INFINITY if fatal else min(_parse_count(get_attrs(node_state).get(name)) + 1,
                                       INFINITY)
    set_attr(node_state, name, "INFINITY" if count >= INFINITY else str(count))
    set_attr(node_state, last_failure_name(rsc_id, op, interval_ms), str(int(when)))
    return count


def cleanup(node_state: ET.Element, rsc_id: str | None = None) -> list[str]:
    """Clear fail counts and last-failure times (of one resource, or all); returns names."""
    removed = []
    for name in list(get_attrs(node_state)):
        for prefix in ("fail-count-", "last-failure-"):
            if not name.startswith(prefix):
                continue
            rest = name[len(prefix):]
            if rsc_id is None or rest.rpartition("#")[0] == rsc_id:
                set_attr(node_state, name, None)
                removed.append(name)
    return removed
