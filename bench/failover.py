"""Failover benchmark: crash the node running a resource, again and again, on real daemons.

    python -m bench.failover [--nodes 3] [--crashes 7] [--moves 5] [--hosts] [--json]

1. Crash: a power cut of the node that runs ``ocf:heartbeat:Dummy`` (SIGKILL of every process
   of that local node), then poll the CIB (10 ms) until the resource is recorded started on
   another node. That time includes failure detection, the DC's scheduler run, fencing with
   ``fence_defib_local`` (the device must succeed before recovery), and the start. The
   crashed node is restarted and rejoins before the next round.
   With ``--hosts`` (root) each node is a host (``defib cluster start --hosts``) and the
   crash is a power cut of the whole host through its power switch (its PID namespace
   killed, its cables gone).
2. Move: a ``cli-prefer`` location constraint to another node (as ``crm_resource --move``),
   timed from the constraint's commit until the start is recorded on the target.

Reference (Corosync 3.1.7 + Pacemaker 2.1.5, 3 nodes, these machines): crash 7.9 s with
defaults, 2.2-3.2 s with token 1000 / token_coefficient 0; ``crm_resource --move`` 0.25 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from defib.controller.harness import ResourceCluster, cib_xml, fence_device, primitive

RSC = "vip"


def _resources() -> str:
    return fence_device() + primitive(RSC, "ocf", "Dummy", "heartbeat",
                                      meta={"resource-stickiness": "100"}, monitor="10s")


def crash_rounds(rc: ResourceCluster, crashes: int) -> list[float]:
    times = []
    for _ in range(crashes):
        home, _ = rc.wait_running(RSC)
        t0 = rc.crash(home)
        rc.wait_running(RSC, not_on={home}, timeout=30, poll=0.01)
        times.append(time.monotonic() - t0)
        rc.wait("fencing recorded", lambda h=home: h in rc.dc_status()["fenced"], timeout=10)
        rc.restart(home)
        rc.cluster.wait_formed(timeout=20)
        time.sleep(1.0)  # let the rejoined node be probed before the next crash
    return times


def move_rounds(rc: ResourceCluster, moves: int) -> list[float]:
    times = []
    for i in range(moves):
        home, _ = rc.wait_running(RSC)
        target = next(n for n in rc.names if n != home)
        constraint = (f'<constraints><rsc_location id="cli-prefer-{RSC}" rsc="{RSC}"'
                      f' node="{target}" score="INFINITY"/></constraints>')
        t0 = time.monotonic()
        rc.replace_section("constraints", constraint)
        where, _ = rc.wait_running(RSC, not_on={home}, timeout=20, poll=0.005)
        times.append(time.monotonic() - t0)
        assert where == target, (where, target, i)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--crashes", type=int, default=7)
    parser.add_argument("--moves", type=int, default=5)
    parser.add_argument("--hosts", action="store_true",
                        help="nodes as hosts (own namespaces, root): the crash kills a host")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="defib-bench-failover-") as tmp:
        with ResourceCluster(Path(tmp) / "c", args.nodes, hosts=args.hosts) as rc:
            rc.load(cib_xml(_resources()))
            rc.wait_running(RSC, timeout=30)
            crash = crash_rounds(rc, args.crashes)
            move = move_rounds(rc, args.moves)
    result = {
        "nodes": args.nodes,
        "nodes_as": "hosts" if args.hosts else "processes",
        "crash_to_running_elsewhere_s": {
            "median": round(statistics.median(crash), 3), "min": round(min(crash), 3),
            "max": round(max(crash), 3), "runs": [round(t, 3) for t in crash]},
        "clean_move_s": {
            "median": round(statistics.median(move), 3), "min": round(min(move), 3),
            "max": round(max(move), 3), "runs": [round(t, 3) for t in move]},
        "reference_pacemaker_s": {"crash_default": 7.9, "crash_tuned": "2.2-3.2",
                                  "move": 0.25},
    }
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        c, m = result["crash_to_running_elsewhere_s"], result["clean_move_s"]
        print(f"nodes as {result['nodes_as']}")
        print(f"crash -> running elsewhere (fencing included), {len(crash)} runs:"
              f" median {c['median']:.3f}s (min {c['min']:.3f}, max {c['max']:.3f})")
        print(f"clean move, {len(move)} runs: median {m['median']:.3f}s"
              f" (min {m['min']:.3f}, max {m['max']:.3f})")
        print("Pacemaker 2.1.5 reference: crash 7.9 s default, 2.2-3.2 s tuned; move 0.25 s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
