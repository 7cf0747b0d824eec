"""Differential test: defib's scheduler against the reference ``crm_simulate`` on random CIBs.

Each seed gives a small generated cluster (2-6 nodes, 2-15 primitives, groups, clones,
constraints, failures, lost nodes; see ``defib.testing.gen_cib.small_spec``).  Both
schedulers run ``simulate -x FILE -S``; a seed matches when the ``Transition Summary:``
line sets are equal (runs of white space collapsed).  A mismatch does not fail the build;
the match rate dropping below the floor kept in ``differential_floor.txt`` does.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from defib.simulate.conformance import summary_set
from defib.testing.gen_cib import generate_cib, small_spec

SEEDS = range(40)
FLOOR_FILE = Path(__file__).with_name("differential_floor.txt")
TIMEOUT_S = 120
DEFIB = [sys.executable, "-m", "defib.cli.main"]


def read_floor() -> float:
    """The floor in percent: the first line of the file that is not a comment."""
    for line in FLOOR_FILE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return float(line)
    raise AssertionError(f"{FLOOR_FILE} holds no floor")


def _defib_simulate_missing() -> str | None:
    res = subprocess.run([*DEFIB, "simulate", "--help"], capture_output=True, text=True,
                         timeout=60)
    if res.returncode != 0:
        return "`defib simulate` does not exist yet: " + (res.stderr.strip().splitlines()
                                                          or ["no output"])[-1]
    return None


def _run(cmd: list[str]) -> tuple[int, str, str]:
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return -1, "", f"timed out after {TIMEOUT_S} s"
    return res.returncode, res.stdout, res.stderr


def _compare(seed: int, workdir: Path) -> tuple[int, str | None]:
    """(seed, None) when the decisions match, else (seed, an explanation)."""
    path = workdir / f"seed{seed}.xml"
    path.write_text(generate_cib(seed, small_spec(seed)))
    rc_ref, out_ref, err_ref = _run(["crm_simulate", "-x", str(path), "-S"])
    if rc_ref != 0:
        pytest.fail(f"the reference failed on seed {seed}: {err_ref[-500:]}")
    rc, out, err = _run([*DEFIB, "simulate", "-x", str(path), "-S"])
    if rc != 0:
        return seed, f"defib simulate exited {rc}: {err.strip()[-300:]}"
    want, got = summary_set(out_ref), summary_set(out)
    if want == got:
        return seed, None
    lines = [f"  missing: {ln}" for ln in sorted(want - got)]
    lines += [f"  extra:   {ln}" for ln in sorted(got - want)]
    return seed, "\n".join(lines)


@pytest.mark.skipif(shutil.which("crm_simulate") is None,
                    reason="reference crm_simulate not installed (pacemaker-cli-utils)")
def test_decisions_match_reference_on_random_cibs(tmp_path: Path) -> None:
    missing = _defib_simulate_missing()
    if missing:
        pytest.skip(missing)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda s: _compare(s, tmp_path), SEEDS))
    mismatches = [(seed, why) for seed, why in results if why is not None]
    rate = 100.0 * (len(results) - len(mismatches)) / len(results)
    floor = read_floor()
    print(f"\ndifferential: {len(results) - len(mismatches)}/{len(results)} seeds match "
          f"({rate:.1f}%), floor {floor:.1f}%")
    for seed, why in mismatches:
        print(f"seed {seed} differs; reproduce with: "
              f"python -m defib.testing.gen_cib --seed {seed} --profile small > x.xml\n{why}")
    assert rate >= floor, f"differential match rate {rate:.1f}% fell below the floor {floor:.1f}%"


def test_summary_parser_reads_a_reference_output() -> None:
    out = (
        "Current cluster status:\n  * Node List:\n    * Online: [ n1 ]\n\n"
        "Transition Summary:\n  * Start      rsc1     ( n1 )\n"
        "  * Stop       rsc2     ( n1 )  due to node availability\n\n"
        "Executing Cluster Transition:\n  * Resource action: rsc1 start on n1\n"
    )
    assert summary_set(out) == {
        "* Start rsc1 ( n1 )",
        "* Stop rsc2 ( n1 ) due to node availability",
    }
