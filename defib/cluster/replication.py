"""CIB replication over a ``ClusterLayer``: DC election, version sync, ordered changes.

Everything travels as totally ordered messages, so every member sees the same sequence and
reaches the same decisions without extra rounds:

* DC = the lowest node id of the view (every partition has one, as in Pacemaker).
* On each new view every member announces its CIB version (``cib-ver``). Once all members
  have spoken, the holder of the newest copy (the DC on a tie) sends it (``cib-full``) if
  anyone differs; everyone adopts it. Until then the DC holds back changes.
* A change (``cib-req``) is applied by the DC alone, then committed to all as a versioned
  diff (``cib-commit``: the version it applies to and the version it makes), never as a
  whole copy. The change itself travelled once, in the request, which every member
  delivered just before (the stream is totally ordered) and keeps until its commit; the
  commit names it. Members replay it on their copy, which is that same base version, and
  answer ``cib-ack`` with the newest version they replayed: one ack, sent at the end of
  the loop's turn, answers every commit up to it (a burst of commits costs each member one
  ack). A member whose copy is not the base (it missed something) does not guess: it asks
  for a full copy (``cib-resync``) and the DC sends one. The caller is answered once every
  member acked (or, after ``ack_timeout``, with the list of those who did).
* A change may name the configuration it was based on (``base``: admin_epoch, epoch); the
  DC refuses it when the configuration changed since (``CibConflictError`` for the caller).
* Copies are written durably: at once when the configuration changed, within
  ``STATUS_SAVE_DELAY`` when only the status did (the status is rebuilt from the nodes'
  own histories anyway; a burst of operation results is then one write, not hundreds).
* A copy that cannot be written (a full disk) is not adopted and not acked: the node says
  why (``cib-unhealthy``, shown in every member's status), withdraws from the membership
  and rejoins, catching up, once a write succeeds again (``defib.cluster.health``). The
  caller's answer names the members that did not ack (``not_acked``).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from defib.cluster.cibstore import CibStore
from defib.cluster.cibxml import EMPTY_CIB, CibCopy, apply_change
from defib.cluster.health import StoreHealth
from defib.cluster.layer import ClusterLayer, Delivery, Membership
from defib.errors import CibConflictError, ClusterError, DefibError

CibListener = Callable[[dict[str, Any]], None]
STATUS_SAVE_DELAY = 1.0
# Requests delivered and not yet committed, kept by every member for the commit to name.
REQUEST_MEMORY = 2000


@dataclass
class _Pending:
    change: dict[str, Any]
    future: asyncio.Future[dict[str, Any]]
    committed: tuple[int, int, int] | None = None
    acked: set[int] = field(default_factory=set)
    # The members when the commit was delivered: those that never acked are named, even
    # when they left the membership (a member that could not store it withdraws).
    expected: set[int] = field(default_factory=set)
    timer_armed: bool = False


class CibReplicator:
    def __init__(
        self,
        layer: ClusterLayer,
        store: CibStore | None,
        log: logging.LoggerAdapter[logging.Logger],
        timeout: float = 5.0,
        ack_timeout: float = 2.0,
    ) -> None:
        self.layer = layer
        self.store = store
        self.log = log
        self.timeout = timeout
        self.ack_timeout = ack_timeout
        self.copy = CibCopy.of(EMPTY_CIB)
        self.loaded_from: str = "empty"
        self.membership = Membership("0.0", ())
        self.synced = False
        self._awaiting_full = False
        self._versions: dict[int, tuple[tuple[int, int, int], str]] = {}
        self._deferred: list[Delivery] = []
        self._pending: dict[str, _Pending] = {}
        self._done: dict[str, tuple[int, int, int]] = {}
        self._ids = itertools.count(1)
        self._listeners: list[CibListener] = []
        self._resyncing = False
        self._requests: OrderedDict[str, dict[str, Any]] = OrderedDict()
        # The newest commit replayed and not yet acked (request, version), sent by _ack.
        self._ack_due: tuple[str, tuple[int, int, int]] | None = None
        self._saved: tuple[int, int, int] | None = None
        self._save_timer: asyncio.TimerHandle | None = None
        self.health = StoreHealth(layer, log, self._retry_save)
        layer.on_membership(self._on_membership)
        layer.on_deliver(self._on_deliver)

    # -- public API -------------------------------------------------------------------------
    def load(self) -> None:
        if self.store is None:
            return
        report = self.store.load()
        if report.copy is not None:
            self.copy = report.copy
            self._saved = report.copy.version
            self.loaded_from = str(report.source)
        self.log.info("CIB version %s loaded from %s", _v(self.copy.version), self.loaded_from)

    def flush(self) -> None:
        """Write the newest copy now if its last save is pending (on shutdown)."""
        if self._saved != self.copy.version:
            self._save(self.copy)

    def _save(self, copy: CibCopy) -> bool:
        """Write ``copy``; False (and this node unhealthy) when it cannot be written."""
        if self._save_timer is not None:
            self._save_timer.cancel()
            self._save_timer = None
        if self.store is None:
            return True
        try:
            self.store.save(copy)
        except OSError as exc:
            self.health.cannot_persist(f"cannot write the CIB in {self.store.dir}:"
                                       f" {exc.strerror or exc}")
            return False
        self._saved = copy.version
        return True

    def _retry_save(self) -> bool:
        """The health probe: can this node write its copy again?"""
        if self.store is None:
            return True
        try:
            self.store.save(self.copy)
        except OSError:
            return False
        self._saved = self.copy.version
        return True

    @property
    def dc(self) -> int | None:
        return self.membership.coordinator

    def subscribe(self, listener: CibListener) -> None:
        self._listeners.append(listener)

    async def change(self, change: dict[str, Any]) -> dict[str, Any]:
        """Send a change through the DC; returns {"version", "acked_by", "members",
        "not_acked"} (not_acked: members when it was committed that never acked it)."""
        if self.health.error is not None:
            raise ClusterError(f"node {self.layer.node_id} accepts no change: {self.health.error}"
                               " (it left the membership; ask another node)")
        req = f"{self.layer.node_id}:{os.getpid()}:{next(self._ids)}"
        loop = asyncio.get_running_loop()
        pending = _Pending(change, loop.create_future())
        self._pending[req] = pending
        self.layer.send_ordered({"t": "cib-req", "r": req, "c": change})
        try:
            return await asyncio.wait_for(asyncio.shield(pending.future), self.timeout)
        except TimeoutError:
            if pending.committed is not None:
                return self._result(pending)
            raise ClusterError(
                f"no DC committed the change within {self.timeout}s"
                f" (DC {self.dc}, members {list(self.membership.members)})",
                req,
            ) from None
        finally:
            self._pending.pop(req, None)

    # -- layer callbacks --------------------------------------------------------------------
    def _on_membership(self, membership: Membership) -> None:
        old_dc = self.dc
        self.membership = membership
        self.synced = False
        self._awaiting_full = False
        self._versions = {}
        self._deferred = []
        self._resyncing = False
        self.layer.send_ordered(
            {"t": "cib-ver", "v": list(self.copy.version), "d": self.copy.digest}
        )
        for req, pending in list(self._pending.items()):
            if pending.future.done():
                continue  # answered (a refusal too): never sent again
            if pending.committed is None:
                self.layer.send_ordered({"t": "cib-req", "r": req, "c": pending.change})
            else:
                # A member that left will never ack: do not wait for it.
                self._check_done(req)
        if self.dc != old_dc:
            self.log.info("DC is now node %s", self.dc)
            self._emit({"event": "dc", "dc": self.dc, "view": membership.view_id})

    def _on_deliver(self, d: Delivery) -> None:
        if d.view_id != self.membership.view_id:
            return
        kind = d.payload.get("t")
        if kind == "cib-ver":
            self._on_version(d)
        elif kind == "cib-full":
            if not self._adopt(d.payload, f"sync from node {d.origin}") \
                    and self.health.error is not None:
                return  # not written: this copy is not in sync
            self._resyncing = False
            if self._awaiting_full:
                self._sync_done()
        elif kind == "cib-req":
            if self.layer.node_id == self.dc:
                if self.synced:
                    self._commit(d)
                else:
                    self._deferred.append(d)
            else:
                self._keep_request(str(d.payload["r"]), dict(d.payload["c"]))
        elif kind == "cib-resync":
            if self.layer.node_id == self.dc and self.synced:
                self.log.info("sending CIB %s to node %s (it has %s)", _v(self.copy.version),
                              d.origin, _v(_version(d.payload["v"])))
                self.layer.send_ordered({"t": "cib-full", "x": self.copy.xml,
                                         "v": list(self.copy.version), "d": self.copy.digest})
        elif kind == "cib-commit":
            self._on_commit(d)
        elif kind == "cib-ack":
            self._on_ack(d)
        elif kind == "cib-unhealthy":
            self.health.peer_unhealthy(d.origin, str(d.payload.get("e", "")))
        elif kind == "cib-nack":
            self._requests.pop(str(d.payload["r"]), None)
            pending = self._pending.get(str(d.payload["r"]))
            if pending is not None and not pending.future.done():
                error = (CibConflictError if d.payload.get("k") == CibConflictError.__name__
                         else ClusterError)
                pending.future.set_exception(
                    error(f"DC refused the change: {d.payload['e']}", str(d.payload["r"])))

    # -- internals --------------------------------------------------------------------------
    def _on_version(self, d: Delivery) -> None:
        self._versions[d.origin] = (_version(d.payload["v"]), str(d.payload["d"]))
        self.health.peer_back(d.origin)
        members = self.membership.members
        if self.synced or self._awaiting_full or not all(m in self._versions for m in members):
            return
        best = max(self._versions[m][0] for m in members)
        holders = [m for m in members if self._versions[m][0] == best]
        holder = self.dc if self.dc in holders else min(holders)
        wanted = self._versions[holder]
        differ = [m for m in members if self._versions[m] != wanted]
        if not differ:
            self._sync_done()
            return
        # Everyone (the DC included) waits for the holder's copy: a change committed before
        # it arrives would be built on a stale base and then overwritten.
        self._awaiting_full = True
        if holder == self.layer.node_id:
            self.log.info("sending CIB %s to nodes %s (they differ)", _v(best), differ)
            self.layer.send_ordered({"t": "cib-full", "x": self.copy.xml,
                                     "v": list(self.copy.version), "d": self.copy.digest})

    def _sync_done(self) -> None:
        self._awaiting_full = False
        self.synced = True
        deferred, self._deferred = self._deferred, []
        for request in deferred:
            self._commit(request)

    def _commit(self, d: Delivery) -> None:
        req = str(d.payload["r"])
        if req in self._done:
            # Re-sent after a DC change: answered, not applied twice.
            self.layer.send_ordered({"t": "cib-commit", "r": req,
                                     "v": list(self._done[req])})
            return
        base = self.copy
        try:
            new = apply_change(base, dict(d.payload["c"]))
        except DefibError as exc:
            self.layer.send_ordered({"t": "cib-nack", "r": req, "e": str(exc),
                                     "k": type(exc).__name__})
            return
        if not self._store(new, f"change {req} from node {d.origin}"):
            # Not durable here: not committed anywhere (the caller is told so).
            self.layer.send_ordered({"t": "cib-nack", "r": req, "k": ClusterError.__name__,
                                     "e": f"DC (node {self.layer.node_id})"
                                          f" {self.health.error}"})
            return
        self._remember(req, new.version)
        self.layer.send_ordered({"t": "cib-commit", "r": req, "b": list(base.version),
                                 "v": list(new.version)})

    def _keep_request(self, req: str, change: dict[str, Any]) -> None:
        self._requests[req] = change
        while len(self._requests) > REQUEST_MEMORY:
            self._requests.popitem(last=False)

    def _on_commit(self, d: Delivery) -> None:
        req, version = str(d.payload["r"]), _version(d.payload["v"])
        change = self._requests.pop(req, None)
        if "c" in d.payload:  # a DC of an earlier version sends the change again
            change = dict(d.payload["c"])
        if "b" in d.payload and version > self.copy.version:
            if not self._replay(d, change, version):
                return  # not acked: this copy waits for a full one
        # Every node remembers what was committed: a request re-sent after a DC change
        # is then answered, not applied twice, by whoever is DC next.
        self._remember(req, version)
        if self._ack_due is None:
            asyncio.get_running_loop().call_soon(self._ack)
        self._ack_due = (req, version)
        pending = self._pending.get(req)
        if pending is not None:
            pending.committed = version
            pending.expected = set(self.membership.members)
            self._check_done(req)

    def _ack(self) -> None:
        if self._ack_due is not None:
            req, version = self._ack_due
            self._ack_due = None
            self.layer.send_ordered({"t": "cib-ack", "r": req, "v": list(version)})

    def _on_ack(self, d: Delivery) -> None:
        """An ack answers its own request and every commit before it: the member applied
        the stream in order up to that version (a copy that could not replay a commit
        waits for a full copy, which holds it, before it acks anything newer)."""
        version = _version(d.payload["v"])
        named = str(d.payload["r"])
        for req, pending in list(self._pending.items()):
            if req == named or (pending.committed is not None and pending.committed <= version):
                pending.acked.add(d.origin)
                self._check_done(req)

    def _replay(self, d: Delivery, change: dict[str, Any] | None,
                version: tuple[int, int, int]) -> bool:
        """Apply the DC's diff to this copy; False (and a resync asked) if it cannot (its
        base is not this copy, or this member never delivered the request)."""
        base = _version(d.payload["b"])
        why = f"commit {d.payload['r']} by DC {d.origin}"
        if base == self.copy.version and change is not None:
            try:
                new = apply_change(self.copy, change)
            except DefibError as exc:
                new = None
                self.log.error("%s does not apply to CIB %s: %s", why, _v(base), exc)
            if new is not None and new.version == version:
                return self._store(new, why)
        if not self._resyncing:
            self._resyncing = True
            self.log.warning("%s applies to CIB %s, this copy is %s%s: asking for a full copy",
                             why, _v(base), _v(self.copy.version),
                             "" if change is not None else " and never saw the request")
            self.layer.send_ordered({"t": "cib-resync", "v": list(self.copy.version)})
        return False

    def _remember(self, req: str, version: tuple[int, int, int]) -> None:
        self._done[req] = version
        if len(self._done) > 10000:
            self._done.pop(next(iter(self._done)))

    def _adopt(self, payload: dict[str, Any], why: str) -> bool:
        version = _version(payload["v"])
        if version < self.copy.version:
            return False
        # Equal version, other content: the sender is the sync holder or the DC; it wins.
        if version == self.copy.version and payload["d"] == self.copy.digest:
            return False
        return self._store(CibCopy(str(payload["x"]), version), why)

    def _store(self, copy: CibCopy, why: str) -> bool:
        """Adopt ``copy`` once it is durable; False (copy not adopted) when it cannot be."""
        if not self._persist(copy):
            self.log.error("CIB %s NOT adopted (%s): %s", _v(copy.version), why,
                           self.health.error)
            return False
        self.copy = copy
        self.log.info("CIB now %s (%s)", _v(copy.version), why)
        self._emit({"event": "cib", "version": list(copy.version), "why": why})
        return True

    def _persist(self, copy: CibCopy) -> bool:
        if self.store is None:
            return True
        if self._saved is None or copy.version[:2] != self._saved[:2]:
            # A configuration change: durable before anyone hears of it.
            return self._save(copy)
        if self._save_timer is None:
            self._save_timer = asyncio.get_running_loop().call_later(
                STATUS_SAVE_DELAY, self.flush)
        return True

    def _check_done(self, req: str) -> None:
        pending = self._pending.get(req)
        if pending is None or pending.committed is None or pending.future.done():
            return
        if set(self.membership.members) <= pending.acked:
            pending.future.set_result(self._result(pending))
        elif not pending.timer_armed:
            pending.timer_armed = True
            asyncio.get_running_loop().call_later(self.ack_timeout, self._ack_timeout, req)

    def _ack_timeout(self, req: str) -> None:
        pending = self._pending.get(req)
        if pending is not None and not pending.future.done():
            self.log.warning("change %s: no ack from %s", req,
                             sorted(set(self.membership.members) - pending.acked))
            pending.future.set_result(self._result(pending))

    def _result(self, pending: _Pending) -> dict[str, Any]:
        return {
            "version": list(pending.committed or self.copy.version),
            "acked_by": sorted(pending.acked),
            "members": list(self.membership.members),
            "not_acked": sorted(pending.expected - pending.acked),
        }

    def _emit(self, event: dict[str, Any]) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                self.log.exception("CIB listener failed")


def _version(raw: Any) -> tuple[int, int, int]:
    a, e, n = (int(x) for x in raw)
    return (a, e, n)


def _v(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))
