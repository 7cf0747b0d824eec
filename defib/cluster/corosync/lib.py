"""ctypes bindings for the parts of Corosync 3's client libraries defib uses.

libcpg (closed process groups: join, agreed-order multicast, configuration changes),
libvotequorum (quorum, votes, flags) and libcmap (the node list and runtime keys). The
structures and constants follow corosync's public headers (cpg.h, votequorum.h, cmap.h,
corotypes.h); only what defib calls is declared. The libraries are loaded on first use, so
that importing this module never needs Corosync.
"""

from __future__ import annotations

import ctypes
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char,
    c_char_p,
    c_int,
    c_size_t,
    c_uint8,
    c_uint32,
    c_uint64,
    c_void_p,
)
from functools import cache
from typing import Any

from defib.errors import ClusterError

# corotypes.h
CS_OK = 1
CS_ERR_LIBRARY = 2
CS_ERR_TRY_AGAIN = 6
CS_ERR_BAD_HANDLE = 9
CS_ERR_NOT_EXIST = 12
CS_DISPATCH_ALL = 2
CS_TRACK_CHANGES = 2
ERRORS = {1: "ok", 2: "library (is corosync running?)", 3: "version", 4: "init",
          5: "timeout", 6: "try again", 7: "invalid parameter", 8: "no memory",
          9: "bad handle", 10: "busy", 11: "access", 12: "not exist", 13: "name too long",
          14: "exist", 15: "no space", 16: "interrupt", 17: "name not found",
          18: "no resources", 19: "not supported", 20: "bad operation",
          21: "failed operation", 22: "message error", 23: "queue full",
          24: "queue not available", 25: "bad flags", 26: "too big", 27: "no section",
          28: "context not found", 29: "too many groups", 100: "security"}

# cpg.h
CPG_TYPE_AGREED = 2
CPG_MODEL_V1 = 1
CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF = 0x01
CPG_MAX_NAME_LENGTH = 128

# votequorum.h
VOTEQUORUM_INFO_TWONODE = 1
VOTEQUORUM_INFO_QUORATE = 2
VOTEQUORUM_INFO_WAIT_FOR_ALL = 4
VOTEQUORUM_INFO_LAST_MAN_STANDING = 8
VOTEQUORUM_INFO_AUTO_TIE_BREAKER = 16
VOTEQUORUM_INFO_QDEVICE_ALIVE = 128
FLAG_NAMES = ((VOTEQUORUM_INFO_TWONODE, "2Node"), (VOTEQUORUM_INFO_WAIT_FOR_ALL, "WaitForAll"),
              (VOTEQUORUM_INFO_LAST_MAN_STANDING, "LastManStanding"),
              (VOTEQUORUM_INFO_AUTO_TIE_BREAKER, "AutoTieBreaker"),
              (VOTEQUORUM_INFO_QDEVICE_ALIVE, "Qdevice"))


class CpgName(Structure):
    _fields_ = [("length", c_uint32), ("value", c_char * CPG_MAX_NAME_LENGTH)]


class CpgAddress(Structure):
    _fields_ = [("nodeid", c_uint32), ("pid", c_uint32), ("reason", c_uint32)]


class RingId(Structure):
    _fields_ = [("nodeid", c_uint32), ("seq", c_uint64)]


class IoVec(Structure):
    _fields_ = [("iov_base", c_void_p), ("iov_len", c_size_t)]


DeliverFn = CFUNCTYPE(None, c_uint64, POINTER(CpgName), c_uint32, c_uint32, c_void_p, c_size_t)
ConfchgFn = CFUNCTYPE(None, c_uint64, POINTER(CpgName), POINTER(CpgAddress), c_size_t,
                      POINTER(CpgAddress), c_size_t, POINTER(CpgAddress), c_size_t)
TotemConfchgFn = CFUNCTYPE(None, c_uint64, RingId, c_uint32, POINTER(c_uint32))


class CpgModelV1(Structure):
    _fields_ = [("model", c_int), ("deliver", DeliverFn), ("confchg", ConfchgFn),
                ("totem_confchg", TotemConfchgFn), ("flags", ctypes.c_uint)]


class VotequorumInfo(Structure):
    _fields_ = [("node_id", ctypes.c_uint), ("node_state", ctypes.c_uint),
                ("node_votes", ctypes.c_uint), ("node_expected_votes", ctypes.c_uint),
                ("highest_expected", ctypes.c_uint), ("total_votes", ctypes.c_uint),
                ("quorum", ctypes.c_uint), ("flags", ctypes.c_uint),
                ("qdevice_votes", ctypes.c_uint), ("qdevice_name", c_char * 255)]


class VotequorumNode(Structure):
    _fields_ = [("nodeid", c_uint32), ("state", c_uint32)]


QuorumNotifyFn = CFUNCTYPE(None, c_uint64, c_uint64, c_uint32, c_uint32,
                           POINTER(VotequorumNode))
