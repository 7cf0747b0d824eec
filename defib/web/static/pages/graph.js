// #/graph: the constraint graph, drawn here (plain SVG): resources, nodes, tickets and
// rules as boxes; order, colocation, location and ticket constraints as arrows labelled
// with their scores; a group's members and a clone's child as dotted lines. Drag the
// background to pan, the wheel (or + / −) to zoom, a box to move it; click a resource to
// see why it runs where it runs.
import { h, ensureStyle, errorView } from "../lib/webedit-common.js";

const SVG = "http://www.w3.org/2000/svg";
const COLOURS = { order: "#0b6bcb", colocation: "#1e7b34", location: "#c06000",
                  ticket: "#7b3fa0", member: "#9aa5b1" };
const FILL = { primitive: "#eef6ff", group: "#e8f5e9", clone: "#fff8e1", promotable: "#fdecea",
               bundle: "#f3e5f5", template: "#f2f3f4", node: "#263238", ticket: "#ede7f6",
               rule: "#fff3e0", missing: "#ffffff" };
const W = 120, HGT = 30;

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

// A force-directed layout: edges pull, every pair pushes; deterministic (a circle to start).
export function layout(nodes, edges, width = 1000, height = 700, rounds = 400) {
  const pos = new Map();
  const ideal = 170;
  const radius = Math.max(150, (ideal * Math.sqrt(nodes.length)) / 1.5);
  nodes.forEach((n, i) => {
    const angle = (2 * Math.PI * i) / Math.max(1, nodes.length);
    pos.set(n.id, { x: width / 2 + radius * Math.cos(angle),
                    y: height / 2 + radius * Math.sin(angle) });
  });
  for (let round = 0; round < rounds; round++) {
    const force = new Map(nodes.map((n) => [n.id, { x: 0, y: 0 }]));
    for (let i = 0; i < nodes.length; i++) {
      for (let j = i + 1; j < nodes.length; j++) {
        const a = pos.get(nodes[i].id), b = pos.get(nodes[j].id);
        let dx = a.x - b.x, dy = a.y - b.y;
        const d = Math.max(Math.hypot(dx, dy), 1);
        if (d > 3 * ideal) continue;  // far enough: no push (else the parts fly apart)
        const push = (ideal * ideal) / (d * d);
        dx *= push; dy *= push;
        force.get(nodes[i].id).x += dx; force.get(nodes[i].id).y += dy;
        force.get(nodes[j].id).x -= dx; force.get(nodes[j].id).y -= dy;
      }
    }
    for (const e of edges) {
      const a = pos.get(e.from), b = pos.get(e.to);
      if (!a || !b) continue;
      const dx = b.x - a.x, dy = b.y - a.y;
      const d = Math.max(Math.hypot(dx, dy), 1);
      const pull = ((d - ideal) / d) * 0.5;
      force.get(e.from).x += dx * pull; force.get(e.from).y += dy * pull;
      force.get(e.to).x -= dx * pull; force.get(e.to).y -= dy * pull;
    }
    for (const n of nodes) {  // a little gravity keeps unconnected parts near the middle
      const p = pos.get(n.id), f = force.get(n.id);
      f.x += (width / 2 - p.x) * 0.05;
      f.y += (height / 2 - p.y) * 0.05;
    }
    const step = 0.1 * (1 - round / rounds) + 0.01;
    for (const n of nodes) {
      const p = pos.get(n.id), f = force.get(n.id);
      const len = Math.hypot(f.x, f.y);
      const move = Math.min(len * step, 40);
      if (len > 0) { p.x += (f.x / len) * move; p.y += (f.y / len) * move; }
    }
  }
  return pos;
}

