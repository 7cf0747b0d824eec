"""The random CIB generator: deterministic, well-formed, sized as asked, acyclic orderings,
and (where Pacemaker's tools are installed) accepted by the reference as a sane cluster."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from defib.testing.gen_cib import GenSpec, bench_spec, generate_cib, op_digest, small_spec

SEEDS = range(12)


def _parse(seed: int, spec: GenSpec) -> ET.Element:
    return ET.fromstring(generate_cib(seed, spec))


def test_same_seed_same_text_and_seeds_differ() -> None:
    spec = small_spec(3)
    assert generate_cib(3, spec) == generate_cib(3, spec)
    texts = {generate_cib(s, small_spec(s)) for s in SEEDS}
    assert len(texts) == len(SEEDS)


def test_digests_are_pacemakers() -> None:
    # Values recorded by Pacemaker itself for a parameterless Dummy: the start/probe digest
    # and the digest of a recurring monitor with the default 20 s timeout.
    assert op_digest((), 0, 20000) == "f2317cad3d54cec5d7d7aa7d0bf35cf8"
    assert op_digest((), 60000, 20000) == "4811cef7f7f94e3a35a70be7916cb2fd"
    assert op_digest((("fake", "v1"),), 0, 20000) != op_digest((), 0, 20000)


@pytest.mark.parametrize("seed", SEEDS)
def test_sizes_ids_and_references(seed: int) -> None:
    spec = small_spec(seed)
    root = _parse(seed, spec)
    assert root.get("validate-with") == "pacemaker-3.7"
    nodes = [n.get("uname") for n in root.iter("node")]
    assert len(nodes) == spec.nodes
    prims = [p.get("id") for p in root.find("configuration/resources").iter("primitive")]
    assert len([p for p in prims if p != "fencing"]) == spec.resources
    config = root.find("configuration")
    ids = [e.get("id") for e in config.iter() if e.get("id") is not None and e.tag != "node"]
    assert len(ids) == len(set(ids)), "duplicate ids in the configuration"
    top_ids = {e.get("id") for e in root.find("configuration/resources")}
    for c in root.find("configuration/constraints"):
        for attr in ("rsc", "with-rsc", "first", "then"):
            if c.get(attr) is not None:
                assert c.get(attr) in top_ids
        if c.get("node") is not None:
            assert c.get("node") in nodes
    # Every recorded operation is on a configured node, with a consistent key.
    for ns in root.iter("node_state"):
        assert ns.get("uname") in nodes
        for op in ns.iter("lrm_rsc_op"):
            assert op.get("operation_key").endswith(f"_{op.get('interval')}")
            assert op.get("transition-magic").endswith(op.get("transition-key"))


@pytest.mark.parametrize("seed", SEEDS)
def test_orderings_and_colocations_are_acyclic(seed: int) -> None:
    root = _parse(seed, GenSpec(nodes=3, resources=30, colocations=25, orders=25))
    for tag, a, b in (("rsc_order", "first", "then"), ("rsc_colocation", "with-rsc", "rsc")):
        edges: dict[str, set[str]] = {}
        for c in root.iter(tag):
            edges.setdefault(c.get(a), set()).add(c.get(b))
        assert edges, f"no {tag} generated"
        assert _acyclic(edges), f"cycle in {tag}"


def _acyclic(edges: dict[str, set[str]]) -> bool:
    """Kahn's algorithm: every vertex can be removed in topological order."""
    indeg: dict[str, int] = {}
    for a, bs in edges.items():
        indeg.setdefault(a, 0)
        for b in bs:
            indeg[b] = indeg.get(b, 0) + 1
    ready = [v for v, d in indeg.items() if d == 0]
    removed = 0
    while ready:
        v = ready.pop()
        removed += 1
        for b in edges.get(v, ()):
            indeg[b] -= 1
            if indeg[b] == 0:
                ready.append(b)
    return removed == len(indeg)


def test_bench_shape() -> None:
    spec = bench_spec(4, 200)
    root = _parse(1, spec)
    assert len(list(root.iter("rsc_location"))) == 100
    assert not list(root.iter("group")) and not list(root.iter("clone"))
    history = {r.get("id") for r in root.iter("lrm_resource")}
    running = {op.get("operation_key") for op in root.iter("lrm_rsc_op")
               if op.get("operation") == "start"}
    assert 25 < len(history) < 75  # about a quarter has been probed
    assert 10 < len(running) < 50  # about 15 % runs


def test_cli_prints_the_same_cib() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "defib.testing.gen_cib", "--seed", "5", "--profile", "small"],
        check=True, capture_output=True, text=True,
    ).stdout
    assert out == generate_cib(5, small_spec(5))


needs_pacemaker = pytest.mark.skipif(
    shutil.which("crm_verify") is None or shutil.which("crm_simulate") is None,
    reason="Pacemaker's crm_verify/crm_simulate are not installed (pacemaker-cli-utils)",
)


@needs_pacemaker
def test_reference_accepts_generated_cibs(tmp_path: Path) -> None:
    for seed in SEEDS:
        path = tmp_path / f"{seed}.xml"
        path.write_text(generate_cib(seed, small_spec(seed)))
        res = subprocess.run(["crm_verify", "-V", "-x", str(path)], capture_output=True,
                             text=True, timeout=60)
        # Warnings are expected (failed operations, orphans, banned clone instances still
        # running); schema errors and an invalid configuration are not.
        assert "validity error" not in res.stderr, f"seed {seed}: {res.stderr}"
        assert "Errors found" not in res.stderr, f"seed {seed}: {res.stderr}"
        sim = subprocess.run(["crm_simulate", "-x", str(path), "-S"], capture_output=True,
                             text=True, timeout=60)
        assert sim.returncode == 0, f"seed {seed}: {sim.stderr}"
        assert "Transition Summary:" in sim.stdout


@needs_pacemaker
def test_healthy_history_needs_no_restart(tmp_path: Path) -> None:
    """Digests and operation records are right: a healthy cluster where everything runs
    is at most rebalanced by the reference, never restarted, recovered or stopped."""
    spec = GenSpec(nodes=3, resources=12, locations=0, colocations=0, orders=0,
                   running_rate=1.0, new_rate=0.0, failure_rate=0.0, node_trouble_rate=0.0,
                   orphan_rate=0.0, meta_rate=0.0, stonith=True, cluster_options=False)
    for seed in range(4):
        path = tmp_path / f"{seed}.xml"
        path.write_text(generate_cib(seed, spec))
        out = subprocess.run(["crm_simulate", "-x", str(path), "-S"], capture_output=True,
                             text=True, timeout=60, check=True).stdout
        summary = out.split("Transition Summary:")[1].split("Executing")[0]
        actions = {m.group(1) for m in re.finditer(r"^\s+\* (\w+)", summary, re.M)}
        assert actions <= {"Move", "Start"}, f"seed {seed}: {summary}"
        assert "Started" in out and "FAILED" not in out


@pytest.mark.parametrize("seed", SEEDS)
def test_defib_model_reads_generated_cibs(seed: int) -> None:
    from defib.cib.parse import parse_cib

    text = generate_cib(seed, small_spec(seed))
    root = ET.fromstring(text)
    cib = parse_cib(text)
    assert len(cib.nodes) == small_spec(seed).nodes
    assert len(cib.locations) == len(list(root.iter("rsc_location")))
    assert len(cib.colocations) == len(list(root.iter("rsc_colocation")))
    assert len(cib.orders) == len(list(root.iter("rsc_order")))
    assert len(cib.node_states) == len(list(root.iter("node_state")))
