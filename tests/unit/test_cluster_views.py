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
