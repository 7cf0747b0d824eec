"""Failure-detection benchmark of the built-in heartbeat layer, on real local daemons.

    python -m bench.detection [--nodes 3] [--runs 7] [--idle 20] [--links 2] [--freeze | --cut]
                              [--victim last|first] [--hogs N] [--loss P] [--dead-time S]

1. Detection: kill -9 the highest node, then poll every surviving node's control socket
   (5 ms) until it has installed a view without the victim, and until all survivors agree
   on one view. Restart the victim, wait for the full membership, repeat. Reports median,
   min and max over the runs.
2. Idle CPU: with the full membership formed and nothing else happening, utime+stime of
   each daemon from /proc/PID/stat over ``--idle`` seconds, as % of one core.

``--freeze`` uses SIGSTOP instead of kill -9: the process keeps its sockets, so nothing
refuses packets and only the silence rule (``dead_time``) can declare it; SIGCONT then
lets it rejoin. This is what a hung process, a dead host or a cut network costs.
``--cut`` cuts the victim off the network instead (every link, both ways; the cluster runs
in its own network namespace), then heals. ``--victim first`` picks node1, the coordinator
(and DC), whose loss also moves the coordination. ``--hogs N`` keeps N busy loops running
and ``--loss P`` drops that share of every packet (``defib.lab.faults``) during the runs.

Default timing (heartbeat 0.1 s, suspect 0.25 s, dead 2.0 s). Reference: Corosync 3.1.7
declares a crashed node after 3.65 s by default (token 3000) on these machines.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import tempfile
import time
from pathlib import Path

from defib.cluster.config import Timing
from defib.cluster.testing import LocalCluster
from defib.lab.faults import busy_loops, cut_off, dropped, heal_cut, packet_loss

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def detection_runs(cluster: LocalCluster, runs: int, fault: str = "kill",
                   victim: str | None = None) -> tuple[list[float], list[float]]:
    victim = victim or cluster.names[-1]
    survivors = [n for n in cluster.names if n != victim]
    detected: list[float] = []
    agreed: list[float] = []
    for _ in range(runs):
        cluster.wait_formed(timeout=15)
        time.sleep(0.5)  # a settled membership: heartbeats flowing for a while
        if fault == "freeze":
            pid = cluster.daemon_pid(victim)  # on hosts, pid() is the power supply
            os.kill(pid, signal.SIGSTOP)
            killed = time.monotonic()
        elif fault == "cut":
            killed = time.monotonic()
            assert cluster.netns is not None
            cut_off(cluster.netns, [cluster.address(victim, link)
                                    for link in range(cluster.cfg.link_count)])
        else:
            killed = cluster.kill(victim)
        pending = set(survivors)
        first = None
        while pending:
            for name in list(pending):
                status = cluster.status(name)
                if status["view"] and cluster.cfg.node_by_name(victim).id not in status["members"]:
                    first = first or time.monotonic() - killed
                    pending.discard(name)
            time.sleep(0.005)
        agreed.append(time.monotonic() - killed)
        cluster.wait_formed(survivors, timeout=10)
        detected.append(first or 0.0)
        if fault == "freeze":
            os.kill(pid, signal.SIGCONT)
        elif fault == "cut":
            assert cluster.netns is not None
            heal_cut(cluster.netns)
        else:
            cluster.start([victim])
    return detected, agreed


def idle_cpu(cluster: LocalCluster, seconds: float) -> dict[str, float]:
    cluster.wait_formed(timeout=15)
    time.sleep(1.0)
    pids = {n: cluster.daemon_pid(n) for n in cluster.names}
    before = {n: cpu_seconds(p) for n, p in pids.items()}
    start = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - start
    return {n: 100.0 * (cpu_seconds(p) - before[n]) / elapsed for n, p in pids.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of idle CPU sampling")
    parser.add_argument("--links", type=int, default=2)
    fault = parser.add_mutually_exclusive_group()
    fault.add_argument("--freeze", action="store_true", help="SIGSTOP instead of kill -9")
    fault.add_argument("--cut", action="store_true", help="cut the victim off every link")
    parser.add_argument("--victim", choices=("last", "first"), default="last")
    parser.add_argument("--hogs", type=int, default=0, help="busy loops during the runs")
    parser.add_argument("--loss", type=float, default=0.0,
                        help="share of packets dropped on every link (needs root)")
    parser.add_argument("--dead-time", type=float, help="override [timing] dead_time")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    kind = "freeze" if args.freeze else "cut" if args.cut else "kill"
    timing = Timing() if args.dead_time is None else Timing(dead_time=args.dead_time)
    with tempfile.TemporaryDirectory(prefix="defib-bench-") as tmp:
        with LocalCluster(Path(tmp) / "bench", args.nodes, links=args.links, timing=timing,
                          controller=False, netns=args.cut or args.loss > 0) as cluster:
            cluster.start()
            victim = cluster.names[0 if args.victim == "first" else -1]
            with busy_loops(args.hogs), packet_loss(cluster.netns, args.loss):
                detected, agreed = detection_runs(cluster, args.runs, kind, victim)
                lost_packets = dropped(cluster.netns)
            cpu = idle_cpu(cluster, args.idle)
            timing = cluster.cfg.timing
    result = {
        "nodes": args.nodes,
        "fault": {"freeze": "SIGSTOP", "cut": "network cut", "kill": "SIGKILL"}[kind],
        "victim": victim, "hogs": args.hogs, "loss": args.loss,
        "packets_dropped": lost_packets,
        "links": args.links,
        "timing": {"heartbeat_interval": timing.heartbeat_interval,
                   "suspect_time": timing.suspect_time, "dead_time": timing.dead_time},
        "detection_s": [round(x, 3) for x in detected],
        "agreement_s": [round(x, 3) for x in agreed],
        "median_detection_s": round(statistics.median(detected), 3),
        "median_agreement_s": round(statistics.median(agreed), 3),
        "idle_cpu_percent_of_core": {n: round(v, 2) for n, v in cpu.items()},
        "idle_seconds": args.idle,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{args.nodes} nodes, {args.links} link(s), heartbeat {timing.heartbeat_interval}s,"
          f" suspect {timing.suspect_time}s, dead {timing.dead_time}s; victim {victim},"
          f" {args.hogs} busy loops, loss {args.loss:g} ({lost_packets} packets dropped)")
    how = result["fault"]
    print(f"{how} detection (first survivor's new view), {args.runs} runs:"
          f" median {result['median_detection_s']:.3f}s"
          f" (min {min(detected):.3f}, max {max(detected):.3f})")
    print(f"all survivors agreed on one view: median {result['median_agreement_s']:.3f}s"
          f" (min {min(agreed):.3f}, max {max(agreed):.3f})")
    cpu_text = ", ".join(f"{n} {v:.2f}%" for n, v in cpu.items())
    print(f"idle CPU over {args.idle:.0f}s (% of one core): {cpu_text};"
          f" mean {statistics.mean(cpu.values()):.2f}%")
    print("reference: Corosync 3.1.7 default declares a crashed node after 3.65s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
