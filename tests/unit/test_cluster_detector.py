from __future__ import annotations

from defib.cluster.detector import FailureDetector


def make() -> FailureDetector:
    return FailureDetector([2, 3], links=2, suspect_time=0.25, dead_time=2.0)


def test_silence_alone_is_tolerated_until_dead_time() -> None:
    fd = make()
    fd.heard(2, 0, 0.0, 7)
    assert fd.reachable(0.1) == {2}
    assert fd.reachable(1.9) == {2}, "a slow (starved) peer is not lost before dead_time"
    assert fd.reachable(2.0) == set()


def test_refused_port_after_suspect_time_is_proof_of_death() -> None:
    fd = make()
    fd.heard(2, 0, 0.0, 7)
    fd.refused(2, 0, 0.1)
    assert fd.reachable(0.2) == {2}, "suspicion needs suspect_time of silence first"
    assert fd.reachable(0.25) == set()
    assert "port refused" in fd.reason(2, 0.3)


def test_a_refusal_older_than_the_last_heartbeat_is_ignored() -> None:
    fd = make()
    fd.refused(2, 0, 0.0)
    fd.heard(2, 0, 0.1, 8)
    assert fd.reachable(0.5) == {2}


def test_any_link_keeps_a_peer() -> None:
    fd = make()
    fd.heard(3, 0, 0.0, 1)
    fd.heard(3, 1, 0.0, 1)
    for t in (0.5, 1.0, 1.5, 2.5, 3.0):
        fd.heard(3, 1, t, 1)
    assert fd.reachable(3.0) == {3}
    assert fd.links_up(3, 3.0) == [False, True]


def test_restart_is_noticed_and_goodbye_forgets() -> None:
    fd = make()
    assert fd.heard(2, 0, 0.0, 1) is False
    assert fd.heard(2, 0, 0.1, 2) is True
    fd.forget(2)
    assert fd.reachable(0.1) == set()


def test_own_stall_is_forgiven() -> None:
    fd = make()
    fd.heard(2, 0, 0.0, 1)
    fd.forgive(5.0)
    assert fd.reachable(5.1) == {2}


def test_worst_silence_counts_gaps_on_all_links_with_our_own_stalls_forgiven() -> None:
    fd = make()
    fd.heard(2, 0, 0.0, 7)
    fd.heard(2, 1, 0.05, 7)
    fd.heard(2, 0, 0.3, 7)  # 0.25 s since link 1 spoke: the peer's silence, not link 0's
    fd.forgive(1.0)  # our loop stalled a second: not the peer's silence
    fd.heard(2, 1, 1.4, 7)
    assert abs(fd.peers[2].worst_silence - 0.25) < 1e-9
    fd.heard(2, 0, 5.0, 8)  # a restart: the time it was gone is not a silence of a member
    assert abs(fd.peers[2].worst_silence - 0.25) < 1e-9
