"""``--wait``: return once the cluster has settled, as ``crm_resource --wait`` does: the
scheduler, run on the current CIB (with quorum and DC as the cluster sees them), has no
action left to execute. The check is the DC's own: the graph it would run is empty."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from defib.commands.env import CommandEnv
from defib.errors import ClusterError, CommandError, NotConnectedError

POLL_S = 0.2


@dataclass(frozen=True)
class Pending:
    """What the scheduler still wants to do."""

    actions: int
    summary: tuple[str, ...]

    @property
    def settled(self) -> bool:
        return self.actions == 0


def pending(env: CommandEnv, scheduler_xml: str | None = None) -> Pending:
    """What is left to do; ``scheduler_xml`` is ``env.scheduler_input(...)`` when known."""
    from defib.controller.cibinput import parse_input
    from defib.graph.build import build_graph
    from defib.scheduler import schedule

    if scheduler_xml is None:
        scheduler_xml = env.scheduler_input(env.read())
    transition = schedule(parse_input(scheduler_xml), env.now())
    graph = build_graph(transition, 0)
    summary = tuple(line.strip() for line in transition.summary)
    if graph and not summary:
        # Monitors and probes have no summary line: name them.
        summary = tuple(sorted(f"{s.action.operation_key}"
                               + (f" on {s.action.node_uname}" if s.action.node_uname else "")
                               for s in graph))
    return Pending(len(graph), summary)


def wait_settled(env: CommandEnv, timeout: float,
                 progress: Callable[[str], None] | None = None) -> float:
    """Block until nothing is left to do; seconds waited. ``progress`` gets one line per
    change of what is pending. Raises ``CommandError`` at the timeout, naming what is left."""
    if not env.live:
        raise CommandError("--wait needs a running cluster (this is a CIB file)")
    start = env.monotonic()
    last: tuple[str, ...] | None = None
    state = Pending(-1, ("no answer from the cluster yet",))
    while True:
        try:
            state = pending(env)
            busy = env.in_flight()
            if busy:
                state = Pending(max(state.actions, 0) + len(busy), state.summary + tuple(busy))
        except (NotConnectedError, ClusterError) as exc:
            state = Pending(-1, (f"cluster not answering: {exc}",))
        waited = env.monotonic() - start
        if state.settled:
            if progress is not None:
                progress(f"settled after {waited:.1f}s")
            return waited
        if progress is not None and state.summary != last:
            count = f", {state.actions} actions" if state.actions > 0 else ""
            progress(f"waiting ({waited:.1f}s{count}): " + "; ".join(state.summary))
            last = state.summary
        if waited >= timeout:
            left = "; ".join(state.summary) or f"{state.actions} actions"
            raise CommandError(f"the cluster did not settle within {timeout:g}s; "
                               f"still pending: {left}")
        env.sleep(POLL_S)
