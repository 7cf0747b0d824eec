"""No number, date or id in a CIB crashes the scheduler or simulate; malformed objects are
reported and skipped, the rest is scheduled (as Pacemaker's unpacking does)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from defib.cib.parse import parse_cib
from defib.model.scores import INFINITY, parse_score
from defib.scheduler import schedule
from defib.simulate.engine import simulate
from defib.testing.cib_mutate import mutate, run_one

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT.parent / "shared" / "scheduler-cases" / "xml"
needs_cases = pytest.mark.skipif(not CASES.is_dir(), reason="needs ../shared/scheduler-cases")

CIB = """<cib validate-with="pacemaker-3.0" epoch="1" num_updates="0" admin_epoch="0">
<configuration><crm_config><cluster_property_set id="o">
<nvpair id="o1" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
<nodes><node id="1" uname="n1"/><node id="2" uname="n2"/></nodes>
<resources>{resources}<primitive id="web" class="ocf" provider="heartbeat" type="Dummy"/>
</resources><constraints/></configuration>
<status>{status}</status></cib>"""
ONLINE = ('<node_state id="{i}" uname="n{i}" in_ccm="true" crmd="online" join="member"'
          ' expected="member">{lrm}</node_state>')


def cib(resources: str = "", lrm: str = "") -> str:
    status = ONLINE.format(i=1, lrm=lrm) + ONLINE.format(i=2, lrm="")
    return CIB.format(resources=resources, status=status)


def starts(text: str) -> set[str]:
    transition = schedule(parse_cib(text), dt.datetime(2026, 1, 1))
    return {line.split()[2] for line in transition.summary if "Start" in line}


def test_clone_of_an_empty_group_is_reported_and_the_rest_still_scheduled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    text = cib('<clone id="c"><group id="g"/></clone><group id="g2"/>'
               '<clone id="c3"/>')
    with caplog.at_level(logging.WARNING, logger="defib.cib"):
        parsed = parse_cib(text)
    assert parsed.problems == (
        "group 'g' has no member resources: ignored",
        "group 'g2' has no member resources: ignored",
        "<clone id='c3'> has nothing to clone: ignored",
    )
    assert "CIB: group 'g' has no member resources: ignored" in caplog.text
    assert [r.id for r in parsed.resources] == ["web"]
    assert starts(text) == {"web"}


def test_dangling_id_ref_skips_the_object_not_the_cib() -> None:
    text = cib('<primitive id="db" class="ocf" provider="heartbeat" type="Dummy">'
               '<meta_attributes id-ref="nosuch"/></primitive>')
    parsed = parse_cib(text)
    assert parsed.problems == ("<meta_attributes id-ref='nosuch'> ignored: that id does not"
                               " exist",)
    assert starts(text) == {"db", "web"}


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e999", "9" * 40, "abc"])
def test_numbers_out_of_range_in_the_history_do_not_crash(value: str) -> None:
    lrm = ('<lrm id="1"><lrm_resources><lrm_resource id="web" class="ocf" provider="heartbeat"'
           ' type="Dummy"><lrm_rsc_op id="web_last_0" operation_key="web_start_0"'
           f' operation="start" call-id="{value}" rc-code="0" op-status="0" interval="0"'
           f' last-rc-change="{value}" last-run="{value}" exec-time="{value}" queue-time="{value}"'
           ' transition-key="1:1:0:x" transition-magic="0:0;1:1:0:x"/>'
           '</lrm_resource></lrm_resources></lrm>')
    sim = simulate(parse_cib(cib(lrm=lrm)), dt.datetime(2026, 1, 1))
    assert "web\t(ocf:heartbeat:Dummy):\t Started n1" in sim.text()


def test_scores_beyond_float_range_saturate() -> None:
    assert parse_score("1.5e999") == INFINITY and parse_score("-1.5e999") == -INFINITY
    assert parse_score("nan.") == 0


def test_a_huge_clone_max_is_bounded() -> None:
    text = cib('<clone id="c"><meta_attributes id="cm"><nvpair id="cm1" name="clone-max"'
               ' value="2147483648"/></meta_attributes><primitive id="p" class="ocf"'
               ' provider="heartbeat" type="Dummy"/></clone>')
    transition = schedule(parse_cib(text), dt.datetime(2026, 1, 1))
    clone = transition.working_set.by_id["c"]
    assert len(clone.instances) == 1000  # type: ignore[attr-defined]


@needs_cases
def test_simulate_on_an_overflowing_cib_prints_a_result_not_a_traceback(tmp_path: Path) -> None:
    source = (CASES / "1-a-then-bm-move-b.xml").read_text()
    path = tmp_path / "inf.xml"
    path.write_text(re.sub(r'last-rc-change="\d+"', 'last-rc-change="inf"', source))
    done = subprocess.run([sys.executable, "-m", "defib.cli.main", "simulate", "-x", str(path),
                           "-S"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Transition Summary:" in done.stdout


SMALL_CASES = sorted(p for p in CASES.glob("*.xml") if p.stat().st_size < 20_000) \
    if CASES.is_dir() else []
FUZZ_EXAMPLES = int(os.environ.get("DEFIB_CIB_FUZZ", "500"))


@needs_cases
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(case=st.sampled_from(SMALL_CASES or [Path("none")]), seed=st.integers(0, 2**32),
       count=st.integers(1, 8), execute=st.booleans())
def test_fuzz_mutated_cibs_never_crash(case: Path, seed: int, count: int,
                                       execute: bool) -> None:
    """Mutated Pacemaker cases: scheduled, or refused with a clean error; never a traceback.
    (``python -m bench.cib_fuzz`` runs 10,000 and more; DEFIB_CIB_FUZZ=N sets this one's.)"""
    xml = mutate(case.read_bytes(), random.Random(seed), count)
    logging.disable(logging.WARNING)
    try:
        outcome = run_one(xml, execute=execute)
    finally:
        logging.disable(logging.NOTSET)
    assert outcome.kind != "crash", f"{case.name} seed {seed} x{count}:\n{outcome.detail}"
