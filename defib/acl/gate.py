"""The one place where a control-socket request is checked against its caller's rights.

Root, the daemon's own user and members of the admin group may do everything. Anybody else
is served only while the CIB enables ACLs (``enable-acl``), and then only what their roles
grant: membership (``status``, ``stats``) to any user with some read access; the CIB
(``get_cib``) filtered to what they may read; the resource status (``crm_status``) when
they may read the status section and the resources; a CIB change (``cib_change``) when
every element it creates, changes or deletes is writable to them. Everything else
(fencing, cleanup, attributes, shutdown, event streams) needs admin rights. Every refusal is
logged with the user's name.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from typing import Any

from defib.acl.identity import Identity, identity_by_name
from defib.acl.rules import Access, acl_enabled, denied_writes, permissions_for
from defib.cluster import cibxml

Answer = dict[str, Any]
Serve = Callable[[dict[str, Any]], Awaitable[Answer]]


def refusal(message: str) -> Answer:
    return {"ok": False, "kind": "PermissionDenied", "error": f"permission denied: {message}"}


class Gate:
    def __init__(self, current: Callable[[], cibxml.CibCopy], admin_group: str,
                 log: logging.Logger | logging.LoggerAdapter[logging.Logger]) -> None:
        self.current = current
        self.admin_group = admin_group
        self.log = log

    def is_admin(self, caller: Identity) -> bool:
        return caller.is_admin(self.admin_group)

    async def serve(self, caller: Identity, request: dict[str, Any], serve: Serve) -> Answer:
        if self.is_admin(caller):
            user = request.get("as_user")
            if not isinstance(user, str) or not user:
                return await serve(request)
            # An administrator acting for a user (Pacemaker's CIB_user, a web interface's
            # logged-in user): that user's rights apply. Only an admin may ask this.
            caller = identity_by_name(user)
            request = {k: v for k, v in request.items() if k != "as_user"}
            if isinstance(request.get("change"), dict):
                # The change is that user's (Pacemaker records CIB_user as update-user).
                request["change"] = {**request["change"], "user": user}
            if self.is_admin(caller):
                return await serve(request)
        op = request.get("op")
        copy = self.current()
        root = copy.root
        if not acl_enabled(root):
            return self._refuse(caller, op, "ACLs are not enabled (enable-acl) and the user is"
                                f" not root nor in group {self.admin_group}")
        permissions = permissions_for(root, caller)
        access = Access(root, permissions)
        if op in ("status", "stats") and access.can_read_any():
            return await serve(request)
        if op == "get_cib" and access.can_read_any():
            answer = await serve(request)
            if answer.get("ok"):
                answer["xml"] = ET.tostring(access.filtered(), encoding="unicode")
                answer.pop("digest", None)  # the digest of what they cannot see
            return answer
        if op == "crm_status" and self._can_read(access, root, "./status",
                                                 "./configuration/resources"):
            return await serve(request)
        if op == "cib_change":
            denied = self._denied(copy, root, access, permissions, caller, request)
            if denied:
                return self._refuse(caller, op, f"{caller.user} may not "
                                    + "; ".join(denied[:5]) + (" ..." if len(denied) > 5 else ""))
            return await serve(request)
        return self._refuse(caller, op, f"{op!r} needs admin rights (root or group"
                            f" {self.admin_group}), or is not granted by {caller.user}'s ACLs")

    def _can_read(self, access: Access, root: ET.Element, *paths: str) -> bool:
        elements = [root.find(p) for p in paths]
        return all(e is not None and access.allowed(e, "read") for e in elements)

    def _denied(self, copy: cibxml.CibCopy, root: ET.Element, access: Access,
                permissions: list[Any], caller: Identity, request: dict[str, Any]) -> list[str]:
        change = request.get("change")
        if not isinstance(change, dict):
            return ["send a change that is not an object"]
        # An invalid or stale change raises here, as the DC would refuse it (the caller
        # answers with its kind: a CibConflictError is read again and retried).
        new_root = cibxml.apply_change(copy, change).root
        # The permissions as the CIB grants them now: a change cannot grant itself rights.
        return denied_writes(root, new_root, access, Access(new_root, permissions))

    def _refuse(self, caller: Identity, op: object, message: str) -> Answer:
        self.log.warning("refused %r for %s: %s", op, caller.describe(), message)
        return refusal(message)
