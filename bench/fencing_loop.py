"""Fencing that cannot succeed: how often does the DC run the scheduler?

3 local nodes, stonith-enabled=true and no fence device, one node running a resource is
killed. Reports, over a window of N seconds after the crash, the scheduler runs of the DC
(its "transition"/"idle" log lines), the pe-input files written and the DC's CPU share.

    python -m bench.fencing_loop [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from pathlib import Path

from defib.controller.harness import ResourceCluster, cib_xml, fence_device, primitive

RUN_LINE = re.compile(r"\] (transition \d+: \d+ actions|idle \(nothing to do)")


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])


def scheduler_runs(log_text: str) -> int:
    return len(RUN_LINE.findall(log_text))


def measure(seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="defib-fence-loop-") as tmp:
        with ResourceCluster(Path(tmp) / "c", 3) as rc:
            dummy = primitive("dummy", "ocf", "Dummy", "heartbeat", monitor="10s")
            # Started with a device (nothing starts without one), which is then removed.
            rc.load(cib_xml(fence_device() + dummy))
            where, _ = rc.wait_running("dummy", timeout=60)
            rc.replace_section("resources", f"<resources>{dummy}</resources>")
            dc = str(rc.dc_status()["node"])
            victim = where if where != dc else next(n for n in rc.names if n != dc)
            rc.crash(victim)
            rc.wait("the DC sees the node lost",
                    lambda: "is lost" in rc.log(dc), timeout=30)
            pid = rc.cluster.daemon_pid(dc)
            pengine = rc.dir / dc / "pengine"
            runs0, files0 = scheduler_runs(rc.log(dc)), len(list(pengine.glob("pe-input-*")))
            cpu0, t0 = cpu_ticks(pid), time.monotonic()
            time.sleep(seconds)
            elapsed = time.monotonic() - t0
            cpu = (cpu_ticks(pid) - cpu0) / os.sysconf("SC_CLK_TCK") / elapsed
            status = rc.dc_status()
            return {"window_s": elapsed, "scheduler_runs": scheduler_runs(rc.log(dc)) - runs0,
                    "pe_inputs_written": len(list(pengine.glob("pe-input-*"))) - files0,
                    "dc_cpu_pct": 100 * cpu, "fencing": str(status.get("fencing",
                                                                  status.get("fence_failures")))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    for key, value in measure(args.seconds).items():
        print(f"{key}: {value:.1f}" if isinstance(value, float) else f"{key}: {value}")


if __name__ == "__main__":
    main()
