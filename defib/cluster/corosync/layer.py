"""``ClusterLayer`` over Corosync 3: CPG for membership and agreed-order messages,
votequorum for quorum, cmap for the node list and link state.

* Every defib daemon joins the process group ``defib:<cluster name>``; the members of a
  view are the node ids of the group's processes (one daemon per node). A CPG configuration
  change is a new view. What members show as the view (``describe``) is a digest of the
  group's (node, pid) list, the same on every member; the ``Membership.view_id`` the
  layers above key their state on adds this node's count of views, so that it is never
  reused, even when a partition heals into the same processes as before (CPG has no view
  number, and Totem's ring id reaches clients after the configuration change it belongs to).
* ``send_ordered`` is ``cpg_mcast_joined(CPG_TYPE_AGREED)``: every member delivers every
  message in the same order, between the same two configuration changes. Corosync does not
  lose a message while its sender stays in the group, so nothing is re-sent; what is sent
  before our own join, or refused by flow control (CS_ERR_TRY_AGAIN), waits in a queue.
* Quorum is votequorum's (``quorate``, votes, ``two_node``, ``wait_for_all``, ...).
* Both libraries' file descriptors are read by the asyncio loop; callbacks run there.
* Losing Corosync (it crashed or was stopped) is fatal, as for Pacemaker: the node can no
  longer know who is in the cluster. ``fatal`` is called (the daemon exits non-zero; its
  peers fence it if it ran resources).
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import json
import logging
import os
import time
import zlib
from collections import deque
from collections.abc import Callable
from typing import Any

from defib.cluster.config import ClusterConfig, NodeConfig
from defib.cluster.corosync import lib
from defib.cluster.layer import (
    DeliverCallback,
    Delivery,
    Membership,
    MembershipCallback,
    QuorumCallback,
)
from defib.cluster.quorum import QuorumState
from defib.errors import ClusterError

# Larger (compressed) payloads travel as several CPG messages (libcpg copies each through
# its IPC buffer; a few hundred kB stay well inside it).
FRAGMENT = 256 * 1024
RETRY = 0.01
CONNECT_TIMEOUT = 60.0
LINKS_EVERY = 0.5


def _exit_fatal(reason: str) -> None:
    logging.getLogger("defib.cluster").critical("%s: exiting", reason)
    logging.shutdown()
    os._exit(75)


def encode(payload: dict[str, Any]) -> bytes:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return b"Z" + zlib.compress(raw, 6) if len(raw) > 1000 else b"J" + raw


def decode(data: bytes) -> dict[str, Any] | None:
    try:
        if data[:1] == b"Z":
            data = b"J" + zlib.decompress(data[1:])
        value = json.loads(data[1:]) if data[:1] == b"J" else None
    except (zlib.error, ValueError):
        return None
    return value if isinstance(value, dict) else None


class CorosyncLayer:
    """Implements ``defib.cluster.layer.ClusterLayer`` on a running Corosync."""

    def __init__(self, cfg: ClusterConfig, node: NodeConfig, _key: bytes = b"",
                 fatal: Callable[[str], None] = _exit_fatal) -> None:
        self.cfg = cfg
        self.node = node
        self.fatal = fatal
        self.log = logging.LoggerAdapter(logging.getLogger("defib.cluster"),
                                         {"node": node.name})
        self.lib = lib.libraries()
        self.group = lib.group_name(f"defib:{cfg.name}")
        self._cpg = ctypes.c_uint64()
        self._vq = ctypes.c_uint64()
        self._fds: list[int] = []
        self._membership = Membership("0.0", ())
        self._process_members: tuple[tuple[int, int], ...] = ()
        self._digest = ""
        self._views = 0
        self._joined = False
        self._ring = (0, 0)
        self._seq = 0
        self._quorum = QuorumState(False, 0, 0, 0, False, ())
        self._quorum_nodes: tuple[int, ...] = ()
        self._cb_deliver: list[DeliverCallback] = []
        self._cb_membership: list[MembershipCallback] = []
        self._cb_quorum: list[QuorumCallback] = []
        self._backlog: deque[bytes] = deque()
        self._retry: asyncio.TimerHandle | None = None
        self._fragments: dict[tuple[int, int, int], list[bytes]] = {}
        self._frag_ids = 0
        self._lost = False
        self._links_cache: tuple[float, dict[str, list[bool]]] | None = None
        self.counters = {"sent": 0, "delivered": 0, "views_installed": 0, "try_again": 0,
                         "fragments": 0}
        # ctypes callbacks must outlive the handles that call them.
        self._model = lib.CpgModelV1(
            lib.CPG_MODEL_V1, lib.DeliverFn(self._on_deliver), lib.ConfchgFn(self._on_confchg),
            lib.TotemConfchgFn(self._on_totem), lib.CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF)
        self._vq_callbacks = lib.VotequorumCallbacks(
            lib.QuorumNotifyFn(self._on_vq_quorum), lib.ExpectedNotifyFn(self._on_vq_expected),
            lib.NodelistNotifyFn(self._on_vq_nodelist))

    # -- ClusterLayer interface -------------------------------------------------------------
    @property
    def node_id(self) -> int:
        return self.node.id

    def on_deliver(self, callback: DeliverCallback) -> None:
        self._cb_deliver.append(callback)

    def on_membership(self, callback: MembershipCallback) -> None:
        self._cb_membership.append(callback)

    def on_quorum(self, callback: QuorumCallback) -> None:
        self._cb_quorum.append(callback)

    def membership(self) -> Membership:
        return self._membership

    def quorum(self) -> QuorumState:
        return self._quorum

    async def join(self) -> None:
        await self._connect()
        local = ctypes.c_uint()
        lib.check(self.lib.cpg_local_get(self._cpg, ctypes.byref(local)), "cpg_local_get")
        if local.value != self.node.id:
            self._finalize()
            raise ClusterError(f"corosync runs here as node {local.value}, the cluster file"
                               f" makes this node {self.node.name} id {self.node.id}",
                               self.node.name)
        lib.check(self.lib.votequorum_trackstart(self._vq, 0, lib.CS_TRACK_CHANGES),
                  "votequorum_trackstart")
        loop = asyncio.get_running_loop()
        for getter, handle, dispatch in (
                (self.lib.cpg_fd_get, self._cpg, self._dispatch_cpg),
                (self.lib.votequorum_fd_get, self._vq, self._dispatch_vq)):
            fd = ctypes.c_int()
            lib.check(getter(handle, ctypes.byref(fd)), "fd_get")
            loop.add_reader(fd.value, dispatch)
            self._fds.append(fd.value)
        self._refresh_quorum()
        await self._retrying(lambda: self.lib.cpg_join(self._cpg, ctypes.byref(self.group)),
                             "cpg_join")
        self.log.info("joined process group %s of corosync cluster %s as node %d",
                      self.group.value.decode(), self.cfg.name, self.node.id)

    async def leave(self) -> None:
        if not self._cpg.value:
            return
        if self._joined and not self._lost:
            try:
                await self._retrying(
                    lambda: self.lib.cpg_leave(self._cpg, ctypes.byref(self.group)),
                    "cpg_leave", timeout=2.0)
            except ClusterError as exc:
                self.log.warning("%s", exc)
        self._finalize()
        self.log.info("left the cluster")

    def withdraw(self) -> None:
        # Corosync keeps counting a live process as a member: leave for good, as
        # Pacemaker's node does when its CIB manager fails (the others may fence it).
        _exit_fatal("withdrawing from the cluster")

    def rejoin(self) -> None:
        pass  # never reached: withdraw exits

    def send_ordered(self, payload: dict[str, Any]) -> None:
        data = encode(payload)
        if len(data) <= FRAGMENT:
            self._send(b"M" + data)
            return
        self._frag_ids += 1
        chunks = [data[i:i + FRAGMENT] for i in range(0, len(data), FRAGMENT)]
        for k, chunk in enumerate(chunks):
            head = json.dumps([self._frag_ids, k, len(chunks)]).encode()
            self._send(b"F" + len(head).to_bytes(2, "big") + head + chunk)

    def stats(self) -> dict[str, Any]:
        return {**self.counters, "pending_ordered": len(self._backlog),
                "ring": f"{self._ring[0]}.{self._ring[1]}"}

    # -- connection -------------------------------------------------------------------------
    async def _connect(self) -> None:
        """Corosync may still be starting (defib.service is ordered after it, a local host
        starts both at once): wait for it, saying so once."""
        deadline = time.monotonic() + CONNECT_TIMEOUT
        said = False
        while True:
            rc = self.lib.cpg_model_initialize(ctypes.byref(self._cpg), lib.CPG_MODEL_V1,
                                               ctypes.byref(self._model), None)
            if rc == lib.CS_OK:
                rc = self.lib.votequorum_initialize(ctypes.byref(self._vq),
                                                    ctypes.byref(self._vq_callbacks))
                if rc == lib.CS_OK:
                    return
                self.lib.cpg_finalize(self._cpg)
                self._cpg = ctypes.c_uint64()
            if time.monotonic() > deadline:
                raise ClusterError(f"corosync did not answer within {CONNECT_TIMEOUT:g}s:"
                                   f" {lib.error_text(rc)}", self.node.name)
            if not said:
                self.log.info("waiting for corosync (%s)", lib.error_text(rc))
                said = True
            await asyncio.sleep(0.1)

    async def _retrying(self, call: Callable[[], int], what: str,
                        timeout: float = CONNECT_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while (rc := call()) == lib.CS_ERR_TRY_AGAIN and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        lib.check(rc, what)

    def _finalize(self) -> None:
        loop = asyncio.get_running_loop()
        for fd in self._fds:
            loop.remove_reader(fd)
        self._fds.clear()
        if self._retry is not None:
            self._retry.cancel()
        if self._cpg.value:
            self.lib.cpg_finalize(self._cpg)
            self._cpg = ctypes.c_uint64()
        if self._vq.value:
            self.lib.votequorum_finalize(self._vq)
            self._vq = ctypes.c_uint64()

    def _dispatch_cpg(self) -> None:
        self._dispatch(self.lib.cpg_dispatch, self._cpg, "cpg")

    def _dispatch_vq(self) -> None:
        self._dispatch(self.lib.votequorum_dispatch, self._vq, "votequorum")

    def _dispatch(self, dispatch: Callable[[ctypes.c_uint64, int], int],
                  handle: ctypes.c_uint64, what: str) -> None:
        rc = dispatch(handle, lib.CS_DISPATCH_ALL)
        if rc in (lib.CS_OK, lib.CS_ERR_TRY_AGAIN) or self._lost:
            return
        self._lost = True
        self._finalize()
        self.fatal(f"lost the connection to corosync ({what}: {lib.error_text(rc)})")

    # -- sending ----------------------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        self._backlog.append(data)
        self._flush()

    def _flush(self) -> None:
        self._retry = None
        if not self._joined or self._lost:
            return  # sent once we are in the group
        while self._backlog:
            data = self._backlog[0]
            buf = ctypes.create_string_buffer(data, len(data))
            iov = lib.IoVec(ctypes.cast(buf, ctypes.c_void_p), len(data))
            rc = self.lib.cpg_mcast_joined(self._cpg, lib.CPG_TYPE_AGREED, ctypes.byref(iov), 1)
            if rc == lib.CS_ERR_TRY_AGAIN:
                self.counters["try_again"] += 1
                if self._retry is None:
                    self._retry = asyncio.get_running_loop().call_later(RETRY, self._flush)
                return
            self._backlog.popleft()
            if rc != lib.CS_OK:
                self.log.error("cpg_mcast_joined: %s (message dropped)", lib.error_text(rc))
                continue
            self.counters["sent"] += 1

    # -- callbacks (run inside cpg_dispatch / votequorum_dispatch, on the loop) --------------
    def _on_totem(self, _handle: int, ring: lib.RingId, _count: int, _members: Any) -> None:
        self._ring = (int(ring.nodeid), int(ring.seq))

    def _on_confchg(self, _handle: int, _group: Any, members: Any, n_members: int,
                    _left: Any, _n_left: int, _joined: Any, _n_joined: int) -> None:
        procs = tuple(sorted((int(members[i].nodeid), int(members[i].pid))
                             for i in range(n_members)))
        me = (self.node.id, os.getpid())
        if me not in procs:
            if self._joined:
                self._joined = False
                self.log.info("left process group (members now %s)", procs)
            return
        self._process_members = procs
        ids = tuple(sorted({nodeid for nodeid, _ in procs}))
        self._digest = hashlib.sha1(repr(procs).encode()).hexdigest()[:8]
        self._views += 1
        view_id = f"{self._digest}.{self._views}"
        old = set(self._membership.members)
        self._membership = Membership(view_id, ids, tuple(sorted(set(ids) - old)),
                                      tuple(sorted(old - set(ids))))
        self._seq = 0
        self._fragments = {k: v for k, v in self._fragments.items() if k[0] in ids}
        self.counters["views_installed"] += 1
        self.log.info("view %s: members %s (joined %s, left %s)", view_id, list(ids),
                      list(self._membership.joined), list(self._membership.left))
        for cb in self._cb_membership:
            try:
                cb(self._membership)
            except Exception:
                self.log.exception("membership callback failed")
        if not self._joined:
            self._joined = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _on_deliver(self, _handle: int, _group: Any, nodeid: int, pid: int, msg: int,
                    length: int) -> None:
        data = ctypes.string_at(msg, length)
        if data[:1] == b"F":
            data = self._reassemble(int(nodeid), int(pid), data) or b""
        elif data[:1] == b"M":
            data = data[1:]
        payload = decode(data) if data else None
        if payload is None:
            return
        self._seq += 1
        self.counters["delivered"] += 1
        delivery = Delivery(self._membership.view_id, self._seq, int(nodeid), payload)
        for cb in self._cb_deliver:
            try:
                cb(delivery)
            except Exception:
                self.log.exception("deliver callback failed")

    def _reassemble(self, nodeid: int, pid: int, data: bytes) -> bytes | None:
        size = int.from_bytes(data[1:3], "big")
        fid, k, total = json.loads(data[3:3 + size])
        key = (nodeid, pid, int(fid))
        parts = self._fragments.setdefault(key, [])
        if len(parts) != k:  # agreed order is FIFO per sender: a gap means a lost start
            self._fragments.pop(key, None)
            return None
        parts.append(data[3 + size:])
        self.counters["fragments"] += 1
        if len(parts) < total:
            return None
        del self._fragments[key]
        return b"".join(parts)

    def _on_vq_quorum(self, _handle: int, _context: int, _quorate: int, count: int,
                      nodes: Any) -> None:
        self._quorum_nodes = tuple(sorted(int(nodes[i].nodeid) for i in range(count)
                                          if nodes[i].state == 1))
        self._refresh_quorum()

    def _on_vq_expected(self, _handle: int, _context: int, _expected: int) -> None:
        self._refresh_quorum()

    def _on_vq_nodelist(self, _handle: int, _context: int, _ring: lib.RingId, count: int,
                        nodes: Any) -> None:
        self._quorum_nodes = tuple(sorted(int(nodes[i]) for i in range(count)))

    def _refresh_quorum(self) -> None:
        info = lib.VotequorumInfo()
        rc = self.lib.votequorum_getinfo(self._vq, self.node.id, ctypes.byref(info))
        if rc != lib.CS_OK:
            self.log.warning("votequorum_getinfo: %s", lib.error_text(rc))
            return
        quorate = bool(info.flags & lib.VOTEQUORUM_INFO_QUORATE)
        wfa = bool(info.flags & lib.VOTEQUORUM_INFO_WAIT_FOR_ALL)
        flags = tuple(name for bit, name in lib.FLAG_NAMES if info.flags & bit)
        state = QuorumState(
            quorate=quorate, total_votes=int(info.total_votes),
            expected_votes=int(info.node_expected_votes), quorum=int(info.quorum),
            # Enough votes, yet not quorate: wait_for_all has not seen everyone yet.
            wait_for_all_pending=wfa and not quorate and info.total_votes >= info.quorum,
            flags=(("Quorate",) if quorate else ()) + flags)
        if state == self._quorum:
            return
        self._quorum = state
        self.log.info("quorum: %s (votes %d/%d, need %d)",
                      "quorate" if quorate else "NOT quorate", state.total_votes,
                      state.expected_votes, state.quorum)
        for cb in self._cb_quorum:
            try:
                cb(state)
            except Exception:
                self.log.exception("quorum callback failed")

    # -- introspection ----------------------------------------------------------------------
    def _links(self, cmap: lib.Cmap | None, peer: NodeConfig) -> list[bool]:
        up = peer.id in self._quorum_nodes
        links = []
        for link in range(len(peer.addresses)):
            value = cmap.u8(f"stats.knet.node{peer.id}.link{link}.connected") if cmap else None
            links.append(up if value is None else bool(value))
        return links

    def _peer_links(self) -> dict[str, list[bool]]:
        """knet's link state per peer, read at most every LINKS_EVERY seconds (status is
        polled often; each read is a cmap connection)."""
        now = time.monotonic()
        if self._links_cache is not None and now - self._links_cache[0] < LINKS_EVERY:
            return self._links_cache[1]
        try:
            cmap: lib.Cmap | None = lib.Cmap(stats=True)
        except ClusterError:
            cmap = None
        try:
            links = {str(p.id): self._links(cmap, p) for p in self.cfg.nodes
                     if p.id != self.node.id}
        finally:
            if cmap is not None:
                cmap.close()
        self._links_cache = (now, links)
        return links

    def describe(self) -> dict[str, Any]:
        links = self._peer_links()
        peers = {peer: {"links": up, "clock_offset_ms": None} for peer, up in links.items()}
        return {
            "node_id": self.node.id,
            "pid": os.getpid(),
            "view": self._digest if self._joined else None,
            "members": list(self._membership.members),
            "agreed": self._joined,  # a CPG view is agreed by construction
            "reachable": [n for n in self._quorum_nodes if n != self.node.id],
            "peers": peers,
            "quorum": self._quorum.to_dict(),
            "stack": "corosync",
        }
