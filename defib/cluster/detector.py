"""Failure detector: which peers are reachable, per link, from heartbeat arrival times.

Two kinds of evidence, so that detection is fast without lying:

* proof of death: after a peer has been silent for ``suspect_time`` *and* the kernel has
  refused one of our packets to it since its last heartbeat (ICMP port unreachable: nothing
  listens on its port any more), the link is down. A crashed daemon is found in a few
  heartbeat intervals; a daemon that is merely slow (starved of CPU) still owns its socket,
  so it is never refused and is not declared lost this way.
* silence alone: after ``dead_time`` without any heartbeat the link is down (a host that
  vanished, a cut network: no one is left to refuse).

A peer is reachable while ANY of its links is up (redundant rings). All times come from the
caller's monotonic clock; when the caller itself stalled (its loop did not run), it calls
``forgive`` so that its own stall is not blamed on the peers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LinkState:
    last_heard: float | None = None
    refused_at: float | None = None


@dataclass
class PeerState:
    links: list[LinkState]
    incarnation: int | None = None
    # The longest silence (no heartbeat on any link, our own stalls forgiven) this peer
    # ended by being heard again: what dead_time must stay above to cause no false loss.
    worst_silence: float = 0.0


class FailureDetector:
    def __init__(self, peers: list[int], links: int, suspect_time: float, dead_time: float) -> None:
        self.suspect_time = suspect_time
        self.dead_time = dead_time
        self.peers = {p: PeerState([LinkState() for _ in range(links)]) for p in peers}

    def heard(self, peer: int, link: int, now: float, incarnation: int) -> bool:
        """Record a heartbeat; True when the peer came back with a new incarnation."""
        state = self.peers[peer]
        heard = [ls.last_heard for ls in state.links if ls.last_heard is not None]
        restarted = state.incarnation is not None and state.incarnation != incarnation
        if heard and not restarted:
            state.worst_silence = max(state.worst_silence, now - max(heard))
        state.links[link].last_heard = now
        state.incarnation = incarnation
        return restarted

    def refused(self, peer: int, link: int, now: float) -> None:
        self.peers[peer].links[link].refused_at = now

    def forgive(self, stalled_for: float) -> None:
        """Our own loop did not run for ``stalled_for`` seconds: shift every clock reading."""
        for state in self.peers.values():
            for link in state.links:
                if link.last_heard is not None:
                    link.last_heard += stalled_for

    def link_up(self, peer: int, link: int, now: float) -> bool:
        ls = self.peers[peer].links[link]
        if ls.last_heard is None:
            return False
        silent = now - ls.last_heard
        if silent >= self.dead_time:
            return False
        refused_since = ls.refused_at is not None and ls.refused_at > ls.last_heard
        return not (refused_since and silent >= self.suspect_time)

    def reason(self, peer: int, now: float) -> str:
        parts = []
        for i, ls in enumerate(self.peers[peer].links):
            if ls.last_heard is None:
                parts.append(f"link{i}: never heard")
                continue
            silent = now - ls.last_heard
            refused = ls.refused_at is not None and ls.refused_at > ls.last_heard
            how = "port refused" if refused and silent < self.dead_time else "silent"
            parts.append(f"link{i}: {how} for {silent:.3f}s")
        return ", ".join(parts)

    def reachable(self, now: float) -> set[int]:
        return {p for p in self.peers if any(self.links_up(p, now))}

    def links_up(self, peer: int, now: float) -> list[bool]:
        return [self.link_up(peer, i, now) for i in range(len(self.peers[peer].links))]

    def forget(self, peer: int) -> None:
        """The peer said goodbye: it is gone until its next heartbeat."""
        for link in self.peers[peer].links:
            link.last_heard = None
            link.refused_at = None
