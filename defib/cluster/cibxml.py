"""The CIB as the cluster layer sees it: XML text plus its version, and the changes it orders.

Versions compare as Pacemaker's do: (admin_epoch, epoch, num_updates). A change to the
configuration bumps ``epoch`` (and zeroes ``num_updates``); a change to the status section
bumps ``num_updates``. The typed model lives elsewhere; here the text is the truth.
"""

from __future__ import annotations

import hashlib
import time
import weakref
import xml.etree.ElementTree as ET
from typing import Any
from xml.sax.saxutils import escape

from defib.errors import CibConflictError, CibParseError

Version = tuple[int, int, int]

EMPTY_CIB = (
    '<cib admin_epoch="0" epoch="0" num_updates="0" validate-with="pacemaker-3.9"'
    ' crm_feature_set="3.16.1">'
    "<configuration><crm_config/><nodes/><resources/><constraints/></configuration>"
    "<status/></cib>"
)
CONFIG_SECTIONS = {
    "crm_config", "nodes", "resources", "constraints", "rsc_defaults", "op_defaults",
    "alerts", "fencing-topology", "tags",
}


def parse(xml_text: str) -> ET.Element:
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise CibParseError(f"CIB is not well-formed XML: {exc}") from exc
    if root.tag != "cib":
        raise CibParseError(f"CIB root element is <{root.tag}>, not <cib>", root.tag)
    return root


def version_of(root: ET.Element) -> Version:
    try:
        return (
            int(root.get("admin_epoch", "0")),
            int(root.get("epoch", "0")),
            int(root.get("num_updates", "0")),
        )
    except ValueError as exc:
        raise CibParseError(f"CIB version attributes are not integers: {exc}", "cib") from exc


# The text of every element with children that was serialised, for as long as it lives.
# Copies share their unchanged elements (copy-on-write) and elements are never modified once
# in a copy, so the text of all but the path to what changed is already known.
_TEXT: weakref.WeakKeyDictionary[ET.Element, str] = weakref.WeakKeyDictionary()


def serialize(element: ET.Element) -> str:
    """``ET.tostring(element, encoding="unicode")``, reusing the known text of unchanged
    elements. ``element`` and its descendants must never be modified afterwards."""
    known = _TEXT.get(element)
    if known is not None:
        return known
    if len(element) == 0:
        return ET.tostring(element, encoding="unicode")  # leaves are many and cheap
    empty = ET.tostring(ET.Element(element.tag, element.attrib), encoding="unicode")
    parts = [empty[:-3], ">"]  # '<tag a="1" />' -> '<tag a="1">'
    if element.text:
        parts.append(escape(element.text))
    parts.extend(serialize(child) for child in element)
    parts.append(f"</{element.tag}>")
    if element.tail:
        parts.append(escape(element.tail))
    text = "".join(parts)
    _TEXT[element] = text
    return text


def digest(xml_text: str) -> str:
    return hashlib.sha256(xml_text.encode()).hexdigest()


class CibCopy:
    """One version of the CIB: its text, its parsed tree, or both (each made on demand).

    A copy never changes once made. Changes build the next copy by copy-on-write: only the
    elements on the path to what changed are copied (a ``node_state``, its ``lrm``, ...),
    the rest of the tree is shared with the previous copy, so recording one operation result
    costs neither a parse nor a serialisation of the whole CIB. The tree is shared: callers
    must not modify ``root`` (``ET.fromstring(copy.xml)`` gives a private one).
    """

    __slots__ = ("version", "_xml", "_root", "_digest")

    def __init__(self, xml: str | None, version: Version, root: ET.Element | None = None
                 ) -> None:
        if xml is None and root is None:
            raise ValueError("a CIB copy needs its text or its tree")
        self.version = version
        self._xml = xml
        self._root = root
        self._digest: str | None = None

    @classmethod
    def of(cls, xml_text: str) -> CibCopy:
        root = parse(xml_text)
        return cls(xml_text, version_of(root), root)

    @property
    def xml(self) -> str:
        if self._xml is None:
            assert self._root is not None
            self._xml = serialize(self._root)
        return self._xml

    @property
    def root(self) -> ET.Element:
        if self._root is None:
            assert self._xml is not None
            self._root = parse(self._xml)
        return self._root

    @property
    def digest(self) -> str:
        if self._digest is None:
            self._digest = digest(self.xml)
        return self._digest

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CibCopy):
            return NotImplemented
        return self.version == other.version and self.xml == other.xml

    def __hash__(self) -> int:
        return hash((self.version, self.digest))

    def __repr__(self) -> str:
        return f"CibCopy({'.'.join(map(str, self.version))})"


