"""The graph executor: readiness, id-order passes, parallelism limit, abort on failure."""

from __future__ import annotations

import asyncio

import pytest

from defib.graph.executor import (
    ActionOutcome,
    GraphExecutor,
    OutcomeStatus,
    execute_graph,
)
from defib.graph.model import GraphAction, Synapse, TransitionGraph


def _action(aid: int, key: str) -> GraphAction:
    rsc, task, _ = key.rsplit("_", 2)
    return GraphAction(id=aid, kind="rsc_op", operation=task, operation_key=key, rsc_id=rsc,
                       node_uname="n1", node_id="1")


def _graph(spec: list[tuple[int, str, tuple[int, ...]]], batch_limit: int = 0) -> TransitionGraph:
    synapses = tuple(Synapse(i, _action(aid, key), inputs)
                     for i, (aid, key, inputs) in enumerate(spec))
    return TransitionGraph(synapses, batch_limit=batch_limit)


class Immediate:
    """Completes every action at once, failing the ones named in ``fail``."""

    def __init__(self, fail: frozenset[str] = frozenset()) -> None:
        self.fail = fail
        self.calls: list[str] = []

    async def execute(self, action: GraphAction) -> ActionOutcome:
        self.calls.append(action.operation_key)
        if action.operation_key in self.fail:
            return ActionOutcome.failure(rc=7)
        return ActionOutcome.success()