ExpectedNotifyFn = CFUNCTYPE(None, c_uint64, c_uint64, c_uint32)
NodelistNotifyFn = CFUNCTYPE(None, c_uint64, c_uint64, RingId, c_uint32, POINTER(c_uint32))


class VotequorumCallbacks(Structure):
    _fields_ = [("quorum", QuorumNotifyFn), ("expected", ExpectedNotifyFn),
                ("nodelist", NodelistNotifyFn)]


_u64p = POINTER(c_uint64)
_SIGNATURES: dict[str, dict[str, tuple[Any, ...]]] = {
    "libcpg.so.4": {
        "cpg_model_initialize": (_u64p, c_int, c_void_p, c_void_p),
        "cpg_finalize": (c_uint64,),
        "cpg_fd_get": (c_uint64, POINTER(c_int)),
        "cpg_dispatch": (c_uint64, c_int),
        "cpg_join": (c_uint64, POINTER(CpgName)),
        "cpg_leave": (c_uint64, POINTER(CpgName)),
        "cpg_mcast_joined": (c_uint64, c_int, POINTER(IoVec), ctypes.c_uint),
        "cpg_local_get": (c_uint64, POINTER(ctypes.c_uint)),
    },
    "libvotequorum.so.8": {
        "votequorum_initialize": (_u64p, POINTER(VotequorumCallbacks)),
        "votequorum_finalize": (c_uint64,),
        "votequorum_fd_get": (c_uint64, POINTER(c_int)),
        "votequorum_dispatch": (c_uint64, c_int),
        "votequorum_getinfo": (c_uint64, ctypes.c_uint, POINTER(VotequorumInfo)),
        "votequorum_trackstart": (c_uint64, c_uint64, ctypes.c_uint),
    },
    "libcmap.so.4": {
        "cmap_initialize": (_u64p,),
        "cmap_initialize_map": (_u64p, c_int),
        "cmap_finalize": (c_uint64,),
        "cmap_get_uint32": (c_uint64, c_char_p, POINTER(c_uint32)),
        "cmap_get_uint8": (c_uint64, c_char_p, POINTER(c_uint8)),
        "cmap_get_string": (c_uint64, c_char_p, POINTER(c_void_p)),
    },
}


class Libraries:
    def __init__(self) -> None:
        self.libc = ctypes.CDLL(None)
        self.libc.free.argtypes = (c_void_p,)
        self.libc.free.restype = None
        for soname, functions in _SIGNATURES.items():
            try:
                lib = ctypes.CDLL(soname)
            except OSError as exc:
                raise ClusterError(f"stack = \"corosync\" needs {soname} (Debian: apt-get"
                                   f" install corosync): {exc}") from exc
            for name, argtypes in functions.items():
                func = getattr(lib, name)
                func.argtypes = argtypes
                func.restype = c_int
                setattr(self, name, func)

    def __getattr__(self, name: str) -> Any:  # the functions set in __init__, for mypy
        raise AttributeError(name)


@cache
def libraries() -> Libraries:
    return Libraries()


def error_text(rc: int) -> str:
    return f"CS_ERR {rc} ({ERRORS.get(rc, 'unknown')})"


def check(rc: int, what: str) -> None:
    if rc != CS_OK:
        raise ClusterError(f"corosync: {what} failed: {error_text(rc)}")


def group_name(name: str) -> CpgName:
    raw = name.encode()[:CPG_MAX_NAME_LENGTH]
    group = CpgName()
    group.length = len(raw)
    group.value = raw
    return group


CMAP_MAP_STATS = 1


class Cmap:
    """A short-lived cmap connection: the configuration and runtime keys, or with
    ``stats=True`` the statistics map (``stats.knet.nodeN.linkL.connected``)."""

    def __init__(self, stats: bool = False) -> None:
        self.lib = libraries()
        self.handle = c_uint64()
        if stats:
            rc = self.lib.cmap_initialize_map(ctypes.byref(self.handle), CMAP_MAP_STATS)
        else:
            rc = self.lib.cmap_initialize(ctypes.byref(self.handle))
        check(rc, "cmap_initialize")

    def close(self) -> None:
        if self.handle.value:
            self.lib.cmap_finalize(self.handle)
            self.handle = c_uint64()

    def __enter__(self) -> Cmap:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def u32(self, key: str) -> int | None:
        value = c_uint32()
        rc = self.lib.cmap_get_uint32(self.handle, key.encode(), ctypes.byref(value))
        return int(value.value) if rc == CS_OK else None

    def u8(self, key: str) -> int | None:
        value = c_uint8()
        rc = self.lib.cmap_get_uint8(self.handle, key.encode(), ctypes.byref(value))
        return int(value.value) if rc == CS_OK else None

    def string(self, key: str) -> str | None:
        value = c_void_p()
        rc = self.lib.cmap_get_string(self.handle, key.encode(), ctypes.byref(value))
        if rc != CS_OK or not value.value:
            return None
        try:
            return ctypes.string_at(value.value).decode(errors="replace")
        finally:
            self.lib.libc.free(value)