def _shallow(element: ET.Element) -> ET.Element:
    """A copy of ``element`` with its own attributes and child list, the children shared
    (``copy.copy`` of the C implementation shares the attribute dictionary)."""
    new = ET.Element(element.tag, dict(element.attrib))
    new.text, new.tail = element.text, element.tail
    new.extend(element)
    return new


def _with_version(root: ET.Element, version: Version) -> ET.Element:
    """A shallow copy of ``root`` (children shared) carrying ``version``."""
    new = _shallow(root)
    new.set("admin_epoch", str(version[0]))
    new.set("epoch", str(version[1]))
    new.set("num_updates", str(version[2]))
    return new


def _replace_child(parent: ET.Element, old: ET.Element | None, new: ET.Element) -> None:
    if old is None:
        parent.append(new)
    else:
        parent[list(parent).index(old)] = new


def _cow_child(parent: ET.Element, tag: str, attrs: dict[str, str] | None = None
               ) -> ET.Element:
    """``parent``'s first ``tag`` child, copied (children shared) and put in its place;
    created when missing. ``parent`` must itself be a private copy."""
    old = parent.find(tag)
    new = _shallow(old) if old is not None else ET.Element(tag, attrs or {})
    _replace_child(parent, old, new)
    return new


def check_base(current: Version, change: dict[str, Any]) -> None:
    """A change that says which configuration it was based on (``base``: admin_epoch and
    epoch of the CIB it read) is refused when the configuration changed since."""
    base = change.get("base")
    if base is None:
        return
    try:
        wanted = (int(base[0]), int(base[1]))
    except (TypeError, ValueError, IndexError) as exc:
        raise CibParseError(f"bad base version {base!r}: {exc}") from exc
    if wanted != current[:2]:
        raise CibConflictError(
            f"conflict: the configuration changed since it was read (read at"
            f" {wanted[0]}.{wanted[1]}, now {current[0]}.{current[1]}); read it again and retry")


def apply_change(current: CibCopy, change: dict[str, Any]) -> CibCopy:
    """Apply one change as the DC does (and as every member replays it from the same base);
    returns the new copy with its bumped version. ``current`` is not modified."""
    new = _apply_change(current, change)
    if new.version[:2] != current.version[:2]:
        _stamp(new.root, change)
    return new


def _stamp(root: ET.Element, change: dict[str, Any]) -> None:
    """A configuration change records who made it (update-user, absent for the cluster's
    own changes) and when (cib-last-written), as Pacemaker's CIB does."""
    user = change.get("user")
    if user:
        root.set("update-user", str(user))
    else:
        root.attrib.pop("update-user", None)
    when = change.get("when")
    if isinstance(when, int):
        root.set("cib-last-written", time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(when)))


