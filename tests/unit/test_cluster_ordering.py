from __future__ import annotations

from collections import OrderedDict

from defib.cluster.ordering import Ordered, Receiver, Sequencer


def test_sequencer_numbers_and_deduplicates() -> None:
    seq = Sequencer()
    a, new_a = seq.assign(1, "u1", {"x": 1})
    b, _ = seq.assign(2, "u2", {"x": 2})
    again, new_again = seq.assign(1, "u1", {"x": 1})
    assert (a.seq, b.seq, again.seq) == (1, 2, 1) and new_a and not new_again
    assert [m.uid for m in seq.range(1, 5)] == ["u1", "u2"]


def test_receiver_holds_back_and_reports_gaps() -> None:
    rx = Receiver(OrderedDict())
    m = [Ordered(i, 1, f"u{i}", {}) for i in range(1, 5)]
    assert rx.accept(m[2]) == []
    assert rx.missing(3) == (1, 2)
    assert [x.seq for x in rx.accept(m[0])] == [1]
    assert [x.seq for x in rx.accept(m[1])] == [2, 3]
    assert rx.missing(4) == (4, 4)
    assert rx.accept(m[1]) == []
    assert rx.missing(3) is None


def test_uid_delivered_in_an_earlier_view_is_not_delivered_again() -> None:
    delivered: OrderedDict[str, None] = OrderedDict()
    first = Receiver(delivered)
    assert len(first.accept(Ordered(1, 2, "dup", {}))) == 1
    second = Receiver(delivered)
    assert second.accept(Ordered(1, 2, "dup", {})) == []
    assert [x.uid for x in second.accept(Ordered(2, 2, "new", {}))] == ["new"]