export async function render(root, api) {
  ensureStyle();
  const source = h("select", { id: "graph-source" },
    h("option", { value: "live" }, "the cluster"), h("option", { value: "sandbox" }, "my sandbox"));
  const filters = {};
  const legend = h("span", { class: "we-legend" }, Object.entries(COLOURS).map(([kind, colour]) => {
    filters[kind] = h("input", { type: "checkbox", checked: true, "data-kind": kind });
    return h("label", {}, filters[kind], " ", h("i", { class: kind, title: colour }), kind, " ");
  }));
  const stage = h("div", { class: "we-graph", id: "constraint-graph" });
  const side = h("div", { id: "graph-explain" });
  const zoomIn = h("button", { type: "button", id: "zoom-in" }, "+");
  const zoomOut = h("button", { type: "button", id: "zoom-out" }, "−");
  const fit = h("button", { type: "button", id: "zoom-fit" }, "fit");
  root.replaceChildren(h("h2", {}, "Constraint graph"),
    h("div", { class: "buttons" }, "Show ", source, " ", zoomIn, zoomOut, fit, " ", legend),
    stage, side);

  let view = { x: 0, y: 0, w: 1000, h: 700 };
  let drawn = null;
  const setView = () => drawn && drawn.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`);
  const zoom = (factor, cx = view.x + view.w / 2, cy = view.y + view.h / 2) => {
    view = { x: cx - (cx - view.x) * factor, y: cy - (cy - view.y) * factor,
             w: view.w * factor, h: view.h * factor };
    setView();
  };
  zoomIn.onclick = () => zoom(0.8);
  zoomOut.onclick = () => zoom(1.25);

  const explain = async (id) => {
    side.replaceChildren(h("p", { class: "muted" }, `explaining ${id}…`));
    try {
      const x = await api.get(`/api/explain/${encodeURIComponent(id)}`);
      side.replaceChildren(h("div", { class: "we-panel" }, h("pre", { class: "we-text", id: "graph-explain-text" }, x.text),
        h("a", { href: `#/history?explain=${encodeURIComponent(id)}` }, "more in History")));
    } catch (err) {
      side.replaceChildren(errorView(err));
    }
  };

  const draw = async () => {
    let data;
    try {
      data = await api.get(`/api/graph?source=${source.value}`);
    } catch (err) {
      stage.replaceChildren(errorView(err));
      return;
    }
    const edges = data.edges.filter((e) => filters[e.kind] ? filters[e.kind].checked : true);
    const pos = layout(data.nodes, edges);
    const xs = [...pos.values()].map((p) => p.x), ys = [...pos.values()].map((p) => p.y);
    const fitView = () => {
      view = xs.length ? { x: Math.min(...xs) - W, y: Math.min(...ys) - HGT * 2,
                           w: Math.max(...xs) - Math.min(...xs) + 2 * W,
                           h: Math.max(...ys) - Math.min(...ys) + 4 * HGT }
        : { x: 0, y: 0, w: 1000, h: 700 };
      setView();
    };
    const defs = svg("defs", {}, ...Object.entries(COLOURS).map(([kind, colour]) =>
      svg("marker", { id: `arrow-${kind}`, viewBox: "0 0 10 10", refX: 10, refY: 5,
                      markerWidth: 8, markerHeight: 8, orient: "auto-start-reverse" },
        svg("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: colour }))));
    const edgeLayer = svg("g", { class: "edges" });
    const nodeLayer = svg("g", { class: "vertices" });
    drawn = svg("svg", { xmlns: SVG, "font-family": "sans-serif", "font-size": 12 }, defs,
                edgeLayer, nodeLayer);
    const lines = [];
    const place = () => {
      for (const { e, path, label } of lines) {
        const a = pos.get(e.from), b = pos.get(e.to);
        // End at the target box's border (so the arrow head shows).
        const dx = b.x - a.x, dy = b.y - a.y;
        const scale = Math.min(Math.abs(dx) > 0 ? (W / 2) / Math.abs(dx) : Infinity,
                               Math.abs(dy) > 0 ? (HGT / 2) / Math.abs(dy) : Infinity, 1);
        path.setAttribute("d", `M ${a.x} ${a.y} L ${b.x - dx * scale} ${b.y - dy * scale}`);
        label.setAttribute("x", (a.x + b.x) / 2);
        label.setAttribute("y", (a.y + b.y) / 2 - 4);
      }
      for (const [id, g] of vertices) {
        const p = pos.get(id);
        g.setAttribute("transform", `translate(${p.x - W / 2} ${p.y - HGT / 2})`);
      }
    };
    for (const e of edges) {
      const negative = /^-/.test(e.label);
      const path = svg("path", { class: `edge ${e.kind}`, "data-from": e.from, "data-to": e.to,
        stroke: COLOURS[e.kind] || "#555", "stroke-width": e.kind === "member" ? 1 : 1.6,
        "stroke-dasharray": e.kind === "member" ? "3 3" : negative ? "7 4" : null, fill: "none",
        "marker-end": e.kind === "member" ? null : `url(#arrow-${e.kind})` },
        svg("title", {}, `${e.kind} ${e.constraint}: ${e.label}`));
      const label = svg("text", { class: "edge-label", "text-anchor": "middle",
                                  fill: COLOURS[e.kind] || "#555", "font-size": 11 }, e.label);
      edgeLayer.append(path, label);
      lines.push({ e, path, label });
    }
    const vertices = new Map();
    for (const n of data.nodes) {
      const dark = n.kind === "node";
      const running = n.running && n.running.length ? ` (on ${n.running.join(", ")})` : "";
      const g = svg("g", { class: `vertex ${n.kind}`, "data-id": n.id },
        svg("rect", { width: W, height: HGT, rx: n.kind === "node" ? 3 : 8,
                      fill: FILL[n.kind] || "#fff", stroke: n.kind === "missing" ? "#b3261e" : "#607080",
                      "stroke-dasharray": n.kind === "missing" ? "4 3" : null }),
        svg("text", { x: W / 2, y: 13, "text-anchor": "middle", fill: dark ? "#fff" : "#1d232a",
                      "font-weight": 600 }, n.id.length > 18 ? `${n.id.slice(0, 17)}…` : n.id),
        svg("text", { x: W / 2, y: 25, "text-anchor": "middle", "font-size": 10,
                      fill: dark ? "#c8d6e5" : "#6b7580" }, n.kind + (running ? " ●" : "")),
        svg("title", {}, `${n.id}: ${n.kind}${n.agent ? ` ${n.agent}` : ""}${running}${n.text ? `\n${n.text}` : ""}`));
      vertices.set(n.id, g);
      nodeLayer.append(g);
      let dragging = null;
      g.addEventListener("pointerdown", (ev) => {
        ev.stopPropagation();
        dragging = { x: ev.clientX, y: ev.clientY, moved: false };
        g.setPointerCapture(ev.pointerId);
      });
      g.addEventListener("pointermove", (ev) => {
        if (!dragging) return;
        const k = view.w / stage.clientWidth;
        const p = pos.get(n.id);
        p.x += (ev.clientX - dragging.x) * k; p.y += (ev.clientY - dragging.y) * k;
        dragging = { x: ev.clientX, y: ev.clientY, moved: true };
        place();
      });
      g.addEventListener("pointerup", () => {
        const click = dragging && !dragging.moved;
        dragging = null;
        if (click && !["node", "ticket", "rule", "missing"].includes(n.kind)) {
          for (const other of vertices.values()) other.classList.remove("selected");
          g.classList.add("selected");
          explain(n.id);
        }
      });
    }
    place();
    stage.replaceChildren(drawn);
    fitView();
    fit.onclick = fitView;
  };

  // Pan by dragging the background; zoom with the wheel around the pointer.
  let pan = null;
  stage.addEventListener("pointerdown", (ev) => { pan = { x: ev.clientX, y: ev.clientY }; });
  stage.addEventListener("pointermove", (ev) => {
    if (!pan) return;
    const k = view.w / stage.clientWidth;
    view.x -= (ev.clientX - pan.x) * k; view.y -= (ev.clientY - pan.y) * k;
    pan = { x: ev.clientX, y: ev.clientY };
    setView();
  });
  for (const end of ["pointerup", "pointerleave"]) stage.addEventListener(end, () => { pan = null; });
  stage.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const box = stage.getBoundingClientRect();
    const cx = view.x + ((ev.clientX - box.left) / box.width) * view.w;
    const cy = view.y + ((ev.clientY - box.top) / box.height) * view.h;
    zoom(ev.deltaY > 0 ? 1.15 : 1 / 1.15, cx, cy);
  }, { passive: false });
  source.addEventListener("change", draw);
  for (const box of Object.values(filters)) box.addEventListener("change", draw);
  await draw();
}
