"""The resources Pacemaker makes for each bundle replica, and what they are configured with."""

from __future__ import annotations

from defib.model.resources import Operation

# Pacemaker gives a replica's container and address a 60 s monitor and its connection a
# 30 s one (pe__unpack_bundle); the graph schedules them like configured monitors.
_MONITOR_MS = {"remote": 30_000}
_DEFAULT_MONITOR_MS = 60_000


def implicit_operations(ident: str, agent_type: str) -> tuple[Operation, ...]:
    interval = _MONITOR_MS.get(agent_type, _DEFAULT_MONITOR_MS)
    return (Operation(id=f"{ident}-monitor-{interval // 1000}", name="monitor",
                      interval_ms=interval),)
