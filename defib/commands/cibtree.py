"""Finding and changing things in a CIB element tree the way Pacemaker's tools do
(ids such as ``<rsc>-meta_attributes-target-role`` and ``nodes-<id>-standby``), with errors
that name what is missing and suggest what was probably meant."""

from __future__ import annotations

import difflib
import xml.etree.ElementTree as ET

from defib.errors import UnknownReferenceError

RESOURCE_TAGS = ("primitive", "group", "clone", "master", "bundle")
CONFIG_ORDER = ("crm_config", "nodes", "resources", "constraints", "fencing-topology",
                "op_defaults", "rsc_defaults", "alerts", "tags", "acls")


def did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:
        close = [c for c in choices if c.lower() == word.lower()]
    return f" (did you mean {close[0]!r}?)" if close else ""


def section(root: ET.Element, tag: str) -> ET.Element:
    """The ``<configuration>`` child ``tag``, created in its usual place when absent."""
    conf = root.find("configuration")
    if conf is None:
        conf = ET.SubElement(root, "configuration")
    found = conf.find(tag)
    if found is not None:
        return found
    new = ET.Element(tag)
    rank = CONFIG_ORDER.index(tag) if tag in CONFIG_ORDER else len(CONFIG_ORDER)
    position = len(conf)
    for i, child in enumerate(conf):
        if child.tag in CONFIG_ORDER and CONFIG_ORDER.index(child.tag) > rank:
            position = i
            break
    conf.insert(position, new)
    return new


def all_ids(root: ET.Element) -> set[str]:
    return {el.get("id", "") for el in root.iter() if el.get("id")}


def unique_id(root: ET.Element, wanted: str) -> str:
    ids = all_ids(root)
    candidate, n = wanted, 0
    while candidate in ids:
        n += 1
        candidate = f"{wanted}-{n}"
    return candidate


def resources(root: ET.Element) -> dict[str, ET.Element]:
    conf = root.find("configuration/resources")
    if conf is None:
        return {}
    return {el.get("id", ""): el for el in conf.iter() if el.tag in RESOURCE_TAGS}


def find_resource(root: ET.Element, rsc: str) -> ET.Element:
    found = resources(root)
    if rsc in found:
        return found[rsc]
    raise UnknownReferenceError(f"no resource {rsc!r} in the configuration"
                                + did_you_mean(rsc, sorted(found)), rsc)


def parent_of(root: ET.Element, child: ET.Element) -> ET.Element | None:
    for el in root.iter():
        if child in list(el):
            return el
    return None


def primitive_ids(element: ET.Element) -> list[str]:
    return [el.get("id", "") for el in element.iter("primitive")]


def node_names(root: ET.Element) -> dict[str, str]:
    """uname -> node id, from the nodes section and the status section."""
    names: dict[str, str] = {}
    for el in root.iterfind("configuration/nodes/node"):
        names[el.get("uname") or el.get("id") or ""] = el.get("id", "")
    for el in root.iterfind("status/node_state"):
        names.setdefault(el.get("uname") or el.get("id") or "", el.get("id", ""))
    return names


def check_node(root: ET.Element, node: str) -> str:
    """The id of node ``node``; an error naming the known nodes otherwise."""
    names = node_names(root)
    if node in names:
        return names[node]
    known = ", ".join(sorted(names)) or "none"
    raise UnknownReferenceError(f"no node {node!r} in the cluster (nodes: {known})"
                                + did_you_mean(node, sorted(names)), node)


def node_element(root: ET.Element, node: str) -> ET.Element:
    node_id = check_node(root, node)
    nodes = section(root, "nodes")
    for el in nodes.findall("node"):
        if el.get("id") == node_id:
            return el
    return ET.SubElement(nodes, "node", {"id": node_id, "uname": node})


def _plain_set(owner: ET.Element, tag: str, set_id: str, root: ET.Element) -> ET.Element:
    """The first rule-less ``tag`` set of ``owner`` (created when absent)."""
    for nvset in owner.findall(tag):
        if nvset.find("rule") is None and nvset.get("id-ref") is None:
            return nvset
    new = ET.Element(tag, {"id": unique_id(root, set_id)})
    # Sets go before operations and children, as Pacemaker writes them.
    position = len(owner)
    for i, child in enumerate(owner):
        if child.tag not in ("instance_attributes", "meta_attributes", "utilization"):
            position = i
            break
    owner.insert(position, new)
    return new


def get_nv(owner: ET.Element, tag: str, name: str) -> str | None:
    for nvset in owner.findall(tag):
        for nv in nvset.findall("nvpair"):
            if nv.get("name") == name:
                return nv.get("value")
    return None


def all_nv(owner: ET.Element, tag: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for nvset in owner.findall(tag):
        for nv in nvset.findall("nvpair"):
            values.setdefault(nv.get("name", ""), nv.get("value", ""))
    return values


def set_nv(root: ET.Element, owner: ET.Element, tag: str, set_id: str, name: str,
           value: str | None) -> bool:
    """Set (``None``: delete) ``name`` in ``owner``'s ``tag`` sets; True when changed."""
    changed = False
    found = False
    for nvset in owner.findall(tag):
        for nv in nvset.findall("nvpair"):
            if nv.get("name") != name:
                continue
            if value is None:
                nvset.remove(nv)
                changed = True
            elif not found:
                found = True
                if nv.get("value") != value:
                    nv.set("value", value)
                    changed = True
    if value is None or found:
        return changed
    nvset = _plain_set(owner, tag, set_id, root)
    ET.SubElement(nvset, "nvpair", {"id": unique_id(root, f"{nvset.get('id')}-{name}"),
                                    "name": name, "value": value})
    return True


def with_members(root: ET.Element, name: str) -> list[str]:
    """``name`` and what a group, clone or bundle of that name holds (by the configuration),
    so that a collective's history shows its members' operations too."""
    for element in root.iterfind(".//configuration/resources//*[@id]"):
        if element.get("id") == name:
            inner = [e.get("id", "") for e in element.iter()
                     if e.tag in ("primitive", "group", "clone", "master", "bundle")]
            return [name, *(i for i in inner if i and i != name)]
    return [name]
