"""Heartbeats on a live cluster while the DC schedules a big configuration.

    python -m bench.dc_loop [--resources 1000] [--changes 5]

3 local nodes; stonith off and startup probes off (so that no agent runs: what is measured
is the DC's own work), then ``--resources`` stopped Dummy resources are configured and
``--changes`` configuration changes follow, each a full scheduler run over all of them.
Reports each daemon's worst gap between two heartbeat-layer ticks (what a heartbeat waited
for), its "event loop stalled" count, the longest silence it saw from a peer (what
``dead_time`` must stay above: the keeper thread's heartbeats count), and the DC's
scheduler runs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from defib.controller.harness import ResourceCluster, cib_xml, primitive


def resources(count: int) -> str:
    return "".join(primitive(f"d{i}", "ocf", "Dummy", "heartbeat",
                             meta={"target-role": "Stopped"}, monitor="10s")
                   for i in range(count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=5)
    args = parser.parse_args()
    props = {"stonith-enabled": "false", "enable-startup-probes": "false"}
    with tempfile.TemporaryDirectory(prefix="defib-dc-loop-") as tmp:
        with ResourceCluster(Path(tmp) / "c", 3) as rc:
            before = {n: rc.cluster.client(n).stats() for n in rc.names}
            dc = str(rc.dc_status()["node"])
            runs0 = int(rc.dc_status()["scheduler_runs"])
            t0 = time.monotonic()
            rc.load(cib_xml(resources(args.resources), properties=props))
            for i in range(args.changes):
                rc.wait("a scheduler run", lambda i=i: int(rc.dc_status()["scheduler_runs"])
                        > runs0 + i, timeout=300)
                rc.replace_section("constraints", f'<constraints><rsc_location id="l{i}"'
                                   f' rsc="d{i}" node="{dc}" score="{i + 1}"/></constraints>')
            rc.wait("the last run", lambda: int(rc.dc_status()["scheduler_runs"])
                    >= runs0 + args.changes + 1, timeout=300)
            took = time.monotonic() - t0
            after = {n: rc.cluster.client(n).stats() for n in rc.names}
            runs = int(rc.dc_status()["scheduler_runs"]) - runs0
            views = {n: after[n]["views_installed"] - before[n]["views_installed"]
                     for n in rc.names}
    print(f"{args.resources} resources, {runs} scheduler runs on the DC ({dc}) in {took:.1f}s")
    for name in sorted(after):
        print(f"  {name}{' (DC)' if name == dc else ''}: worst tick gap"
              f" {after[name]['max_tick_gap_ms']} ms, loop stalls"
              f" {after[name]['loop_stalls'] - before[name]['loop_stalls']},"
              f" views installed {views[name]}, longest silence per peer"
              f" {after[name]['worst_silence_ms']} ms")


if __name__ == "__main__":
    main()
