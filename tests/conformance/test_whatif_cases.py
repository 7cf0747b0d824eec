"""``defib simulate``'s what-if options against ``crm_simulate`` on reference cases.

A sample of the cases whose plain output already matches crm_simulate's (the full-output
list), each with the injections that fit it (see ``defib.simulate.whatif_compare``): the
whole output is compared. Where the outputs differ it is the scheduler deciding otherwise on
the new state (printed), so the test holds the match rate to a floor and requires every kind
of injection to match on most cases. ``make bench-whatif`` runs all the cases.
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from defib.simulate.whatif_compare import case_jobs, compare, rates, report

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / ".." / "shared" / "scheduler-cases"
LISTS = Path(__file__).with_name("scheduler_passing.json")
SAMPLE_STEP = 15  # every 15th case of the list: about 26 cases, 180 comparisons
FLOOR = 85.0  # percent of comparisons that match (measured 90 %: see the test output)
KIND_FLOOR = 40.0  # each kind (lowest: injected monitor failures and combinations, 50 %)


@pytest.mark.skipif(shutil.which("crm_simulate") is None,
                    reason="reference crm_simulate not installed (pacemaker-cli-utils)")
def test_what_if_options_match_crm_simulate_on_cases() -> None:
    if not (CASES / "cases.tsv").is_file():
        pytest.skip(f"scheduler reference cases not found at {CASES.resolve()}")
    names = sorted(json.loads(LISTS.read_text(encoding="utf-8"))["full_output"])[::SAMPLE_STEP]
    jobs = case_jobs(CASES, names)
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(lambda job: compare(*job), jobs))
    print(f"\nwhat-if vs crm_simulate on {len(names)} cases:\n{report(outcomes)}")
    assert len(outcomes) > 100
    matched = 100 * sum(o.ok for o in outcomes) / len(outcomes)
    assert matched >= FLOOR, f"only {matched:.1f} % of what-if runs match crm_simulate"
    expected_kinds = {"node-fail", "node-down", "node-up", "quorum", "watchdog", "ticket-grant",
                      "ticket-revoke", "ticket-standby", "ticket-activate", "op-inject",
                      "op-fail-start", "op-fail-stop"}
    by_kind = rates(outcomes)
    assert expected_kinds <= set(by_kind), f"not exercised: {expected_kinds - set(by_kind)}"
    for kind, (ok, total) in by_kind.items():
        assert 100 * ok / total >= KIND_FLOOR, f"{kind}: only {ok}/{total} match"
