"""The DC's writes to the status section: membership, histories, results, attributes.

The DC is the only writer of the status, under one lock (``lock``): every change here is
built from the current copy and committed through the replicated CIB. What the rules are
(which attributes a member, a lost or a fenced node has) is ``status.py``; this part
decides when to write and batches operation results into as few CIB changes as possible.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable
from functools import partial
from typing import Any

from defib.attrd import store as attrd
from defib.clock import Clock
from defib.cluster.node import ClusterNode
from defib.controller import shutdown as sd
from defib.controller import status as st
from defib.controller import wire
from defib.errors import DefibError

Log = Callable[..., None]


class Reports:
    """The nodes' own histories: node name -> (view id, the ``lrm`` element it announced),
    kept current with the results that followed. Every node keeps every node's history
    (whoever becomes DC has it) but only a DC reads them (at a membership change, when it
    probes): a result is applied when its node's history is next read, not as it arrives
    (parsing every result on every node cost more than the agent's run)."""

    def __init__(self) -> None:
        self._lrm: dict[str, tuple[str, ET.Element]] = {}
        self._later: dict[str, dict[str, str]] = {}  # node -> resource -> entry (text)

    def announced(self, node: str, view_id: str, lrm: ET.Element) -> None:
        self._lrm[node] = (view_id, lrm)
        self._later.pop(node, None)

    def result(self, node: str, rsc: str, entry: str) -> None:
        """A result's whole ``lrm_resource`` entry (as its node sent it)."""
        if node in self._lrm:
            self._later.setdefault(node, {})[rsc] = entry

    def get(self, node: str) -> tuple[str, ET.Element] | None:
        report = self._lrm.get(node)
        later = self._later.pop(node, None)
        if report is not None and later:
            for entry in later.values():
                st.replace_lrm_resource(report[1], ET.fromstring(entry))
        return report

    def view_of(self, node: str) -> str:
        """The view ``node`` last announced its history in ("" if never)."""
        report = self._lrm.get(node)
        return report[0] if report is not None else ""

    def forget(self, node: str) -> None:
        self._lrm.pop(node, None)
        self._later.pop(node, None)


def _cleared(rsc: str | None, removed: list[str], state: ET.Element) -> bool:
    """Clear ``rsc``'s (or every) fail count in ``state``; what was cleared goes to
    ``removed``."""
    removed.extend(attrd.cleanup(state, rsc))
    return bool(removed)


class StatusWriter:
    def __init__(self, node: ClusterNode, clock: Clock, log: Log,
                 kick: Callable[[str], None], answer: Callable[[wire.OpResult], bool],
                 start_failure_fatal: Callable[[], bool]) -> None:
        self.node = node
        self.clock = clock
        self.log = log
        self.kick = kick
        # Hands a recorded result to whoever waits for it; False when nobody does.
        self.answer = answer
        self.start_failure_fatal = start_failure_fatal
        self.lock = asyncio.Lock()
        self._cib_changed = asyncio.Event()
        self._tasks: set[asyncio.Future[Any]] = set()
        self._results: list[wire.OpResult] = []  # operation results not yet recorded
        self._unexpected: list[wire.OpResult] = []  # failures of those nobody waited for
        self._recording = False
        self._recorded = asyncio.Event()  # set while no result waits to be recorded
        self._recorded.set()
        # Node -> id() of the announced history last written whole into the status.
        self._lrm_synced: dict[str, int] = {}
        node.subscribe(self._on_event)

    def _on_event(self, event: dict[str, Any]) -> None:
        if event.get("event") == "cib":
            self._cib_changed.set()

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    @property
    def is_dc(self) -> bool:
        return self.node.cib.dc == self.node.node.id

    def node_id(self, name: str) -> str:
        for cfg_node in self.node.cfg.nodes:
            if cfg_node.name == name:
                return str(cfg_node.id)
        return name

    def history_announced(self, node: str) -> None:
        """A node announced its whole history: the next sync writes it whole."""
        self._lrm_synced.pop(node, None)

    # -- reading and committing -------------------------------------------------------------
    def cib_root(self) -> ET.Element:
        """The current CIB tree, shared with the replicator: read it, never modify it."""
        return self.node.cib.copy.root

    def node_state(self, node_id: str) -> ET.Element | None:
        """A private copy of one node's status entry, to build a change from."""
        current = st.find_node_state(self.cib_root(), node_id)
        return copy.deepcopy(current) if current is not None else None

    async def patch(self, node_state: ET.Element) -> None:
        await self.change({"op": "patch_status",
                           "xml": ET.tostring(node_state, encoding="unicode")})

    async def change(self, change: dict[str, Any]) -> None:
        """Commit a change; on the DC, return once the DC's own copy has it.

        The replicator answers only when every member acked, or after its ack timeout; a
        member that died a moment ago would hold recovery back by that timeout. The DC is
        the only writer of the status (under ``lock``), so the first new version of its
        own copy is this change; the acks keep being collected in the background.
        """
        before = self.node.cib.copy.version
        task = asyncio.ensure_future(self.node.change(change))
        self._tasks.add(task)
        task.add_done_callback(self._change_done)
        while not task.done():
            self._cib_changed.clear()
            if self.is_dc and self.node.cib.copy.version > before:
                return
            waiter = asyncio.ensure_future(self._cib_changed.wait())
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
        task.result()

    def _change_done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log(logging.WARNING, "CIB change not confirmed: %s", task.exception())

    async def _edit(self, name: str, edit: Callable[[ET.Element], object]) -> bool | None:
        """Apply ``edit`` to a fresh copy of ``name``'s status entry and commit it when
        ``edit`` says it changed something (True); None for a node without an entry."""
        node_id = self.node_id(name)
        async with self.lock:
            current = self.node_state(node_id)
            if current is None:
                return None
            new = st._fresh(node_id, name, current)
            if not edit(new):
                return False
            await self.patch(new)
            return True

    # -- membership and histories -----------------------------------------------------------
    async def sync(self, view_id: str, members: set[str], reports: Reports,
                   incarnations: dict[str, str], fenced_in_view: set[str]) -> bool:
        """Write membership and announced histories; True when the CIB was changed."""
        changed = False
        async with self.lock:
            nodes_section = st.ensure_nodes(self.cib_root(), [(str(n.id), n.name)
                                                              for n in self.node.cfg.nodes])
            if nodes_section is not None:
                # Based on the configuration it was read from: never over a node attribute
                # written meanwhile (a refused change is retried by the next cycle).
                await self.change({"op": "replace_section", "section": "nodes",
                                   "xml": ET.tostring(nodes_section, encoding="unicode"),
                                   "base": list(self.node.cib.copy.version[:2])})
                changed = True
            for cfg_node in self.node.cfg.nodes:
                if cfg_node.name in members and cfg_node.name in fenced_in_view:
                    continue
                new = self._wanted_state(str(cfg_node.id), cfg_node.name, view_id,
                                         members, reports, incarnations)
                current = st.find_node_state(self.cib_root(), str(cfg_node.id))
                if new is not None and not st.same(current, new):
                    await self.patch(new)
                    changed = True
        return changed

    def _wanted_state(self, node_id: str, name: str, view_id: str, members: set[str],
                      reports: Reports, incarnations: dict[str, str]) -> ET.Element | None:
        # Shared with the CIB copy: member_state and lost_state build a new element and
        # leave this one (and its children) untouched.
        current = st.find_node_state(self.cib_root(), node_id)
        if name in members:
            report = reports.get(name)
            joined = report is not None and report[0] == view_id
            # The whole announced history goes in once per announcement; results then
            # update both it and the status entry by entry.
            lrm = report[1] if joined and report and self._lrm_synced.get(
                name) != id(report[1]) else None
            if lrm is not None:
                self._lrm_synced[name] = id(lrm)
            return st.member_state(current, node_id, name, joined, lrm,
                                   incarnations.get(name) if joined else None)
        if current is None:
            return None
        if current.get("in_ccm") == "false" and current.get("crmd") == "offline":
            return None  # already recorded as gone (or fenced)
        self.log(logging.WARNING, "node %s is lost (expected %s)", name,
                 current.get("expected"))
        return st.lost_state(current, node_id, name)

    async def record_fenced(self, target: str) -> None:
        node_id = self.node_id(target)
        async with self.lock:
            current = self.node_state(node_id)
            await self.patch(st.fenced_state(current, node_id, target))

    # -- attributes, fail counts, shutdowns -------------------------------------------------
    async def set_attribute(self, name: str, attr: str, value: str | None) -> None:
        done = await self._edit(name, lambda new: attrd.set_attr(new, attr, value))
        if done is None:
            self.log(logging.WARNING, "attribute %s for unknown node %s ignored", attr, name)
        elif done:
            self.log(logging.INFO, "attribute %s of %s = %s", attr, name, value)
            self.kick(f"attribute {attr} of {name}")

    async def set_ticket(self, ticket: str, attrs: dict[str, str | None]) -> None:
        """crm_ticket's request: the ticket's state in ``status/tickets``."""
        async with self.lock:
            status = self.cib_root().find("status")
            current = status.find("tickets") if status is not None else None
            tickets = (ET.fromstring(ET.tostring(current)) if current is not None
                       else ET.Element("tickets"))
            if not st.set_ticket_state(tickets, ticket, attrs):
                return
            await self.change({"op": "replace_tickets",
                               "xml": ET.tostring(tickets, encoding="unicode")})
        self.log(logging.INFO, "ticket %s: %s", ticket,
                 ", ".join(f"{k}={v}" for k, v in attrs.items()))
        self.kick(f"ticket {ticket} changed")

    async def clear_failcount(self, rsc: str, name: str) -> None:
        """The scheduler's ``clear_failcount``: an expired failure or a changed definition."""
        if await self._edit(name, lambda new: attrd.cleanup(new, rsc)):
            self.log(logging.INFO, "fail count of %s on %s cleared", rsc, name)

    async def cleanup(self, rsc: str | None, target: str | None) -> None:
        for cfg_node in self.node.cfg.nodes:
            if target is not None and cfg_node.name != target:
                continue
            removed: list[str] = []
            if await self._edit(cfg_node.name, partial(_cleared, rsc, removed)):
                self.log(logging.INFO, "cleanup on %s: cleared %s", cfg_node.name,
                         ", ".join(removed))

    async def shutdown_requested(self, name: str, when: float) -> None:
        node_id = self.node_id(name)
        async with self.lock:
            current = self.node_state(node_id)
            await self.patch(sd.with_shutdown_attr(current, node_id, name, when))

    async def expected_down(self, name: str) -> None:
        node_id = self.node_id(name)
        async with self.lock:
            current = self.node_state(node_id)
            await self.patch(sd.expected_down(current, node_id, name))

    # -- operation results ------------------------------------------------------------------
    def queue_result(self, result: wire.OpResult) -> None:
        """Take a result: whoever waits for it is answered now, and it is recorded in the
        next CIB change. The answer does not wait for that change (the DC's graph goes on
        while the change travels): the node keeps its own history, a new DC rebuilds the
        status from it, and the DC's own scheduler runs only once every result taken is
        recorded (``recorded``)."""
        if not self.answer(result) and result.counts_as_failure:
            self._unexpected.append(result)
        self._results.append(result)
        if not self._recording:
            self._recording = True
            self._recorded.clear()
            task = asyncio.ensure_future(self._record_results())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def recorded(self) -> None:
        """Return once every result taken so far is in the DC's copy of the CIB."""
        await self._recorded.wait()

    async def _record_results(self) -> None:
        """Record operation results in as few CIB changes as possible: whatever arrived
        while one change was being committed goes into the next, as one diff."""
        try:
            while self._results:
                batch, self._results = self._results, []
                unexpected, self._unexpected = self._unexpected, []
                await self._record(batch)
                for result in unexpected:  # nobody waited: the scheduler must look again
                    self.kick(f"{result.op_key} failed on {result.node}")
        finally:
            self._recording = False
            self._recorded.set()

    async def _record(self, batch: list[wire.OpResult]) -> None:
        """One CIB change for ``batch``: each result's history entry (as its node sent it)
        replaces the resource's entry in place, and a failure updates the node's fail
        counts."""
        try:
            async with self.lock:
                updates: list[dict[str, Any]] = []
                failed: dict[str, ET.Element] = {}
                for result in batch:
                    node_id = self.node_id(result.node)
                    updates.append({"id": node_id, "uname": result.node,
                                    "lrm_resource": result.entry})
                    if result.counts_as_failure:
                        if node_id not in failed:
                            failed[node_id] = self._attributes_of(node_id)
                        self._count_failure(failed[node_id], result)
                for node_id, state in failed.items():
                    attrs = state.find("transient_attributes")
                    if attrs is not None:
                        updates.append({"id": node_id, "uname": state.get("uname"),
                                        "child": ET.tostring(attrs, encoding="unicode")})
                await self.change({"op": "update_status", "updates": updates})
        except DefibError as exc:
            self.log(logging.ERROR, "could not record %d results (%s...): %s", len(batch),
                     batch[0].op_key, exc)
            for result in batch:  # the next cycle writes these nodes' whole history
                self._lrm_synced.pop(result.node, None)

    def _attributes_of(self, node_id: str) -> ET.Element:
        """A private ``node_state`` holding a copy of the node's transient attributes."""
        current = st.find_node_state(self.cib_root(), node_id)
        state = ET.Element("node_state", {"id": node_id,
                                          "uname": current.get("uname", node_id)
                                          if current is not None else node_id})
        attrs = current.find("transient_attributes") if current is not None else None
        if attrs is not None:
            state.append(copy.deepcopy(attrs))
        return state

    def _count_failure(self, state: ET.Element, result: wire.OpResult) -> None:
        fatal = result.action == "start" and self.start_failure_fatal()
        count = attrd.record_failure(state, result.rsc, result.action, result.interval_ms,
                                     self.clock.time(), fatal)
        self.log(logging.WARNING, "%s on %s failed: rc=%s status=%s %s (fail count %d)",
                 result.op_key, result.node, result.rc, result.status, result.reason, count)

