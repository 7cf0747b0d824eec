"""Failover of a resource when its host fails silently, beside a crash that speaks.

    python -m bench.silent_failover [--rounds 7] [--kinds power,freeze,isolate,daemon]
    python -m bench.silent_failover --soak 10 [--loss 0.05] [--hogs 2]

Nodes are hosts (root). Each round picks the host running ``r1`` (a Recorder in the lab's
configuration, fencing on), injects the fault and measures until ``r1`` runs on another
host (fencing included: the survivors must fence the silent host first). Kinds:

* ``daemon``: kill -9 of the cluster daemon alone; its host still answers (port
  unreachable), so the peers learn at once; the host, resources running, is fenced;
* ``power``: a power cut (the host's links go down first, then its PID namespace);
* ``freeze``: SIGSTOP of every process of the host (a hung machine): only silence tells;
* ``isolate``: every packet to and from the host dropped (iptables inside the hosts).

``--soak M`` instead runs M minutes with ``--hogs`` busy loops on the machine and random
loss of ``--loss`` on every host's input, and counts false losses: views that lost a
member, and fencing.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from defib.cluster import hosts
from defib.controller.observe import resource_locations
from defib.lab.audit import Auditor
from defib.lab.cluster import LabCluster

KINDS = ("daemon", "power", "freeze", "isolate")


def home_of(lab: LabCluster, rsc: str) -> str:
    where = resource_locations(lab.rc.cib()).get(rsc, [])
    if len(where) != 1:
        raise RuntimeError(f"{rsc} runs on {where}")
    return where[0]


def one_round(lab: LabCluster, kind: str) -> float:
    home = home_of(lab, "r1")
    t0 = time.monotonic()
    if kind == "daemon":
        lab.crash_daemon(home)
    elif kind == "power":
        lab.power_off(home)
    elif kind == "freeze":
        lab.fault.freeze(home)
    else:
        lab.fault.isolate(home)
    lab.rc.down.add(home)
    _, took = lab.rc.wait_running("r1", not_on={home}, timeout=60, poll=0.01)
    took = time.monotonic() - t0
    lab.wait_fenced(home, timeout=60)
    lab.fault.heal()
    lab.bring_back()
    return took


def failovers(rounds: int, kinds: list[str], nodes: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory(prefix="defib-silent-") as tmp:
        with LabCluster(Path(tmp) / "c", nodes) as lab:
            auditor = Auditor(lab)
            problems = auditor.audit(settle_timeout=120)
            for i in range(rounds):
                for kind in kinds:
                    times[kind].append(round(one_round(lab, kind), 3))
                    problems += auditor.audit()
                    print(f"{kind} round {i}: {times[kind][-1]:.3f}s", file=sys.stderr)
            if problems:
                raise RuntimeError(f"audit violations: {problems}")
    return times


VIEW_LOST = re.compile(r"view \S+: members \[.*\] \(joined \[.*\], left \[(\d.*?)\]\)")


def soak(minutes: float, loss: float, hogs: int, nodes: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="defib-soak-") as tmp:
        with LabCluster(Path(tmp) / "c", nodes) as lab:
            Auditor(lab).audit(settle_timeout=120)
            before = {n: len(VIEW_LOST.findall(lab.rc.log(n))) for n in lab.names}
            for node in lab.names:
                lab.fault.loss(node, loss)
            seconds = minutes * 60
            # Bounded busy loops: they stop by themselves even if we die.
            loops = [subprocess.Popen(["timeout", str(int(seconds) + 5), "sh", "-c",
                                       "while :; do :; done"]) for _ in range(hogs)]
            try:
                time.sleep(seconds)
            finally:
                for p in loops:
                    p.kill()
                    p.wait()
                lab.fault.heal()
            losses = {n: len(VIEW_LOST.findall(lab.rc.log(n))) - before[n] for n in lab.names}
            fenced = {n: len(lab.deaths()[n]) for n in lab.names}
            return {"minutes": minutes, "loss": loss, "hogs": hogs,
                    "views_that_lost_a_member": losses, "hosts_fenced": fenced}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--soak", type=float, metavar="MINUTES")
    parser.add_argument("--loss", type=float, default=0.05)
    parser.add_argument("--hogs", type=int, default=2)
    args = parser.parse_args()
    reason = hosts.unavailable_reason()
    if reason is not None:
        print(f"nodes cannot run as hosts here: {reason}", file=sys.stderr)
        return 2
    if args.soak is not None:
        print(json.dumps(soak(args.soak, args.loss, args.hogs, args.nodes), indent=1))
        return 0
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        parser.error(f"unknown kinds {unknown}; choose from {', '.join(KINDS)}")
    times = failovers(args.rounds, kinds, args.nodes)
    for kind, values in times.items():
        print(f"{kind:<8} median {statistics.median(values):.3f}s  min {min(values):.3f}s"
              f"  max {max(values):.3f}s  ({len(values)} rounds)")
    print(json.dumps(times))
    return 0


if __name__ == "__main__":
    sys.exit(main())
