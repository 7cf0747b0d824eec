from __future__ import annotations

from defib.cluster.views import Report, View, ViewAgreement, ViewId


class Net:
    """Synchronous rounds: each node sees the latest report of every node it hears."""

    def __init__(self, n: int) -> None:
        self.nodes = {i: ViewAgreement(i, 100 + i) for i in range(1, n + 1)}
        self.cut: set[tuple[int, int]] = set()  # (listener, speaker) pairs that do not hear

    def hears(self, a: int, b: int) -> bool:
        return a != b and (a, b) not in self.cut

    def run(self, rounds: int = 6) -> None:
        for _ in range(rounds):
            reach = {a: {b for b in self.nodes if self.hears(a, b)} for a in self.nodes}
            snapshot = {
                b: Report(v.incarnation, v.current, frozenset(reach[b]))
                for b, v in self.nodes.items()
            }
            for a, agreement in self.nodes.items():
                reports = {b: snapshot[b] for b in reach[a]}
                for r in reports.values():
                    agreement.observe(r.view)
                agreement.decide(reach[a], reports)

    def partition(self, *groups: set[int]) -> None:
        self.cut = {(a, b) for g in groups for h in groups if g is not h for a in g for b in h}

    def view_of(self, node: int) -> View:
        view = self.nodes[node].current
        assert view is not None
        return view


def test_all_nodes_install_the_same_view() -> None:
    net = Net(5)
    net.run()
    views = {net.view_of(i) for i in range(1, 6)}
    assert len(views) == 1
    view = views.pop()
    assert view.member_ids == (1, 2, 3, 4, 5) and view.id.coord == 1


def test_partition_gives_one_view_per_side_and_heals_with_a_newer_id() -> None:
    net = Net(5)
    net.run()
    before = net.view_of(1).id
    net.partition({1, 2, 3}, {4, 5})
    net.run()
    major, minor = net.view_of(2), net.view_of(5)
    assert major.member_ids == (1, 2, 3) and minor.member_ids == (4, 5)
    assert net.view_of(4) == minor and minor.id.coord == 4
    assert major.id != minor.id and major.id > before
    net.cut = set()
    net.run()
    healed = {net.view_of(i) for i in range(1, 6)}
    assert len(healed) == 1
    assert healed.pop().id.seq > max(major.id.seq, minor.id.seq)


def test_asymmetric_link_drops_the_node_everywhere() -> None:
    net = Net(3)
    net.run()
    net.cut = {(2, 3)}  # node 2 no longer hears node 3; everyone else is fine
    net.run()
    assert net.view_of(1).member_ids == net.view_of(2).member_ids == (1, 2)
    assert net.view_of(3).member_ids == (3,), "node 3 knows it was dropped"


def test_restarted_node_gets_a_new_view() -> None:
    net = Net(3)
    net.run()
    old = net.view_of(1)
    net.nodes[3] = ViewAgreement(3, 999)
    net.run()
    new = net.view_of(1)
    assert new.id > old.id and (3, 999) in new.members
    assert net.view_of(3) == new


def test_view_wire_round_trip() -> None:
    view = View(ViewId(7, 2), ((2, 5), (3, 9)))
    assert View.from_wire(view.to_wire()) == view
    assert str(view.id) == "2.7"
    assert View.from_wire(None) is None


def test_a_partition_forming_link_by_link_gives_the_minority_no_borrowed_members() -> None:
    """Node 2 is cut from 1 and 3 first; 4 and 5 still hear everyone (their rules come
    later). They follow 1: node 2 must not count them in a view of its own."""
    net = Net(5)
    net.run()
    net.cut = {(a, b) for a in (2,) for b in (1, 3)} | {(b, a) for a in (2,) for b in (1, 3)}
    for _ in range(6):
        net.run(1)
        view = net.view_of(2)
        assert view.id.coord != 2 or view.member_ids == (2,), view
    assert net.view_of(4).id.coord == 1 and 2 not in net.view_of(1).member_ids
    assert net.view_of(2).member_ids == (2,)


def test_a_coordinator_waits_for_the_followers_of_a_lost_one_within_its_grace() -> None:
    """Node 1 died: node 2 notices first while 3 still reaches 1. Within the grace node 2
    keeps the old view (no flap through a view of its own); once 3 loses 1 too, node 2
    installs [2, 3] directly. After the grace it leaves a still-torn peer out."""
    old = View(ViewId(1, 1), ((1, 101), (2, 102), (3, 103)))
    two = ViewAgreement(2, 102, grace=0.7)
    two.observe(old)
    two.current = old
    torn = {3: Report(103, old, frozenset({1, 2}))}
    assert two.decide({3}, torn, now=10.0) is None
    assert two.decide({3}, torn, now=10.5) is None and two.current == old
    lost_too = {3: Report(103, old, frozenset({2}))}
    new = two.decide({3}, lost_too, now=10.6)
    assert new is not None and new.member_ids == (2, 3) and new.id.coord == 2
    # Another time: 3 keeps reaching 1 (an asymmetric cut): after the grace, 2 is alone.
    other = ViewAgreement(2, 102, grace=0.7)
    other.observe(old)
    other.current = old
    assert other.decide({3}, torn, now=20.0) is None
    alone = other.decide({3}, torn, now=20.8)
    assert alone is not None and alone.member_ids == (2,)