class Timed:
    """Takes ``delay`` seconds per action and records peak concurrency."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.running = 0
        self.peak = 0
        self.order: list[str] = []

    async def execute(self, action: GraphAction) -> ActionOutcome:
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.running -= 1
        self.order.append(action.operation_key)
        return ActionOutcome.success()


def test_runs_in_id_order_passes_like_pacemaker() -> None:
    # Synapse 0 waits for synapse 2's action: it can only fire on the second pass, while
    # synapse 3 (waiting for 1) fires in the first pass right after 1 completes.
    graph = _graph([
        (10, "a_start_0", (12,)),
        (11, "b_start_0", ()),
        (12, "c_start_0", ()),
        (13, "d_start_0", (11,)),
    ])
    handlers = Immediate()
    report = asyncio.run(execute_graph(graph, handlers))
    assert handlers.calls == ["b_start_0", "c_start_0", "d_start_0", "a_start_0"]
    assert [a.operation_key for a in report.started] == handlers.calls
    assert report.complete and not report.aborted and not report.not_run


def test_failure_aborts_and_reports_what_never_ran() -> None:
    graph = _graph([
        (1, "a_stop_0", ()),
        (2, "a_start_0", (1,)),
        (3, "b_start_0", (2,)),
        (4, "c_start_0", ()),
    ])
    handlers = Immediate(fail=frozenset({"a_stop_0"}))
    report = asyncio.run(execute_graph(graph, handlers))
    assert handlers.calls == ["a_stop_0"]
    assert report.aborted and not report.complete
    assert report.abort_reason is not None and "a_stop_0" in report.abort_reason
    assert [r.outcome.status for r in report.failed] == [OutcomeStatus.FAILED]
    assert [a.operation_key for a in report.not_run] == ["a_start_0", "b_start_0", "c_start_0"]


def test_parallel_up_to_limit() -> None:
    graph = _graph([(i, f"r{i}_start_0", ()) for i in range(6)] + [(99, "z_start_0", (0, 5))])
    handlers = Timed(0.02)
    report = asyncio.run(GraphExecutor(graph, handlers, limit=2).run())
    assert handlers.peak == 2
    assert report.complete
    assert handlers.order[-1] == "z_start_0"

    unlimited = Timed(0.02)
    asyncio.run(execute_graph(graph, unlimited))
    assert unlimited.peak == 6


def test_in_flight_actions_finish_after_a_failure() -> None:
    class FailFast(Timed):
        async def execute(self, action: GraphAction) -> ActionOutcome:
            if action.operation_key == "bad_start_0":
                return ActionOutcome(OutcomeStatus.TIMED_OUT, 1)
            return await super().execute(action)

    graph = _graph([(1, "slow_start_0", ()), (2, "bad_start_0", ()), (3, "after_start_0", (1,))])
    handlers = FailFast(0.05)
    report = asyncio.run(execute_graph(graph, handlers))
    assert report.aborted
    assert handlers.order == ["slow_start_0"]  # it completed; nothing new started after
    assert [a.operation_key for a in report.not_run] == ["after_start_0"]
    assert {r.action.operation_key: r.outcome.status for r in report.runs} == {
        "bad_start_0": OutcomeStatus.TIMED_OUT, "slow_start_0": OutcomeStatus.OK}


def test_handler_exception_is_a_failed_action() -> None:
    class Broken:
        async def execute(self, action: GraphAction) -> ActionOutcome:
            raise RuntimeError("boom")

    report = asyncio.run(execute_graph(_graph([(1, "a_start_0", ())]), Broken()))
    assert report.aborted
    assert report.runs[0].outcome.status is OutcomeStatus.FAILED
    assert "boom" in report.runs[0].outcome.message


def test_external_abort_stops_new_starts() -> None:
    graph = _graph([(1, "a_start_0", ()), (2, "b_start_0", (1,))])

    async def scenario() -> tuple[list[str], bool, int]:
        handlers = Timed(0.05)
        executor = GraphExecutor(graph, handlers)
        task = asyncio.create_task(executor.run())
        await asyncio.sleep(0.01)
        executor.abort("new CIB")
        report = await task
        return handlers.order, report.aborted, len(report.not_run)

    order, aborted, not_run = asyncio.run(scenario())
    assert order == ["a_start_0"] and aborted and not_run == 1


def test_cancelling_run_cancels_in_flight_handlers() -> None:
    graph = _graph([(1, "a_start_0", ())])
    handlers = Timed(10)

    async def scenario() -> None:
        task = asyncio.create_task(execute_graph(graph, handlers))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert handlers.running == 0


def test_graph_rejects_unknown_inputs() -> None:
    with pytest.raises(ValueError):
        _graph([(1, "a_start_0", (5,))])


def test_cycle_is_reported_not_hung_on() -> None:
    graph = _graph([(1, "a_start_0", (2,)), (2, "a_monitor_0", (1,)), (3, "b_start_0", ())])
    assert [a.operation_key for a in graph.blocked_by_cycle()] == ["a_start_0", "a_monitor_0"]
    report = asyncio.run(execute_graph(graph, Immediate()))
    assert [a.operation_key for a in report.started] == ["b_start_0"]
    assert report.aborted and {a.operation_key for a in report.not_run} == {
        "a_start_0", "a_monitor_0"}
    assert _graph([(1, "a_start_0", ()), (2, "a_stop_0", (1,))]).blocked_by_cycle() == []


class PerNode:
    """Takes ``delay`` seconds per action; records the peak of actions running per node."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.running: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.total_peak = 0

    async def execute(self, action: GraphAction) -> ActionOutcome:
        node = action.node_uname or "-"
        self.running[node] = self.running.get(node, 0) + 1
        self.peak[node] = max(self.peak.get(node, 0), self.running[node])
        self.total_peak = max(self.total_peak, sum(self.running.values()))
        try:
            if action.kind != "pseudo_event":
                await asyncio.sleep(self.delay)
        finally:
            self.running[node] -= 1
        return ActionOutcome.success()


def test_node_action_limit_per_node_and_batch_limit_without_pseudo_actions() -> None:
    # Node a has 6 starts listed first; b and c have 2 each: a being full must not hold b and
    # c back. A pseudo action after every start of a waits for them and counts nowhere.
    actions = [GraphAction(id=i, kind="rsc_op", operation="start", operation_key=f"r{i}_start_0",
                           rsc_id=f"r{i}", node_uname=node)
               for i, node in enumerate("aaaaaabbcc")]
    done = GraphAction(id=99, kind="pseudo_event", operation="running",
                       operation_key="grp_running_0")
    graph = TransitionGraph(tuple(Synapse(n, a) for n, a in enumerate(actions))
                            + (Synapse(10, done, tuple(range(6))),))
    handlers = PerNode(0.03)
    report = asyncio.run(GraphExecutor(graph, handlers, node_limit=2).run())
    assert report.complete and len(report.runs) == 11
    assert handlers.peak == {"a": 2, "b": 2, "c": 2, "-": 1}
    # b's and c's starts went out with a's first two, not after a's six.
    assert [a.node_uname for a in report.started[:6]] == ["a", "a", "b", "b", "c", "c"]
    limited = PerNode(0.03)
    report = asyncio.run(GraphExecutor(graph, limited, limit=3).run())
    assert report.complete and limited.total_peak == 3
