"""Saturation test: no false loss while every core is busy with other processes.

    python -m bench.saturation [--nodes 3] [--seconds 60] [--hogs N] [--nice -10] [--loss P]
                               [--dead-time S] [--controller]

Starts a local cluster (default timing), waits for the full membership, then starts
``--hogs`` (default: number of CPUs) busy-loop processes at normal priority for
``--seconds``. Every second it samples each node's view; at the end it compares each
daemon's ``views_installed`` counter with its value before the load. PASS means: no node
installed a new view, every sample showed the full membership. ``--nice 0`` runs the
daemons without their priority boost, to see what the boost buys. ``--loss 0.05`` also
drops 5 % of the packets on every link (the cluster then runs in its own network
namespace, ``defib.lab.faults``); ``--controller`` runs the controllers too (a DC and its
periodic work on the same loops).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from defib.cluster.config import Timing
from defib.cluster.testing import LocalCluster
from defib.lab.faults import busy_loops, dropped, packet_loss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--hogs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--nice", type=int, default=Timing().nice)
    parser.add_argument("--loss", type=float, default=0.0,
                        help="share of packets dropped on every link (needs root)")
    parser.add_argument("--dead-time", type=float, help="override [timing] dead_time")
    parser.add_argument("--controller", action="store_true", help="run the controllers too")
    args = parser.parse_args()
    timing = replace(Timing(), nice=args.nice)
    if args.dead_time is not None:
        timing = replace(timing, dead_time=args.dead_time)
    lost_packets = 0
    with tempfile.TemporaryDirectory(prefix="defib-sat-") as tmp:
        with LocalCluster(Path(tmp) / "sat", args.nodes, timing=timing,
                          controller=args.controller, netns=args.loss > 0) as cluster:
            cluster.start()
            cluster.wait_formed(timeout=15)
            before = {n: cluster.client(n).stats()["views_installed"] for n in cluster.names}
            views = {n: cluster.status(n)["view"] for n in cluster.names}
            with busy_loops(args.hogs), packet_loss(cluster.netns, args.loss):
                start = time.monotonic()
                bad_samples = []
                samples = 0
                while time.monotonic() - start < args.seconds:
                    time.sleep(1.0)  # the sampling period of a fixed-length load window
                    for name in cluster.names:
                        status = cluster.status(name)
                        samples += 1
                        if status["view"] != views[name] or len(status["members"]) != args.nodes:
                            bad_samples.append((round(time.monotonic() - start, 1), name,
                                                status["view"], status["members"]))
                lost_packets = dropped(cluster.netns)
            stats = {n: cluster.client(n).stats() for n in cluster.names}
            log_lost = [n for n in cluster.names if "unreachable" in cluster.log(n)]
    changed = {n: stats[n]["views_installed"] - before[n] for n in stats}
    ok = not bad_samples and not any(changed.values())
    print(f"{args.nodes} daemons at nice {args.nice}, {args.hogs} busy loops for"
          f" {args.seconds:.0f}s on {os.cpu_count()} CPUs, loss {args.loss:g}"
          f" ({lost_packets} packets dropped), dead_time {timing.dead_time}s,"
          f" controllers {'on' if args.controller else 'off'}")
    print(f"status samples: {samples}, samples with a changed membership: {len(bad_samples)}")
    for sample in bad_samples[:10]:
        print(f"  {sample}")
    print("views installed during the load: " + ", ".join(f"{n} {c}" for n, c in changed.items()))
    print("worst event-loop gap (ms): " + ", ".join(
        f"{n} {s['max_tick_gap_ms']}" for n, s in stats.items()))
    print("loop stalls forgiven: " + ", ".join(f"{n} {s['loop_stalls']}" for n, s in stats.items()))
    print("longest silence of a peer (ms): " + ", ".join(
        f"{n} {max(s['worst_silence_ms'].values())}" for n, s in stats.items()))
    print(f"nodes that logged a peer unreachable: {log_lost or 'none'}")
    print("RESULT:", "PASS (no membership change)" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
