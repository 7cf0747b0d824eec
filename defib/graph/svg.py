"""The transition graph as an SVG picture: one lane per node, actions in execution order.

crm_simulate -D writes a dot file that graphviz lays out as one tangle. Here the layout is
fixed and readable without any tool: time runs left to right in steps (an action's step is
one more than the latest of the actions it waits for, so everything in one column may run at
once), each node has its own horizontal lane (actions with no node, such as a clone's
"running" pseudo action, go to a "cluster" lane on top), and every dependency is an arrow
from the action waited for to the one waiting. Each box carries its number in execution order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from defib.graph.build import natural_key
from defib.graph.model import GraphAction, TransitionGraph

BOX_W, BOX_H = 176, 34
COL_GAP, ROW_GAP = 44, 10
LANE_PAD, LABEL_W, TOP = 12, 120, 52
CLUSTER_LANE = "cluster"

# Fill colours by what an action does (a pseudo action is drawn dashed, unfilled).
_FILL = {
    "start": "#d7f5dd", "stop": "#fadbd8", "promote": "#e3dcf7", "demote": "#efe3f7",
    "monitor": "#eceff1", "migrate_to": "#d6eaf8", "migrate_from": "#d6eaf8",
    "notify": "#fdf2d0", "stonith": "#f5b7b1", "cancel": "#f2f3f4",
}


@dataclass(frozen=True)
class _Box:
    action: GraphAction
    lane: str
    step: int
    slot: int  # row within the lane's column
    order: int  # 1-based position in execution order


def _label(action: GraphAction) -> tuple[str, str]:
    """Two lines of text: what, and the operation."""
    if action.is_fencing:
        how = action.attrs.get("CRM_meta_stonith_action", "reboot")
        return f"fence {action.node_uname or ''}", how
    if action.kind == "pseudo_event":
        what, _, task = action.operation_key.rpartition(f"_{action.operation}_")
        return what or action.operation_key, action.operation
    if action.kind == "crm_event":
        return action.rsc_id or action.operation, action.operation
    task = action.operation
    if action.interval_ms:
        task += f" every {action.interval_ms / 1000:g}s"
    elif action.operation == "monitor":
        task = "probe"
    return action.rsc_long_id or action.rsc_id or action.operation_key, task


def _steps(graph: TransitionGraph) -> dict[int, int]:
    """Each action's step: 0 without inputs, else one more than its latest input's."""
    inputs = {s.action.id: {i for i in s.inputs if i != s.action.id} for s in graph.synapses}
    users: dict[int, list[int]] = {}
    for action_id, needed in inputs.items():
        for i in needed:
            users.setdefault(i, []).append(action_id)
    missing = {a: len(needed) for a, needed in inputs.items()}
    steps: dict[int, int] = {}
    ready = [a for a, count in missing.items() if count == 0]
    while ready:
        action_id = ready.pop()
        steps[action_id] = 1 + max((steps[i] for i in inputs[action_id]), default=-1)
        for user in users.get(action_id, ()):
            missing[user] -= 1
            if missing[user] == 0:
                ready.append(user)
    # Actions on an ordering cycle (a graph bug) go after everything else.
    last = max(steps.values(), default=-1) + 1
    steps.update((a, last) for a in inputs if a not in steps)
    return steps


def _execution_order(graph: TransitionGraph, steps: dict[int, int]) -> list[int]:
    index = {s.action.id: n for n, s in enumerate(graph.synapses)}
    return sorted(index, key=lambda a: (steps[a], index[a]))


def _layout(graph: TransitionGraph, order: Sequence[int] | None
            ) -> tuple[list[str], dict[int, _Box]]:
    steps = _steps(graph)
    order = list(order) if order else _execution_order(graph, steps)
    rank = {a: n for n, a in enumerate(order, 1)}
    extra = [s.action.id for s in graph.synapses if s.action.id not in rank]
    rank.update((a, len(rank) + n) for n, a in enumerate(extra, 1))
    lanes = sorted({s.action.node_uname or CLUSTER_LANE for s in graph.synapses},
                   key=lambda n: (n != CLUSTER_LANE, natural_key(n)))
    boxes: dict[int, _Box] = {}
    used: dict[tuple[str, int], int] = {}
    for action_id in sorted(rank, key=lambda a: rank[a]):
        action = graph.action(action_id)
        lane = action.node_uname or CLUSTER_LANE
        slot = used.get((lane, steps[action_id]), 0)
        used[(lane, steps[action_id])] = slot + 1
        boxes[action_id] = _Box(action, lane, steps[action_id], slot, rank[action_id])
    return lanes, boxes


def graph_to_svg(graph: TransitionGraph, order: Sequence[int] | None = None,
                 title: str = "Transition graph") -> str:
    """The picture of ``graph``; ``order``: action ids in the order they ran (else the
    order they may run in, step by step)."""
    lanes, boxes = _layout(graph, order)
    depth = {lane: 1 + max((b.slot for b in boxes.values() if b.lane == lane), default=0)
             for lane in lanes}
    lane_top: dict[str, int] = {}
    y = TOP
    for lane in lanes:
        lane_top[lane] = y
        y += depth[lane] * (BOX_H + ROW_GAP) + 2 * LANE_PAD - ROW_GAP
    columns = 1 + max((b.step for b in boxes.values()), default=0)
    width = LABEL_W + columns * (BOX_W + COL_GAP) + COL_GAP
    height = y + 16

    def position(box: _Box) -> tuple[int, int]:
        return (LABEL_W + COL_GAP + box.step * (BOX_W + COL_GAP),
                lane_top[box.lane] + LANE_PAD + box.slot * (BOX_H + ROW_GAP))

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        'fill="#555"/></marker></defs>',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="12" y="22" font-size="15" font-weight="bold">{escape(title)}</text>',
        f'<text x="12" y="40" fill="#555">{_count(len(boxes), "action")} in '
        f'{_count(columns, "step")} on '
        f'{_count(len([lane for lane in lanes if lane != CLUSTER_LANE]), "node")}; arrows '
        "point from an action to the actions that wait for it; numbers give the execution "
        "order</text>",
    ]
    for n, lane in enumerate(lanes):
        top, tall = lane_top[lane], depth[lane] * (BOX_H + ROW_GAP) + 2 * LANE_PAD - ROW_GAP
        shade = "#f7f9fb" if n % 2 == 0 else "#ffffff"
        out.append(f'<g class="lane" data-node="{escape(lane)}"><rect x="0" y="{top}" '
                   f'width="{width}" height="{tall}" fill="{shade}" stroke="#dde3e8"/>'
                   f'<text x="12" y="{top + tall // 2 + 4}" font-weight="bold">'
                   f"{escape(lane)}</text></g>")
    for synapse in graph.synapses:
        target = boxes[synapse.action.id]
        tx, ty = position(target)
        for input_id in synapse.inputs:
            if input_id not in boxes or input_id == synapse.action.id:
                continue
            sx, sy = position(boxes[input_id])
            x1, y1, x2, y2 = sx + BOX_W, sy + BOX_H // 2, tx, ty + BOX_H // 2
            bend = max(20, (x2 - x1) // 2)
            out.append(f'<path class="edge" data-from="{input_id}" data-to="{target.action.id}"'
                       f' d="M {x1} {y1} C {x1 + bend} {y1}, {x2 - bend} {y2}, {x2} {y2}" '
                       'fill="none" stroke="#555" stroke-opacity="0.7" stroke-width="1" '
                       'marker-end="url(#arrow)"/>')
    for box in sorted(boxes.values(), key=lambda b: b.order):
        out.append(_box_svg(box, *position(box)))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _box_svg(box: _Box, x: int, y: int) -> str:
    action = box.action
    what, task = _label(action)
    pseudo = action.kind == "pseudo_event"
    fill = "#ffffff" if pseudo else _FILL.get(
        "stonith" if action.is_fencing else action.operation, "#ffffff")
    dash = ' stroke-dasharray="4 3"' if pseudo else ""
    if len(what) > 26:
        what = what[:25] + "…"
    tip = f"{box.order}. {action.describe()}"
    return (f'<g class="action" data-id="{action.id}" data-order="{box.order}">'
            f"<title>{escape(tip)}</title>"
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="5" fill="{fill}" '
            f'stroke="#445"{dash}/>'
            f'<text x="{x + 6}" y="{y + 14}"><tspan font-weight="bold">{box.order}.</tspan> '
            f"{escape(what)}</text>"
            f'<text x="{x + 6}" y="{y + 28}" fill="#333">{escape(task)}</text></g>')
