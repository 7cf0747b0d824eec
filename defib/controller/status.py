"""The status section as the DC writes it: node membership, operation history, attributes.

Pure functions over ElementTree elements, so the rules are unit-testable:

* a member that announced its history: ``in_ccm=true crmd=online join=member
  expected=member`` (``join=pending`` until it announced; ``expected`` is set when it joins,
  so a member shutting down keeps ``expected=down``);
* a node that left: ``in_ccm=false crmd=offline``, ``join`` and ``expected`` unchanged, so the
  scheduler sees a node that was expected up and is gone: unclean, to be fenced;
* a fenced node: ``expected=down`` and its operation history and transient attributes are
  erased (its resources are known stopped), as Pacemaker's ``send_stonith_update`` does.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

from defib.cluster.cibxml import serialize

ORIGIN = "defib-controller"
INCARNATION = "defib-incarnation"  # the node's executor that the status entry describes


def find_node_state(cib_root: ET.Element, node_id: str) -> ET.Element | None:
    status = cib_root.find("status")
    if status is None:
        return None
    for el in status.findall("node_state"):
        if el.get("id") == node_id:
            return el
    return None


def _fresh(node_id: str, uname: str, current: ET.Element | None) -> ET.Element:
    el = ET.Element("node_state", {"id": node_id, "uname": uname})
    if current is not None:
        for key, value in current.attrib.items():
            el.set(key, value)
        for child in current:
            el.append(child)
    return el


def member_state(current: ET.Element | None, node_id: str, uname: str, joined: bool,
                 lrm: ET.Element | None, incarnation: str | None = None) -> ET.Element:
    el = _fresh(node_id, uname, current)
    new_daemon = bool(incarnation) and el.get(INCARNATION) != incarnation
    if new_daemon:
        # A new daemon on the node: the transient attributes of the old one (a shutdown
        # request, fail counts) died with it, whatever copy of the status survived.
        for child in list(el):
            if child.tag == "transient_attributes":
                el.remove(child)
        el.set(INCARNATION, str(incarnation))
    # A new daemon has rejoined even if its departure was never recorded (it left and came
    # back between two writes): an old "expected down" would make its next crash look
    # like a clean stop, and leave it unfenced with its resources running.
    rejoined = current is None or current.get("in_ccm") != "true" or new_daemon
    el.attrib.update({"in_ccm": "true", "crmd": "online", "crm-debug-origin": ORIGIN,
                      "join": "member" if joined else "pending"})
    # Expected up from its join on; a member on its way out (expected=down) stays so.
    if rejoined or el.get("expected") is None:
        el.set("expected", "member")
    if lrm is not None:
        replace_lrm(el, lrm)
    return el


def lost_state(current: ET.Element, node_id: str, uname: str) -> ET.Element:
    el = _fresh(node_id, uname, current)
    # ``join`` is left as it was: the scheduler reads "down" with the node offline as a
    # clean departure (no fencing), which a crash is not.
    el.attrib.update({"in_ccm": "false", "crmd": "offline", "crm-debug-origin": ORIGIN})
    if el.get("expected") == "down":
        # A clean departure: its transient attributes (the shutdown request) go with it.
        for child in list(el):
            if child.tag == "transient_attributes":
                el.remove(child)
    return el


def fenced_state(current: ET.Element | None, node_id: str, uname: str) -> ET.Element:
    el = _fresh(node_id, uname, current)
    el.attrib.update({"in_ccm": "false", "crmd": "offline", "join": "down",
                      "expected": "down", "crm-debug-origin": "send_stonith_update"})
    for child in list(el):
        if child.tag in ("lrm", "transient_attributes"):
            el.remove(child)
    empty = ET.SubElement(el, "lrm", {"id": node_id})
    ET.SubElement(empty, "lrm_resources")
    return el


def replace_lrm(node_state: ET.Element, lrm: ET.Element) -> None:
    for child in list(node_state):
        if child.tag == "lrm":
            node_state.remove(child)
    copy = ET.fromstring(ET.tostring(lrm))
    copy.set("id", node_state.get("id", ""))
    node_state.append(copy)


def replace_lrm_resource(lrm: ET.Element, entry: ET.Element) -> None:
    resources = lrm.find("lrm_resources")
    if resources is None:
        resources = ET.SubElement(lrm, "lrm_resources")
    for el in resources.findall("lrm_resource"):
        if el.get("id") == entry.get("id"):
            resources.insert(list(resources).index(el), entry)
            resources.remove(el)
            return
    resources.append(entry)


def known_resources(lrm: ET.Element | None) -> set[str]:
    if lrm is None:
        return set()
    return {el.get("id", "") for el in lrm.iter("lrm_resource")}


def same(current: ET.Element | None, new: ET.Element | None) -> bool:
    """Whether ``new`` says what ``current`` (an element of the CIB copy, whose text is
    mostly known already) says."""
    if current is None or new is None:
        return current is new
    if current.tag != new.tag or current.attrib != new.attrib or len(current) != len(new):
        return False
    # ``new`` is usually built from ``current`` and shares most children with it.
    return all(a is b or serialize(a) == ET.tostring(b, encoding="unicode")
               for a, b in zip(current, new, strict=True))


def scheduler_input(cib: str | ET.Element, quorate: bool, dc_id: str | None,
                    now: float | None = None) -> str:
    """The CIB (text, or a tree that is not modified) as the scheduler must see it: quorum
    and DC as the DC knows them now."""
    if isinstance(cib, str):
        root = ET.fromstring(cib)
    else:
        root = ET.Element(cib.tag, dict(cib.attrib))
        root.extend(cib)  # the children are only read
    root.set("have-quorum", "1" if quorate else "0")
    if dc_id is not None:
        root.set("dc-uuid", dc_id)
    root.set("execution-date", str(int(time.time() if now is None else now)))
    return serialize(root)


def ensure_nodes(cib_root: ET.Element, nodes: list[tuple[str, str]]) -> ET.Element | None:
    """The configuration's ``nodes`` section with every cluster node; None if complete."""
    config = cib_root.find("configuration")
    section = config.find("nodes") if config is not None else None
    present = {el.get("id") for el in section.findall("node")} if section is not None else set()
    missing = [(i, n) for i, n in nodes if i not in present]
    if not missing:
        return None
    new = ET.Element("nodes")
    if section is not None:
        for child in section:
            new.append(child)
    for node_id, uname in missing:
        ET.SubElement(new, "node", {"id": node_id, "uname": uname})
    return new


def set_ticket_state(tickets: ET.Element, ticket: str, attrs: dict[str, str | None]) -> bool:
    """Set (None: remove) attributes of ``ticket``'s ``ticket_state`` in ``tickets``;
    True when anything changed."""
    state = next((t for t in tickets.findall("ticket_state") if t.get("id") == ticket), None)
    if state is None:
        state = ET.SubElement(tickets, "ticket_state", {"id": ticket})
    changed = False
    for name, value in attrs.items():
        if state.get(name) == value:
            continue
        if value is None:
            state.attrib.pop(name, None)
        else:
            state.set(name, value)
        changed = True
    return changed