def _apply_change(current: CibCopy, change: dict[str, Any]) -> CibCopy:
    op = change.get("op")
    a, e, n = current.version
    check_base(current.version, change)
    if op == "replace":
        new_root = parse(str(change.get("xml", "")))
        given = version_of(new_root)
        if given[0] > a:
            version = given if given > current.version else (given[0], e + 1, 0)
        else:
            version = (a, max(e, given[1]) + 1, 0)
        return CibCopy(None, version, _with_version(new_root, version))
    if op == "replace_section":
        section = str(change.get("section", ""))
        if section not in CONFIG_SECTIONS | {"configuration", "status"}:
            raise CibParseError(f"unknown CIB section {section!r}", section)
        element = _element(str(change.get("xml", "")))
        if element.tag != section:
            raise CibParseError(f"section {section!r} given as <{element.tag}>", section)
        version = (a, e, n + 1) if section == "status" else (a, e + 1, 0)
        root = _with_version(current.root, version)
        parent = root if section in ("configuration", "status") else _cow_child(
            root, "configuration")
        _replace_child(parent, parent.find(section), element)
        return CibCopy(None, version, root)
    if op == "replace_tickets":
        # crm_ticket's states: the whole <tickets> of the status section, as the DC wrote it.
        element = _element(str(change.get("xml", "")))
        if element.tag != "tickets":
            raise CibParseError(f"tickets given as <{element.tag}>", "tickets")
        version = (a, e, n + 1)
        root = _with_version(current.root, version)
        status = _cow_child(root, "status")
        _replace_child(status, status.find("tickets"), element)
        return CibCopy(None, version, root)
    if op == "patch_status":
        updates: list[dict[str, Any]] = [{"node_state": change.get("xml", "")}]
    elif op == "update_status":
        updates = list(change.get("updates") or [])
    else:
        raise CibParseError(f"unknown CIB change {op!r}", str(op))
    version = (a, e, n + 1)
    root = _with_version(current.root, version)
    status = _cow_child(root, "status")
    for update in updates:
        _update_node_state(status, dict(update))
    return CibCopy(None, version, root)


def _update_node_state(status: ET.Element, update: dict[str, Any]) -> None:
    """One status update: a whole ``node_state`` (``node_state``), one ``lrm_resource``
    entry of a node (``lrm_resource``) or one direct child of it such as its
    ``transient_attributes`` (``child``). ``status`` is a private copy."""
    if "node_state" in update:
        element = _element(str(update["node_state"]))
        if element.tag != "node_state" or not element.get("id"):
            raise CibParseError("a status patch is one <node_state id=...> element",
                                element.tag)
        _replace_child(status, _node_state(status, str(element.get("id"))), element)
        return
    node_id = str(update.get("id") or "")
    if not node_id:
        raise CibParseError("a status update names its node (id)")
    old = _node_state(status, node_id)
    state = _shallow(old) if old is not None else ET.Element(
        "node_state", {"id": node_id, "uname": str(update.get("uname") or node_id)})
    _replace_child(status, old, state)
    if "lrm_resource" in update:
        entry = _element(str(update["lrm_resource"]))
        if entry.tag != "lrm_resource" or not entry.get("id"):
            raise CibParseError("an lrm update is one <lrm_resource id=...> element", entry.tag)
        lrm = _cow_child(state, "lrm", {"id": node_id})
        resources = _cow_child(lrm, "lrm_resources")
        same = [el for el in resources.findall("lrm_resource") if el.get("id") == entry.get("id")]
        _replace_child(resources, same[0] if same else None, entry)
    elif "child" in update:
        child = _element(str(update["child"]))
        if child.tag == "node_state":
            raise CibParseError("a node_state child cannot be a node_state", child.tag)
        present = state.find(child.tag)
        if present is None:
            state.insert(0, child)  # Pacemaker writes transient attributes before the lrm
        else:
            _replace_child(state, present, child)
    else:
        raise CibParseError(f"unknown status update {sorted(update)}")


def _node_state(status: ET.Element, node_id: str) -> ET.Element | None:
    for el in status.findall("node_state"):
        if el.get("id") == node_id:
            return el
    return None


def _element(xml_text: str) -> ET.Element:
    try:
        return ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise CibParseError(f"not well-formed XML: {exc}") from exc
