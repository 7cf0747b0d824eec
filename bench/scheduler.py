"""Scheduler benchmark: ``defib simulate -x F -G out.xml`` against ``crm_simulate -x F -G out.xml``.

    python -m bench.scheduler [--sizes 16x1000,32x4000] [--skip-reference] [--timeout 900]

For each size NODESxPRIMITIVES a CIB is generated (``defib.testing.gen_cib.bench_spec``:
random location, colocation and order constraints, about half the primitives already
running, a few failed), then each scheduler is run once as a child process.  Wall time is
measured around the child; peak RSS comes from the child's own rusage (``os.wait4``), so
neither includes the generator.  A reference run that exceeds the timeout is killed and
reported as "> timeout".  See docs/benchmarks.md for the figures measured.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_SIZES = "16x250,16x500,16x1000,32x1000,32x2000,32x4000"
DEFIB_CMD = (sys.executable, "-m", "defib.cli.main", "simulate")
REFERENCE_CMD = ("crm_simulate",)


@dataclass(frozen=True)
class RunResult:
    """One child run: what it cost and what it produced."""

    wall_s: float
    cpu_s: float  # user + system time of the child: steadier than wall on a shared machine
    rss_mb: float
    returncode: int
    timed_out: bool
    actions: int | None  # synapses in the written graph; None when no graph was written
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


@dataclass(frozen=True)
class SizeResult:
    nodes: int
    resources: int
    cib_mb: float
    defib: RunResult | None
    reference: RunResult | None


def parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for part in text.split(","):
        nodes, _, resources = part.strip().lower().partition("x")
        if not nodes.isdigit() or not resources.isdigit():
            raise argparse.ArgumentTypeError(f"size {part!r} is not NODESxPRIMITIVES")
        sizes.append((int(nodes), int(resources)))
    return sizes


def count_synapses(graph: Path) -> int | None:
    if not graph.exists():
        return None
    with graph.open("rb") as fh:
        return sum(chunk.count(b"<synapse ") for chunk in iter(lambda: fh.read(1 << 20), b""))


def run_child(argv: Sequence[str], graph: Path, timeout_s: float | None) -> RunResult:
    """Run ``argv`` to completion (or kill it at the timeout) and measure it.

    ``os.wait4`` reaps the child itself so that its rusage, and hence its own peak RSS,
    is what is reported; the timer thread only ever signals this child's pid.
    """
    graph.unlink(missing_ok=True)
    with tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        fired = threading.Event()

        def kill() -> None:
            fired.set()
            os.kill(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout_s, kill) if timeout_s else None
        if timer:
            timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            if timer:
                timer.cancel()
        wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read()[-400:].decode(errors="replace").strip()
    return RunResult(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        rss_mb=usage.ru_maxrss / 1024.0,  # Linux reports KiB
        returncode=proc.returncode,
        timed_out=fired.is_set(),
        actions=count_synapses(graph) if not fired.is_set() else None,
        error="" if proc.returncode == 0 else tail,
    )


def write_cib(path: Path, seed: int, nodes: int, resources: int) -> None:
    """Generate in a child process: a fork carries the parent's RSS high-water mark into
    the child's ``ru_maxrss``, so this process must stay small for the figures to hold."""
    with path.open("w") as out:
        subprocess.run(
            [sys.executable, "-m", "defib.testing.gen_cib", "--profile", "bench", "--seed",
             str(seed), "--nodes", str(nodes), "--resources", str(resources)],
            stdout=out, check=True,
        )


def defib_missing() -> str | None:
    res = subprocess.run([*DEFIB_CMD, "--help"], capture_output=True, text=True, timeout=60)
    return None if res.returncode == 0 else "`defib simulate` is not available yet"


def bench_size(
    nodes: int,
    resources: int,
    workdir: Path,
    *,
    seed: int,
    run_defib: bool,
    run_reference: bool,
    timeout_s: float,
) -> SizeResult:
    cib = workdir / f"cib-{nodes}x{resources}.xml"
    write_cib(cib, seed, nodes, resources)
    cib_mb = cib.stat().st_size / 1e6
    defib = ref = None
    if run_defib:
        graph = workdir / f"defib-{nodes}x{resources}.graph.xml"
        defib = run_child([*DEFIB_CMD, "-x", str(cib), "-G", str(graph)], graph, timeout_s)
    if run_reference:
        graph = workdir / f"ref-{nodes}x{resources}.graph.xml"
        ref = run_child([*REFERENCE_CMD, "-x", str(cib), "-G", str(graph)], graph, timeout_s)
    return SizeResult(nodes, resources, cib_mb, defib, ref)


