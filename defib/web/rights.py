"""What a logged-in user may do, so that the page does not offer what would be refused.

This is advice for the page only: every request still goes through the control socket's
ACL gate as that user, which alone decides (and logs a refusal with the user's name)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from defib.acl.identity import identity_by_name
from defib.acl.rules import Access, acl_enabled, permissions_for

# What the page may offer, by the CIB element it writes.
SECTIONS = {
    "resources": "./configuration/resources",       # start, stop, manage, maintenance
    "constraints": "./configuration/constraints",   # move, ban, clear
    "nodes": "./configuration/nodes",               # standby, online, node maintenance
    "configuration": "./configuration",             # the editing pages
}


def admin_rights() -> dict[str, Any]:
    return {"admin": True, "read": True, "write": dict.fromkeys(SECTIONS, True)}


def rights(root: ET.Element, user: str, admin_group: str) -> dict[str, Any]:
    """``{"admin": bool, "read": bool, "write": {section: bool}}`` for ``user`` on the
    full CIB ``root``. ``admin``: operations only administrators may ask for (cleanup,
    refresh, fencing, tickets)."""
    who = identity_by_name(user)
    if who.is_admin(admin_group):
        return admin_rights()
    if not acl_enabled(root):
        return {"admin": False, "read": False, "write": dict.fromkeys(SECTIONS, False)}
    access = Access(root, permissions_for(root, who))
    write = {}
    for name, path in SECTIONS.items():
        element = root.find(path)
        write[name] = element is not None and access.allowed(element, "write")
    return {"admin": False, "read": access.can_read_any(), "write": write}
