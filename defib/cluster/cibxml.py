"""The CIB as the cluster layer sees it: XML text plus its version, and the changes it orders.

Versions compare as Pacemaker's do: (admin_epoch, epoch, num_updates). A change to the
configuration bumps ``epoch`` (and zeroes ``num_updates``); a change to the status section
bumps ``num_updates``. The typed model lives elsewhere; here the text is the truth.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from defib.errors import CibParseError

Version = tuple[int, int, int]

EMPTY_CIB = (
    '<cib admin_epoch="0" epoch="0" num_updates="0" validate-with="pacemaker-3.9"'
    ' crm_feature_set="3.17.4">'
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


def digest(xml_text: str) -> str:
    return hashlib.sha256(xml_text.encode()).hexdigest()


@dataclass(frozen=True)
class CibCopy:
    xml: str
    version: Version

    @classmethod
    def of(cls, xml_text: str) -> CibCopy:
        return cls(xml_text, version_of(parse(xml_text)))

    @property
    def digest(self) -> str:
        return digest(self.xml)


def _serialize(root: ET.Element, version: Version) -> str:
    root.set("admin_epoch", str(version[0]))
    root.set("epoch", str(version[1]))
    root.set("num_updates", str(version[2]))
    return ET.tostring(root, encoding="unicode")


def _section_parent(root: ET.Element, section: str) -> ET.Element:
    if section in ("configuration", "status"):
        return root
    config = root.find("configuration")
    if config is None:
        config = ET.SubElement(root, "configuration")
    return config


def apply_change(current: CibCopy, change: dict[str, Any]) -> CibCopy:
    """Apply one change as the DC does; returns the new copy with its bumped version."""
    op = change.get("op")
    a, e, n = current.version
    if op == "replace":
        new_root = parse(str(change.get("xml", "")))
        given = version_of(new_root)
        if given[0] > a:
            version = given if given > current.version else (given[0], e + 1, 0)
        else:
            version = (a, max(e, given[1]) + 1, 0)
        return CibCopy(_serialize(new_root, version), version)
    root = parse(current.xml)
    if op == "replace_section":
        section = str(change.get("section", ""))
        if section not in CONFIG_SECTIONS | {"configuration", "status"}:
            raise CibParseError(f"unknown CIB section {section!r}", section)
        element = _element(str(change.get("xml", "")))
        if element.tag != section:
            raise CibParseError(f"section {section!r} given as <{element.tag}>", section)
        parent = _section_parent(root, section)
        old = parent.find(section)
        if old is not None:
            parent.insert(list(parent).index(old), element)
            parent.remove(old)
        else:
            parent.append(element)
        version = (a, e, n + 1) if section == "status" else (a, e + 1, 0)
        return CibCopy(_serialize(root, version), version)
    if op == "patch_status":
        element = _element(str(change.get("xml", "")))
        if element.tag != "node_state" or not element.get("id"):
            raise CibParseError("a status patch is one <node_state id=...> element", element.tag)
        status = root.find("status")
        if status is None:
            status = ET.SubElement(root, "status")
        for old in status.findall("node_state"):
            if old.get("id") == element.get("id"):
                status.insert(list(status).index(old), element)
                status.remove(old)
                break
        else:
            status.append(element)
        version = (a, e, n + 1)
        return CibCopy(_serialize(root, version), version)
    raise CibParseError(f"unknown CIB change {op!r}", str(op))


def _element(xml_text: str) -> ET.Element:
    try:
        return ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise CibParseError(f"not well-formed XML: {exc}") from exc
