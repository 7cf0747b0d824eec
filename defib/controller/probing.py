"""The DC's probes: every configured resource is probed on every member that has no
history of it (how a restarted daemon finds the resources it left running), before the
scheduler's decisions are acted on."""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import TYPE_CHECKING

from defib.controller import wire
from defib.controller.statuswriter import Reports
from defib.executor.types import OcfRc
from defib.graph.build import lrm_id
from defib.scheduler.unpack import WorkingSet
from defib.scheduler.working import Prim

if TYPE_CHECKING:
    from defib.controller.dc import Controller


def missing(ws: WorkingSet, known: dict[str, set[str]],
            busy: set[tuple[str, str]]) -> dict[tuple[str, str], Prim]:
    """(node, resource) -> primitive for every resource a node has no history of and that
    is not being probed already (``known``: node -> resources in its history)."""
    wanted: dict[tuple[str, str], Prim] = {}
    for prim in ws.all_primitives():
        rid = lrm_id(prim)
        for node, resources in known.items():
            if rid not in resources and (node, rid) not in busy:
                wanted.setdefault((node, rid), prim)
    return wanted


class Prober:
    def __init__(self, host: Controller) -> None:
        self.host = host
        self._probing: set[tuple[str, str]] = set()
        self._ids = itertools.count(100000)

    async def probe_missing(self, ws: WorkingSet, members: set[str], view_id: str,
                            reports: Reports) -> bool:
        """Probe what is missing; True when something was probed (the DC looks again)."""
        host = self.host
        if not host.options.enable_startup_probes:
            return False  # enable-startup-probes=false: Pacemaker probes nothing either
        from defib.controller import status as st

        known = {node: st.known_resources(report[1]) for node in members
                 if (report := reports.get(node)) is not None and report[0] == view_id}
        wanted = missing(ws, known, self._probing)
        if not wanted:
            return False
        host.log(logging.INFO, "probing %s", ", ".join(f"{r}@{n}" for n, r in wanted))
        self._probing.update(wanted)
        runner = host.runner
        try:
            specs = [
                wire.OpSpec(node, rid, prim.rsc_class or "", prim.type or "", prim.provider,
                            "monitor", 0, 20000, dict(prim.params),
                            {"on_node": node, "on_node_uuid": host.status.node_id(node)},
                            f"{next(self._ids)}:{runner.transition_id}:"
                            f"{int(OcfRc.NOT_RUNNING)}:{host.uuid}")
                for (node, rid), prim in wanted.items()
            ]
            await asyncio.gather(*(runner.remote_op(s) for s in specs))
        finally:
            self._probing.difference_update(wanted)
        return True
