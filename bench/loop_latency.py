"""Does a big scheduler run hold up the DC's event loop (and so its heartbeats)?

    python -m bench.loop_latency [--nodes 3] [--resources 1000]

A generated CIB (``gen_cib.bench_spec``: constraints, half the primitives running, a few
failed) is scheduled the way the DC does it (``controller.dc.make_plan``: scheduler input,
schedule, graph, graph XML), once on the event loop itself (as the DC did before) and once
through the DC's worker thread. Meanwhile a task that ticks every 50 ms (the heartbeat
layer's period) records the worst gap between two ticks: what a heartbeat would have waited.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from defib.controller.cibinput import stamp_input
from defib.controller.dc import make_plan
from defib.testing.gen_cib import bench_spec, generate_cib

PERIOD_S = 0.05


async def worst_gap_during(work: object, on_loop: bool, xml: str) -> tuple[float, float]:
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(PERIOD_S)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.2)
    t0 = time.monotonic()
    if on_loop:
        make_plan(xml)
    else:
        await asyncio.to_thread(make_plan, xml)
    took = time.monotonic() - t0
    await asyncio.sleep(0.2)
    done.set()
    await task
    return took, max(gaps) - PERIOD_S


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--resources", type=int, default=1000)
    args = parser.parse_args()
    cib = generate_cib(1, bench_spec(args.nodes, args.resources))
    xml = stamp_input(cib, True, "1", int(time.time()))
    for label, on_loop in (("on the event loop (before)", True),
                           ("in the worker thread (now)", False)):
        took, gap = asyncio.run(worst_gap_during(make_plan, on_loop, xml))
        print(f"{args.nodes} nodes x {args.resources} resources, scheduler {label}:"
              f" run {took:.2f}s, worst heartbeat delay {gap * 1000:.0f} ms")


if __name__ == "__main__":
    main()
