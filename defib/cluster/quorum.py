"""Quorum as Corosync's votequorum computes it (pure; the caller supplies the clock).

* every node has votes; ``expected_votes`` defaults to the sum of all configured votes and
  grows when more votes are seen at once;
* quorate when the votes of the current membership reach ``expected_votes // 2 + 1``;
* ``two_node``: with exactly two expected votes one vote suffices (and ``wait_for_all`` is on
  unless explicitly disabled, as in votequorum);
* ``wait_for_all``: never quorate until all expected votes were present at the same time once;
* ``last_man_standing``: after the membership has been stable and quorate for the window,
  ``expected_votes`` is lowered to the votes present (not below 2), so the cluster can keep
  shrinking one failure at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

from defib.cluster.config import QuorumOptions


@dataclass(frozen=True)
class QuorumState:
    quorate: bool
    total_votes: int
    expected_votes: int
    quorum: int
    wait_for_all_pending: bool
    flags: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "quorate": self.quorate,
            "total_votes": self.total_votes,
            "expected_votes": self.expected_votes,
            "quorum": self.quorum,
            "wait_for_all_pending": self.wait_for_all_pending,
            "flags": list(self.flags),
        }


class QuorumTracker:
    def __init__(self, votes: dict[int, int], options: QuorumOptions) -> None:
        self.votes = dict(votes)
        self.options = options
        configured = sum(votes.values())
        self.expected = options.expected_votes or configured
        self.wfa_pending = options.effective_wait_for_all
        self._members: frozenset[int] = frozenset()
        self._stable_since = 0.0
        self.state = self._compute(0)

    def _needed(self) -> int:
        if self.options.two_node and self.expected == 2:
            return 1
        return self.expected // 2 + 1

    def _compute(self, total: int) -> QuorumState:
        needed = self._needed()
        quorate = total >= needed and not self.wfa_pending
        flags = []
        if self.options.two_node:
            flags.append("2Node")
        if self.options.effective_wait_for_all:
            flags.append("WaitForAll")
        if self.options.last_man_standing:
            flags.append("LastManStanding")
        if quorate:
            flags.insert(0, "Quorate")
        return QuorumState(quorate, total, self.expected, needed, self.wfa_pending, tuple(flags))

    def update(self, members: frozenset[int], now: float) -> QuorumState:
        if members != self._members:
            self._members = members
            self._stable_since = now
        total = sum(self.votes.get(m, 0) for m in members)
        if total > self.expected:
            self.expected = total
        if self.wfa_pending and total >= self.expected:
            self.wfa_pending = False
        state = self._compute(total)
        if (
            self.options.last_man_standing
            and state.quorate
            and total < self.expected
            and now - self._stable_since >= self.options.last_man_standing_window
        ):
            self.expected = max(total, 2)
            state = self._compute(total)
        self.state = state
        return state
