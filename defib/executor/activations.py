"""Reading the log of ocf:defib:Recorder, to prove a resource never ran twice at once.

Each line is ``start|stop <epoch seconds> <node> <resource>``. A node that was killed (or
fenced) writes no stop line: its interval ends when the caller says the node died.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Activation:
    resource: str
    node: str
    start: float
    stop: float  # math.inf: still running (no stop recorded, node not known dead)

    def overlaps(self, other: Activation) -> bool:
        return self.start < other.stop and other.start < self.stop


def read_activations(
    lines: Iterable[str] | Path,
    node_died: Mapping[str, float | Sequence[float]] | None = None,
) -> list[Activation]:
    """Activation intervals from a Recorder log (a path or its lines).

    ``node_died`` maps a node to the time (or times) it died, by a crash, a power cut or
    fencing: an activation still open on that node at such a time ends then.
    """
    if isinstance(lines, Path):
        lines = lines.read_text().splitlines()
    # Deaths are events among the log's lines: sort them all by time (a death sorts before
    # a line of the same instant, so a start stamped at the death belongs to the new life).
    events: list[tuple[float, int, str, str, str]] = []
    for node, when in (node_died or {}).items():
        for stamp in (when,) if isinstance(when, (int, float)) else when:
            events.append((float(stamp), 0, "died", node, ""))
    for line in lines:
        parts = line.split()
        if len(parts) != 4 or parts[0] not in ("start", "stop"):
            continue
        try:
            events.append((float(parts[1]), 1, parts[0], parts[2], parts[3]))
        except ValueError:
            continue
    open_: dict[tuple[str, str], float] = {}
    done: list[Activation] = []
    for stamp, _, action, node, rsc in sorted(events):
        if action == "died":
            for key in [k for k in open_ if k[1] == node]:
                done.append(Activation(key[0], node, open_.pop(key), stamp))
        elif action == "start":
            open_.setdefault((rsc, node), stamp)
        elif (rsc, node) in open_:
            done.append(Activation(rsc, node, open_.pop((rsc, node)), stamp))
    done.extend(Activation(rsc, node, start, math.inf) for (rsc, node), start in open_.items())
    return sorted(done, key=lambda a: (a.resource, a.start))


def double_activations(activations: Iterable[Activation]) -> list[tuple[Activation, Activation]]:
    """Every pair of activations of the same resource on different nodes that overlap."""
    by_rsc: dict[str, list[Activation]] = {}
    for act in activations:
        by_rsc.setdefault(act.resource, []).append(act)
    found = []
    for acts in by_rsc.values():
        for i, first in enumerate(acts):
            for second in acts[i + 1:]:
                if first.node != second.node and first.overlaps(second):
                    found.append((first, second))
    return found
