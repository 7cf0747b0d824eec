"""Where resources run now, computed from the CIB status with the scheduler's unpack (what
``crm_resource --locate`` reads)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from defib.commands.env import CommandEnv
from defib.scheduler.working import CloneRt, GroupRt, Prim, Rsc

if TYPE_CHECKING:
    from defib.scheduler.unpack import WorkingSet


def working_set(env: CommandEnv, xml: str | None = None) -> WorkingSet:
    from defib.controller.cibinput import parse_input
    from defib.scheduler.pipeline import unpack

    return unpack(parse_input(xml if xml is not None else env.read()), env.now())


def _primitives(rsc: Rsc) -> list[Prim]:
    if isinstance(rsc, Prim):
        return [rsc]
    if isinstance(rsc, GroupRt | CloneRt):
        return rsc.primitives()
    return []


def locations(ws: WorkingSet, rsc_id: str) -> list[tuple[str, str]]:
    """(node, role) pairs where ``rsc_id`` (or any of its instances) is active."""
    wanted = ws.by_id.get(rsc_id)
    prims: list[Prim] = []
    if wanted is not None:
        prims = _primitives(wanted)
    # Clone instances are named "<id>:<n>"; the configured id names them all.
    prims += [p for p in ws.all_primitives()
              if p.base_id() == rsc_id and p not in prims]
    seen: list[tuple[str, str]] = []
    for prim in prims:
        for node in prim.running_on:
            pair = (node.uname, prim.role)
            if pair not in seen:
                seen.append(pair)
    if isinstance(wanted, GroupRt):
        # A group runs where its first member does.
        first = _primitives(wanted)[:1]
        seen = [(n.uname, p.role) for p in first for n in p.running_on] or seen
    return seen
