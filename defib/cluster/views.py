"""View agreement: every member of a partition installs the same membership and view id.

The coordinator of a partition is the lowest node id a node can reach. Only the coordinator
proposes views: the largest clique (in id order) of nodes that mutually report each other
reachable, so an asymmetric link drops the node everywhere instead of splitting opinions.
Every heartbeat carries its sender's view; a node adopts its coordinator's view when it is a
member, and falls back to a view of its own alone when its coordinator dropped it.
View ids (``coord.seq`` like Corosync's ring id) grow past every id seen, so they are unique.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class ViewId:
    seq: int
    coord: int

    def __str__(self) -> str:
        return f"{self.coord}.{self.seq}"


@dataclass(frozen=True)
class View:
    id: ViewId
    members: tuple[tuple[int, int], ...]  # (node id, incarnation), sorted by id

    @property
    def member_ids(self) -> tuple[int, ...]:
        return tuple(m for m, _ in self.members)

    def to_wire(self) -> list[object]:
        return [self.id.seq, self.id.coord, [list(m) for m in self.members]]

    @classmethod
    def from_wire(cls, raw: object) -> View | None:
        if not isinstance(raw, list) or len(raw) != 3:
            return None
        seq, coord, members = raw
        return cls(ViewId(int(seq), int(coord)), tuple((int(a), int(b)) for a, b in members))


@dataclass(frozen=True)
class Report:
    """What a peer's latest heartbeat said."""

    incarnation: int
    view: View | None
    reach: frozenset[int]


class ViewAgreement:
    def __init__(self, me: int, incarnation: int, grace: float = 0.0) -> None:
        self.me = me
        self.incarnation = incarnation
        # How long a coordinator waits for peers that still follow a lower coordinator it
        # lost (see ``followers_elsewhere``) before it leaves them out of its view.
        self.grace = grace
        self._torn_since: float | None = None
        self.current: View | None = None
        self.max_seq = 0
        # Highest view seq seen from each coordinator: older offers of it are stale.
        self._latest: dict[int, int] = {}

    def observe(self, view: View | None) -> None:
        if view is None:
            return
        self.max_seq = max(self.max_seq, view.id.seq)
        coord = view.id.coord
        self._latest[coord] = max(self._latest.get(coord, 0), view.id.seq)

    def _install(self, members: tuple[tuple[int, int], ...]) -> View:
        self.max_seq += 1
        self.current = View(ViewId(self.max_seq, self.me), members)
        self._latest[self.me] = self.max_seq
        return self.current

    def clique(self, alive: set[int], reports: dict[int, Report]) -> tuple[tuple[int, int], ...]:
        chosen: list[tuple[int, int]] = [(self.me, self.incarnation)]

        def reach_of(node: int) -> frozenset[int]:
            return frozenset(alive) if node == self.me else reports[node].reach

        for cand in sorted(alive - {self.me}):
            rep = reports.get(cand)
            if rep is None:
                continue
            if all(m in rep.reach and cand in reach_of(m) for m, _ in chosen):
                chosen.append((cand, rep.incarnation))
        return tuple(sorted(chosen))

    def followers_elsewhere(self, alive: set[int], reports: dict[int, Report]) -> set[int]:
        """Peers that still reach a node below us that we cannot reach: they follow that
        node's views, not ours, so they (and their votes) are not ours to count. Without
        this, a partition forming one link at a time (found by the lab: node2 cut from 1
        and 3 first) let a minority coordinator count 4 and 5, members of the majority's
        view, and call itself quorate beside the majority."""
        return {p for p in alive - {self.me} if p in reports
                and any(x < self.me and x not in alive for x in reports[p].reach)}

    def decide(self, reachable: set[int], reports: dict[int, Report],
               now: float = 0.0) -> View | None:
        """Return the newly installed view, or None when the current one stands."""
        alive = set(reachable) | {self.me}
        coord = min(alive)
        cur = self.current
        if coord == self.me:
            torn = self.followers_elsewhere(alive, reports)
            if not torn:
                self._torn_since = None
            elif cur is not None:
                # When our coordinator died, its other followers lose it too within a
                # heartbeat or two: wait for them rather than flap through a view of our
                # own (and a loss of quorum) first.
                if self._torn_since is None:
                    self._torn_since = now
                if now - self._torn_since < self.grace:
                    return None
            desired = self.clique(alive - torn, reports)
            if cur is None or cur.id.coord != self.me or cur.members != desired:
                return self._install(desired)
            return None
        rep = reports.get(coord)
        offered = rep.view if rep is not None else None
        if offered is None or offered.id.coord != coord or offered == cur:
            return None
        if offered.id.seq < self._latest.get(coord, 0):
            return None
        if (self.me, self.incarnation) in offered.members:
            self.current = offered
            return offered
        # Our coordinator does not count us: we are not part of its partition (yet).
        alone = ((self.me, self.incarnation),)
        if cur is None or cur.members != alone:
            return self._install(alone)
        return None

    def agreed(self, reports: dict[int, Report]) -> bool:
        """True when every member's latest heartbeat shows our current view."""
        cur = self.current
        if cur is None:
            return False
        return all(
            m == self.me or (m in reports and reports[m].view == cur) for m in cur.member_ids
        )
