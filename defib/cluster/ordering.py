"""Total order within a view through a fixed sequencer (the view's coordinator).

Members hand messages to the sequencer, which numbers them 1, 2, 3 ... in the view and sends
them to everyone; receivers deliver strictly in number order, hold back what arrives early
and ask the sequencer for gaps. A message id (uid) makes re-sending after a view change safe:
what a node already delivered in an earlier view is not delivered twice.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

LOG_LIMIT = 20000
UID_MEMORY = 20000


@dataclass(frozen=True)
class Ordered:
    seq: int
    origin: int
    uid: str
    payload: dict[str, Any]

    def to_wire(self) -> dict[str, Any]:
        return {"s": self.seq, "o": self.origin, "u": self.uid, "p": self.payload}

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> Ordered:
        return cls(int(raw["s"]), int(raw["o"]), str(raw["u"]), dict(raw["p"]))


class Sequencer:
    def __init__(self) -> None:
        self.high = 0
        self.log: OrderedDict[int, Ordered] = OrderedDict()
        self._by_uid: dict[str, int] = {}

    def assign(self, origin: int, uid: str, payload: dict[str, Any]) -> tuple[Ordered, bool]:
        """Number a message; returns (message, is_new). A re-sent uid gets its old number."""
        if uid in self._by_uid and self._by_uid[uid] in self.log:
            return self.log[self._by_uid[uid]], False
        self.high += 1
        msg = Ordered(self.high, origin, uid, payload)
        self.log[msg.seq] = msg
        self._by_uid[uid] = msg.seq
        while len(self.log) > LOG_LIMIT:
            _, old = self.log.popitem(last=False)
            self._by_uid.pop(old.uid, None)
        return msg, True

    def range(self, first: int, last: int) -> list[Ordered]:
        return [self.log[s] for s in range(first, last + 1) if s in self.log]


class Receiver:
    """Per-view hold-back queue; ``delivered_uids`` outlives views."""

    def __init__(self, delivered_uids: OrderedDict[str, None]) -> None:
        self.next = 1
        self.held: dict[int, Ordered] = {}
        self.delivered_uids = delivered_uids

    def accept(self, msg: Ordered) -> list[Ordered]:
        if msg.seq < self.next or msg.seq in self.held:
            return []
        self.held[msg.seq] = msg
        out: list[Ordered] = []
        while self.next in self.held:
            item = self.held.pop(self.next)
            self.next += 1
            if item.uid in self.delivered_uids:
                continue
            self.delivered_uids[item.uid] = None
            while len(self.delivered_uids) > UID_MEMORY:
                self.delivered_uids.popitem(last=False)
            out.append(item)
        return out

    def missing(self, sequencer_high: int) -> tuple[int, int] | None:
        """The range to ask for, given the highest number the sequencer announced."""
        top = max([sequencer_high, *self.held.keys()]) if self.held else sequencer_high
        if top >= self.next:
            last = min(self.held) - 1 if self.held else top
            return self.next, max(last, self.next)
        return None
