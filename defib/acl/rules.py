"""Pacemaker's ACLs on a CIB: who may read, write or not even see which elements.

The CIB's ``<acls>`` section gives roles (``acl_role`` with ``acl_permission`` of kind
read, write or deny, selecting elements by ``xpath``, by ``reference`` (an id) or by
``object-type`` and ``attribute``) to users (``acl_target``) and groups (``acl_group``).
As in Pacemaker (``lib/common/acl.c``):

* ACLs apply only when the cluster property ``enable-acl`` is true; root and the admin
  group are never subject to them (the caller decides that).
* A permission marks the elements it selects; an element's access is decided by the nearest
  marked element on its way up to ``<cib>``: deny there means no access, read or write
  there grants reading, write grants writing. Nothing marked on the way: no access.
* A read returns a filtered copy: unreadable elements are dropped, except as bare shells
  (their id only) around readable descendants.
* A write is allowed when every element it creates, changes or deletes is writable.

XPath is evaluated with ElementTree's subset (paths, ``//``, ``[@attr]``,
``[@attr='value']``, ``[tag]``, positions): a permission whose XPath falls outside it
selects nothing, which can only take access away.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass

from defib.acl.identity import Identity

log = logging.getLogger("defib.acl")
KINDS = ("read", "write", "deny")
# Root attributes the cluster itself maintains: a change to them is no user's write.
SYSTEM_ATTRIBUTES = {"epoch", "num_updates", "admin_epoch", "cib-last-written",
                     "update-origin", "update-client", "update-user", "have-quorum",
                     "dc-uuid", "execution-date"}


@dataclass(frozen=True)
class Permission:
    kind: str
    xpath: str | None = None
    reference: str | None = None
    object_type: str | None = None
    attribute: str | None = None

    def select(self, root: ET.Element) -> list[ET.Element]:
        if self.xpath is not None:
            return _xpath(root, self.xpath)
        out = []
        for element in root.iter():
            if self.object_type is not None and element.tag != self.object_type:
                continue
            if self.reference is not None and element.get("id") != self.reference:
                continue
            if self.attribute is not None and self.attribute not in element.attrib:
                continue
            if self.object_type is None and self.reference is None and self.attribute is None:
                continue
            out.append(element)
        return out


def _xpath(root: ET.Element, xpath: str) -> list[ET.Element]:
    path = xpath.strip()
    try:
        if path.startswith("//"):
            # Descendants of the root, and the root itself when the first step names it.
            found = root.findall("." + path) + _absolute(root, path[1:])
            unique = {id(e): e for e in found}
            return list(unique.values())
        if path.startswith("/"):
            return _absolute(root, path)
        return root.findall(path)
    except (SyntaxError, KeyError, ValueError, TypeError):
        log.warning("ACL xpath %r is beyond what defib evaluates: it selects nothing", xpath)
        return []


def _absolute(root: ET.Element, path: str) -> list[ET.Element]:
    first, _, rest = path[1:].partition("/")
    if not _self_match(root, first):
        return []
    return [root] if not rest else root.findall("./" + rest)


def _self_match(root: ET.Element, step: str) -> list[ET.Element]:
    """Whether the root element itself matches one step such as ``cib`` or ``cib[@x]``."""
    holder = ET.Element("holder")
    holder.append(root)
    try:
        return holder.findall("./" + step)
    finally:
        holder.remove(root)


def acl_enabled(root: ET.Element) -> bool:
    for nvpair in root.iterfind("./configuration/crm_config/cluster_property_set/nvpair"):
        if nvpair.get("name") == "enable-acl":
            return (nvpair.get("value") or "").strip().lower() in ("true", "yes", "on", "1", "y")
    return False


def permissions_for(root: ET.Element, who: Identity) -> list[Permission]:
    """Every permission the user's targets and groups grant, through their roles."""
    acls = root.find("./configuration/acls")
    if acls is None:
        return []
    roles = {r.get("id"): r for r in acls if r.tag == "acl_role"}
    out: list[Permission] = []
    for holder in acls:
        name = holder.get("name") or holder.get("id")
        if holder.tag in ("acl_target", "acl_user") and name == who.user:
            out += _granted(holder, roles)
        elif holder.tag == "acl_group" and name in who.groups:
            out += _granted(holder, roles)
    return out


