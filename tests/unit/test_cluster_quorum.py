from __future__ import annotations

from defib.cluster.config import QuorumOptions
from defib.cluster.quorum import QuorumTracker

FIVE = {i: 1 for i in range(1, 6)}


def test_majority_of_expected_votes() -> None:
    q = QuorumTracker(FIVE, QuorumOptions())
    assert q.update(frozenset({1, 2, 3}), 0).quorate
    state = q.update(frozenset({4, 5}), 1)
    assert not state.quorate and state.quorum == 3 and state.expected_votes == 5


def test_expected_votes_option_and_votes_weights() -> None:
    q = QuorumTracker({1: 3, 2: 1, 3: 1}, QuorumOptions(expected_votes=7))
    state = q.update(frozenset({1, 2}), 0)
    assert state.quorum == 4 and state.quorate
    assert not q.update(frozenset({2, 3}), 1).quorate


def test_two_node_waits_for_all_then_survives_alone() -> None:
    q = QuorumTracker({1: 1, 2: 1}, QuorumOptions(two_node=True))
    state = q.update(frozenset({1}), 0)
    assert not state.quorate and state.wait_for_all_pending and state.quorum == 1
    assert q.update(frozenset({1, 2}), 1).quorate
    state = q.update(frozenset({1}), 2)
    assert state.quorate and "2Node" in state.flags and "WaitForAll" in state.flags


def test_two_node_without_wait_for_all() -> None:
    q = QuorumTracker({1: 1, 2: 1}, QuorumOptions(two_node=True, wait_for_all=False))
    assert q.update(frozenset({2}), 0).quorate


def test_wait_for_all_on_a_bigger_cluster() -> None:
    q = QuorumTracker(FIVE, QuorumOptions(wait_for_all=True))
    assert not q.update(frozenset({1, 2, 3, 4}), 0).quorate
    assert q.update(frozenset(FIVE), 1).quorate
    assert q.update(frozenset({1, 2, 3}), 2).quorate


def test_last_man_standing_lowers_expected_votes_after_the_window() -> None:
    q = QuorumTracker(FIVE, QuorumOptions(last_man_standing=True, last_man_standing_window=10))
    q.update(frozenset(FIVE), 0)
    q.update(frozenset({1, 2, 3}), 1)
    assert q.update(frozenset({1, 2, 3}), 5).expected_votes == 5
    assert q.update(frozenset({1, 2, 3}), 11).expected_votes == 3
    q.update(frozenset({1, 2}), 12)
    state = q.update(frozenset({1, 2}), 23)
    assert state.quorate and state.expected_votes == 2
    assert not q.update(frozenset({1}), 24).quorate, "never below two nodes"
