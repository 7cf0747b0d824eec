"""Placement scores as a table: what each cause added on each node, and the result."""

from __future__ import annotations

from defib.explain.explain import fmt_score
from defib.explain.trace import DecisionTrace


def score_table(trace: DecisionTrace, rsc_id: str) -> str:
    """One block per primitive ``rsc_id`` stands for: a row per recorded contribution
    (a cause on one node), then the final score; ``*`` marks the node chosen."""
    nodes = sorted(trace.nodes)
    blocks = []
    for prim in trace.instances(rsc_id):
        placement = trace.placements.get(prim)
        rows: list[list[str]] = [["", *nodes]]
        for label, by_node in _rows(trace, prim):
            rows.append([label, *(fmt_score(by_node[n]) if n in by_node else "" for n in nodes)])
        if placement is not None:
            rows.append(["= score", *(fmt_score(placement.scores[n]) if n in placement.scores
                                      else "-" for n in nodes)])
            rows.append(["chosen", *("*" if placement.node == n else "" for n in nodes)])
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = [f"{prim}:"]
        for row in rows:
            cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:],
                                                                            strict=True)]
            lines.append("  " + "  ".join(cells).rstrip())
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _rows(trace: DecisionTrace, prim: str) -> list[tuple[str, dict[str, int]]]:
    rows: dict[str, dict[str, int]] = {}
    current: str | None = prim
    while current is not None:
        for c in trace.contributions.get(current, []):
            source = c.source.replace("|", " with ")
            label = f"{c.cause} {source}".strip()
            if current != prim:
                label += f" (on {current})"
            rows.setdefault(label, {})[c.node] = c.score
        facts = trace.resources.get(current)
        current = facts.parent if facts is not None else None
    return list(rows.items())