def _cell(r: RunResult | None, timeout_s: float) -> tuple[str, str, str, str]:
    if r is None:
        return "-", "-", "-", "-"
    if r.timed_out:
        # Peak RSS so far: the run was killed, so it would have needed at least this much.
        return f"> {timeout_s:g}", f"{r.cpu_s:.1f}", f">= {r.rss_mb:.0f}", "-"
    if r.returncode != 0:
        return f"rc={r.returncode}", f"{r.cpu_s:.2f}", f"{r.rss_mb:.0f}", "-"
    return f"{r.wall_s:.2f}", f"{r.cpu_s:.2f}", f"{r.rss_mb:.0f}", str(r.actions)


def _ratio(
    ref: RunResult | None, ours: RunResult | None, timeout_s: float
) -> tuple[str, str, str]:
    if ref is None or ours is None or not ours.ok:
        return "-", "-", "-"
    if ref.timed_out:
        # Lower bounds: the reference was killed before it finished.
        return (f"> {timeout_s / ours.wall_s:.1f}x", f"> {ref.cpu_s / ours.cpu_s:.1f}x",
                f"> {ref.rss_mb / ours.rss_mb:.1f}x")
    if not ref.ok:
        return "-", "-", "-"
    return (f"{ref.wall_s / ours.wall_s:.1f}x", f"{ref.cpu_s / ours.cpu_s:.1f}x",
            f"{ref.rss_mb / ours.rss_mb:.1f}x")


def format_table(results: Sequence[SizeResult], timeout_s: float) -> str:
    head = ("size", "CIB MB", "defib s", "defib cpu", "defib MB", "defib actions",
            "ref s", "ref cpu", "ref MB", "ref actions", "speed-up", "cpu ratio", "mem ratio")
    rows = [head]
    for r in results:
        d, f = _cell(r.defib, timeout_s), _cell(r.reference, timeout_s)
        rows.append((f"{r.nodes}x{r.resources}", f"{r.cib_mb:.1f}", *d, *f,
                     *_ratio(r.reference, r.defib, timeout_s)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def growth(results: Sequence[SizeResult], pick: str) -> list[str]:
    """Exponent k in time ~ resources**k between successive sizes with the same node count
    (1.0 is linear), for wall and CPU time; both runs must have finished."""
    out = []
    for a, b in zip(results, results[1:], strict=False):
        ra, rb = getattr(a, pick), getattr(b, pick)
        if a.nodes != b.nodes or ra is None or rb is None or not (ra.ok and rb.ok):
            continue
        if b.resources == a.resources or ra.cpu_s <= 0:
            continue
        scale = math.log(b.resources / a.resources)
        k_wall = math.log(rb.wall_s / ra.wall_s) / scale
        k_cpu = math.log(rb.cpu_s / ra.cpu_s) / scale
        out.append(f"{pick} {a.nodes}x{a.resources} -> {b.nodes}x{b.resources}: "
                   f"x{b.resources / a.resources:.1f} resources, wall x{rb.wall_s / ra.wall_s:.2f} "
                   f"(exponent {k_wall:.2f}), cpu x{rb.cpu_s / ra.cpu_s:.2f} "
                   f"(exponent {k_cpu:.2f})")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.scheduler", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=parse_sizes, default=parse_sizes(DEFAULT_SIZES),
                    help=f"comma-separated NODESxPRIMITIVES (default {DEFAULT_SIZES})")
    ap.add_argument("--skip-reference", action="store_true", help="do not run crm_simulate")
    ap.add_argument("--skip-defib", action="store_true", help="only run the reference")
    ap.add_argument("--timeout", type=float, default=900.0,
                    help="seconds before a run is killed (default 900)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="keep the CIBs and graphs in this directory")
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = ap.parse_args(argv)

    run_reference = not args.skip_reference
    if run_reference and shutil.which(REFERENCE_CMD[0]) is None:
        print("crm_simulate not found: reference skipped", file=sys.stderr)
        run_reference = False
    run_defib = not args.skip_defib
    if run_defib and (why := defib_missing()):
        print(f"{why}: defib skipped", file=sys.stderr)
        run_defib = False

    results: list[SizeResult] = []
    with tempfile.TemporaryDirectory(prefix="defib-bench-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for nodes, resources in args.sizes:
            r = bench_size(nodes, resources, workdir, seed=args.seed, run_defib=run_defib,
                           run_reference=run_reference, timeout_s=args.timeout)
            results.append(r)
            for name, run in (("defib", r.defib), ("crm_simulate", r.reference)):
                if run is not None and run.error:
                    print(f"{nodes}x{resources} {name}: {run.error}", file=sys.stderr)
            row = format_table(results[-1:], args.timeout).splitlines()[-1].strip()
            print(f"measured: {row}", flush=True)
    print()
    print(format_table(results, args.timeout))
    for line in growth(results, "defib") + growth(results, "reference"):
        print(line)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    failed = any(r.defib is not None and not r.defib.ok for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
