"""Double-activation detection over Recorder logs."""

from __future__ import annotations

import math

from defib.executor.activations import double_activations, read_activations

LOG = """\
start 100.0 n1 web
stop 110.0 n1 web
start 110.5 n2 web
start 120.0 n3 db
garbage line
start 130.0 n1 web
"""


def test_intervals_and_overlap() -> None:
    acts = read_activations(LOG.splitlines())
    assert [(a.resource, a.node, a.start, a.stop) for a in acts] == [
        ("db", "n3", 120.0, math.inf),
        ("web", "n1", 100.0, 110.0),
        ("web", "n2", 110.5, math.inf),
        ("web", "n1", 130.0, math.inf),
    ]
    pairs = double_activations(acts)
    assert [(a.node, b.node) for a, b in pairs] == [("n2", "n1")]


def test_killed_node_ends_its_interval_when_it_died() -> None:
    lines = ["start 100 n1 web", "start 105 n2 web", "start 200 n1 web"]
    # n1 died at 104 (fenced) before n2 took over: no double activation.
    acts = read_activations(lines, node_died={"n1": 104.0})
    assert [(a.node, a.start, a.stop) for a in acts] == [
        ("n1", 100.0, 104.0), ("n2", 105.0, math.inf), ("n1", 200.0, math.inf)]
    assert [(a.node, b.node) for a, b in double_activations(acts)] == [("n2", "n1")]
    # Had n1 died only at 106, n1 and n2 overlapped.
    late = read_activations(lines[:2], node_died={"n1": 106.0})
    assert len(double_activations(late)) == 1


def test_every_death_of_a_node_ends_what_ran_there() -> None:
    lines = ["start 100 n1 web", "start 103 n2 web", "stop 150 n2 web",
             "start 151 n1 web", "start 170 n2 web"]
    # n1 died twice: at 102 (power cut) and at 160 (fenced after a freeze).
    acts = read_activations(lines, node_died={"n1": [102.0, 160.0]})
    assert [(a.node, a.start, a.stop) for a in acts] == [
        ("n1", 100.0, 102.0), ("n2", 103.0, 150.0), ("n1", 151.0, 160.0),
        ("n2", 170.0, math.inf)]
    assert double_activations(acts) == []
