"""Reading the log of ocf:defib:Recorder, to prove a resource never ran twice at once.

Each line is ``start|stop <epoch seconds> <node> <resource>``. A node that was killed (or
fenced) writes no stop line: its interval ends when the caller says the node died.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
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
    node_died: Mapping[str, float] | None = None,
) -> list[Activation]:
    """Activation intervals from a Recorder log (a path or its lines).

    ``node_died`` maps a node to the time it was killed: an activation still open on that
    node at that time ends then.
    """
    if isinstance(lines, Path):
        lines = lines.read_text().splitlines()
    died = node_died or {}
    open_: dict[tuple[str, str], float] = {}
    done: list[Activation] = []
    for line in lines:
        parts = line.split()
        if len(parts) != 4 or parts[0] not in ("start", "stop"):
            continue
        action, stamp, node, rsc = parts[0], float(parts[1]), parts[2], parts[3]
        key = (rsc, node)
        if key in open_ and node in died and died[node] <= stamp:
            # The node died with the resource running; this line is from after a restart.
            done.append(Activation(rsc, node, open_.pop(key), died[node]))
        if action == "start":
            open_.setdefault(key, stamp)
        elif key in open_:
            done.append(Activation(rsc, node, open_.pop(key), stamp))
    for (rsc, node), start in open_.items():
        end = died.get(node, math.inf)
        done.append(Activation(rsc, node, start, end if end >= start else math.inf))
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
