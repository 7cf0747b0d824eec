"""Fail counts: how often a resource failed on a node, as the fail-count-* and last-failure-*
node attributes record it, and whether its failures expired (failure-timeout)."""

from __future__ import annotations

from defib.model.scores import INFINITY, parse_score
from defib.scheduler.unpack import WorkingSet
from defib.scheduler.working import NodeInfo, Prim, Rsc


def fail_count(ws: WorkingSet, prim: Prim, node: NodeInfo) -> tuple[int, int]:
    """(count, last failure epoch) for a resource on a node, expired failures excluded."""
    table = failure_table(node)
    count, last = 0, 0
    for name in {prim.id, prim.base_id()}:
        c, t = table.get(name, (0, 0))
        count = _add(count, c)
        last = max(last, t)
    if count and prim.failure_timeout_s > 0 and ws.now is not None and last:
        if last + prim.failure_timeout_s <= ws.now.timestamp():
            return 0, last
    return count, last


def failure_table(node: NodeInfo) -> dict[str, tuple[int, int]]:
    """Fail counts and last-failure times per resource name, read once per node."""
    cached = node.failures
    if cached is not None:
        return cached
    table: dict[str, tuple[int, int]] = {}
    for key, value in node.attrs.items():
        if key.startswith("fail-count-"):
            rsc = key[len("fail-count-"):].split("#", 1)[0]
            c, t = table.get(rsc, (0, 0))
            table[rsc] = (_add(c, parse_score(value)), t)
        elif key.startswith("last-failure-"):
            rsc = key[len("last-failure-"):].split("#", 1)[0]
            try:
                when = int(value)
            except ValueError:
                continue
            c, t = table.get(rsc, (0, 0))
            table[rsc] = (c, max(t, when))
    node.failures = table
    return table


def _add(a: int, b: int) -> int:
    total = a + b
    return min(total, INFINITY)


def owner_for_failcount(rsc: Rsc) -> Rsc:
    return rsc
