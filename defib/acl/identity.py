"""The caller on the other end of a unix socket, from the kernel's peer credentials.

``SO_PEERCRED`` gives the uid, gid and pid of the process that connected, as the kernel
recorded them at ``connect``: the client cannot claim to be someone else. ``SO_PEERGROUPS``
gives that process's supplementary groups the same way (a process that dropped a group has
lost it); where the kernel lacks it, the groups come from the user database, as Pacemaker
resolves them for its IPC clients.
"""

from __future__ import annotations

import grp
import os
import pwd
import socket
import struct
from dataclasses import dataclass

ADMIN_GROUP = "haclient"
_UCRED = struct.Struct("3i")
SO_PEERGROUPS = getattr(socket, "SO_PEERGROUPS", 59)  # Linux >= 4.13
_MAX_GROUPS = 256  # Python's getsockopt reads at most 1024 bytes


@dataclass(frozen=True)
class Identity:
    uid: int
    gid: int
    pid: int
    user: str
    groups: frozenset[str]

    def describe(self) -> str:
        return f"user {self.user} (uid {self.uid}, pid {self.pid})"

    def is_admin(self, admin_group: str = ADMIN_GROUP) -> bool:
        """root, the daemon's own user and members of the admin group may do everything."""
        return self.uid in (0, os.geteuid()) or admin_group in self.groups


def peer_identity(sock: socket.socket) -> Identity:
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, gid = _UCRED.unpack(raw)
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, SO_PEERGROUPS, 4 * _MAX_GROUPS)
    except OSError:
        return identity_of(uid, gid, pid)
    extra = struct.unpack(f"{len(raw) // 4}I", raw[: len(raw) // 4 * 4])
    return identity_of(uid, gid, pid, {gid, *extra})


def identity_by_name(user: str) -> Identity:
    """The identity of ``user`` by name (Pacemaker's ``CIB_user``): uid and groups from the
    user database; a name it does not know is nobody's uid, in no group (ACL entries may
    still name it)."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return Identity(-1, -1, 0, user, frozenset())
    return identity_of(entry.pw_uid, entry.pw_gid)


def identity_of(uid: int, gid: int, pid: int = 0, gids: set[int] | None = None) -> Identity:
    """``gids`` None: the user's groups from the user database."""
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    if gids is None:
        try:
            gids = set(os.getgrouplist(user, gid))
        except (KeyError, OSError):
            gids = {gid}
    names = set()
    for one in gids:
        try:
            names.add(grp.getgrgid(one).gr_name)
        except KeyError:
            names.add(str(one))
    return Identity(uid, gid, pid, user, frozenset(names))
