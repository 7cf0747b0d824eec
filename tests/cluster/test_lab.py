"""The fault lab, one round of its sharpest scenarios: the audit finds nothing.

Each round injects a real fault into a cluster of hosts (power cut, frozen host, daemon
crash, split brain, failed resource, daemons dying in maintenance mode) and then audits:
one configuration everywhere, settled where the scheduler says, no resource on two hosts
at once, no committed change lost, no daemon crash. The full lab (every scenario, 20
rounds) is ``make lab``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from defib.cluster import hosts
from defib.lab.runner import run

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.slow,
    pytest.mark.skipif(hosts.unavailable_reason() is not None,
                       reason=f"the lab needs nodes as hosts: {hosts.unavailable_reason()}"),
]

SHARP = ["PowerCut", "Freeze", "ComponentFail", "SplitBrainTest", "ResourceRecover",
         "Reattach"]


def test_one_round_of_the_sharpest_scenarios_passes_its_audit(tmp_path: Path) -> None:
    result = run(SHARP, rounds=1, nodes=3, seed=7, minutes=None, workdir=tmp_path)
    found = {name: [f"{v.check}: {v.detail}" for v in tally.violations]
             for name, tally in result.tallies.items() if tally.violations}
    assert found == {}, result.table()
    assert result.final == [], "the cluster left something behind"
    assert {name: t.rounds for name, t in result.tallies.items()} == dict.fromkeys(SHARP, 1)


def test_five_hosts_near_quorum_split_brain_and_a_slow_network(tmp_path: Path) -> None:
    """On 5 hosts: two powered off at once (the most quorum allows), a random partition
    with fencing on, and a power cut under delay, jitter and reordering on every link."""
    names = ["NearQuorumPointTest", "SplitBrainTest", "SlowNetwork"]
    result = run(names, rounds=1, nodes=5, seed=3, minutes=None, workdir=tmp_path,
                 weather=True)
    found = {name: [f"{v.check}: {v.detail}" for v in tally.violations]
             for name, tally in result.tallies.items() if tally.violations}
    assert found == {}, result.table()
    assert result.final == [], "the cluster left something behind"
    assert {name: t.by_hosts for name, t in result.tallies.items()} == {
        name: {5: 1} for name in names}
