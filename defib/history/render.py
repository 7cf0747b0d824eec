"""The history as a text timeline and as an SVG picture (one lane per node)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from xml.sax.saxutils import escape

from defib.history.store import HistoryEvent

COLOURS = {"operation": "#2e7d32", "failed": "#c62828", "fencing": "#6a1b9a",
           "config": "#1565c0", "transition": "#757575", "membership": "#ef6c00",
           "node": "#8d6e63", "quorum": "#ad1457", "dc": "#00838f"}
CLUSTER_LANE = "cluster"
CHAR_PX = 6.2  # the width of a character of the 11 px labels, near enough


def stamp(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def timeline(events: Sequence[HistoryEvent]) -> str:
    if not events:
        return "no events (filters too narrow, or nothing recorded yet)"
    lines = []
    for e in events:
        tail = f"  [t{e.transition}]" if e.transition is not None and e.kind != "transition" \
            else ""
        lines.append(f"{stamp(e.ts)}  {e.kind:<10}  {e.summary}{tail}")
    return "\n".join(lines)


def _lane(e: HistoryEvent) -> str:
    if e.kind in ("operation", "fencing", "node") and e.node:
        return e.node
    return CLUSTER_LANE


def _colour(e: HistoryEvent) -> str:
    if e.detail.get("failed") or "FAILED" in e.summary or "LOST" in e.summary:
        return COLOURS["failed"]
    return COLOURS.get(e.kind, "#000000")


def svg(events: Sequence[HistoryEvent], width: int = 1200) -> str:
    """Lanes: the cluster (configuration, transitions, membership) then one per node; each
    event a mark at its time, its summary as a tooltip; failures and fencing labelled."""
    lanes = [CLUSTER_LANE] + sorted({_lane(e) for e in events} - {CLUSTER_LANE})
    left, right, top, lane_h = 110, 20, 40, 60
    height = top + lane_h * len(lanes) + 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="11">',
             '<rect width="100%" height="100%" fill="white"/>']
    if not events:
        parts.append('<text x="10" y="20">no events</text></svg>')
        return "\n".join(parts)
    start, end = events[0].ts, events[-1].ts
    span = max(end - start, 1e-3)

    def x(ts: float) -> float:
        return left + (ts - start) / span * (width - left - right)

    parts.append(f'<text x="10" y="20" font-size="13">defib history {escape(stamp(start))} '
                 f'- {escape(stamp(end))} ({len(events)} events)</text>')
    for index, lane in enumerate(lanes):
        y = top + index * lane_h + lane_h / 2
        parts.append(f'<text x="10" y="{y + 4:.0f}">{escape(lane)}</text>')
        parts.append(f'<line x1="{left}" y1="{y:.0f}" x2="{width - right}" y2="{y:.0f}" '
                     'stroke="#ddd"/>')
    axis = top + lane_h * len(lanes) + 15
    for tick in range(6):
        ts = start + span * tick / 5
        parts.append(f'<text x="{x(ts):.0f}" y="{axis}" text-anchor="middle" fill="#555">'
                     f'{escape(dt.datetime.fromtimestamp(ts).strftime("%H:%M:%S"))}</text>')
    label_end: dict[str, float] = {}  # per lane: where the last label ends (no overlap)
    for e in events:
        lane = _lane(e)
        y = top + lanes.index(lane) * lane_h + lane_h / 2
        colour = _colour(e)
        title = escape(f"{stamp(e.ts)} {e.summary}")
        parts.append(f'<circle cx="{x(e.ts):.1f}" cy="{y:.0f}" r="5" fill="{colour}">'
                     f"<title>{title}</title></circle>")
        notable = colour in (COLOURS["failed"], COLOURS["fencing"]) or e.kind == "config"
        label = e.summary if len(e.summary) <= 40 else e.summary[:37] + "..."
        span_px = len(label) * CHAR_PX
        at = x(e.ts)
        anchor = "start"
        if at + span_px > width - right:  # near the right edge: the label ends at the mark
            anchor, begin = "end", at - span_px
        else:
            begin = at
        if notable and begin > label_end.get(lane, -1e9) + 8:
            label_end[lane] = begin + span_px
            parts.append(f'<text x="{at:.1f}" y="{y - 10:.0f}" fill="{colour}" '
                         f'text-anchor="{anchor}">{escape(label)}</text>')
    legend_y = height - 8
    for index, (name, colour) in enumerate(COLOURS.items()):
        parts.append(f'<circle cx="{left + index * 110}" cy="{legend_y - 4}" r="4" '
                     f'fill="{colour}"/><text x="{left + index * 110 + 8}" y="{legend_y}">'
                     f"{name}</text>")
    parts.append("</svg>")
    return "\n".join(parts)