def _granted(holder: ET.Element, roles: dict[str | None, ET.Element]) -> Iterator[Permission]:
    for child in holder:
        if child.tag in ("role", "role_ref"):
            role = roles.get(child.get("id"))
            if role is not None:
                yield from _role_permissions(role)
        elif child.tag in KINDS:  # pacemaker-1.x: permissions directly on the user
            yield _permission(child, child.tag)


def _role_permissions(role: ET.Element) -> Iterator[Permission]:
    for child in role:
        if child.tag == "acl_permission" and child.get("kind") in KINDS:
            yield _permission(child, child.get("kind", "deny"))
        elif child.tag in KINDS:
            yield _permission(child, child.tag)


def _permission(element: ET.Element, kind: str) -> Permission:
    return Permission(kind, element.get("xpath"), element.get("reference") or element.get("ref"),
                      element.get("object-type") or element.get("tag"), element.get("attribute"))


class Access:
    """One user's access to one CIB document."""

    def __init__(self, root: ET.Element, permissions: list[Permission]) -> None:
        self.root = root
        self.marks: dict[int, set[str]] = {}
        for permission in permissions:
            for element in permission.select(root):
                self.marks.setdefault(id(element), set()).add(permission.kind)
        self.parent = {id(c): p for p in root.iter() for c in p}

    def allowed(self, element: ET.Element, mode: str) -> bool:
        current: ET.Element | None = element
        while current is not None:
            marks = self.marks.get(id(current))
            if marks:
                if "deny" in marks:
                    return False
                if "write" in marks or (mode == "read" and "read" in marks):
                    return True
            current = self.parent.get(id(current))
        return False

    def can_read_any(self) -> bool:
        return any(self.allowed(e, "read") for e in self.root.iter())

    def filtered(self) -> ET.Element:
        """The document as this user may see it (``<cib>`` always, with its version)."""
        kept = self._filter(self.root)
        if kept is None:
            kept = ET.Element(self.root.tag, {k: v for k, v in self.root.attrib.items()
                                              if k in SYSTEM_ATTRIBUTES})
        return kept

    def _filter(self, element: ET.Element) -> ET.Element | None:
        children = [c for c in (self._filter(child) for child in element) if c is not None]
        if self.allowed(element, "read"):
            copy = ET.Element(element.tag, dict(element.attrib))
            copy.text, copy.tail = element.text, element.tail
        elif children or element is self.root:
            keep = ("id",) if element is not self.root else tuple(SYSTEM_ATTRIBUTES)
            copy = ET.Element(element.tag, {k: v for k, v in element.attrib.items()
                                            if k in keep})
        else:
            return None
        copy.extend(children)
        return copy


def denied_writes(old: ET.Element, new: ET.Element, old_access: Access,
                  new_access: Access) -> list[str]:
    """The elements a change from ``old`` to ``new`` touches without write access."""
    denied: list[str] = []
    _compare(old, new, old_access, new_access, "", denied)
    return denied


def _key(element: ET.Element, index: int) -> tuple[str, str]:
    return element.tag, element.get("id") or f"#{index}"


def _children(element: ET.Element) -> dict[tuple[str, str], ET.Element]:
    out: dict[tuple[str, str], ET.Element] = {}
    counts: dict[str, int] = {}
    for child in element:
        n = counts.get(child.tag, 0)
        counts[child.tag] = n + 1
        out.setdefault(_key(child, n), child)
    return out


def _compare(old: ET.Element, new: ET.Element, old_access: Access, new_access: Access,
             path: str, denied: list[str]) -> None:
    here = f"{path}/{new.tag}" + (f"[@id='{new.get('id')}']" if new.get("id") else "")
    ignore = SYSTEM_ATTRIBUTES if old is old_access.root else set()
    before = {k: v for k, v in old.attrib.items() if k not in ignore}
    after = {k: v for k, v in new.attrib.items() if k not in ignore}
    if before != after and not new_access.allowed(new, "write"):
        denied.append(f"change {here}")
    old_kids, new_kids = _children(old), _children(new)
    for key, child in new_kids.items():
        if key in old_kids:
            _compare(old_kids[key], child, old_access, new_access, here, denied)
        elif not new_access.allowed(child, "write"):
            denied.append(f"create {here}/{child.tag}" + _id(child))
    for key, child in old_kids.items():
        if key not in new_kids and not old_access.allowed(child, "write"):
            denied.append(f"delete {here}/{child.tag}" + _id(child))


def _id(element: ET.Element) -> str:
    ident = element.get("id")
    return f"[@id='{ident}']" if ident else ""
