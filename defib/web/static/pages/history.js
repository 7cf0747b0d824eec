// #/history: the timeline of what happened (events and transitions) with a time slider;
// a transition opened shows its graph, configuration diff, log lines and why the scheduler
// decided what it did; replay it in the sandbox; from a failed action to its moment;
// explain any resource.
import { h, ensureStyle, errorView, svgView, diffView, stamp } from "../lib/webedit-common.js";

const RANGES = [["1h", "last hour"], ["12h", "last 12 hours"], ["24h", "last day"],
                ["168h", "last week"], ["", "everything"]];
const KINDS = ["", "transition", "operation", "config", "fencing", "membership", "node",
               "quorum", "dc"];

export async function render(root, api) {
  ensureStyle();
  const range = h("select", { id: "history-range" }, RANGES.map(([v, t]) =>
    h("option", { value: v, selected: v === "24h" ? true : undefined }, t)));
  const rsc = h("input", { id: "history-rsc", placeholder: "resource (optional)" });
  const kind = h("select", { id: "history-kind" }, KINDS.map((k) =>
    h("option", { value: k }, k || "every kind")));
  const slider = h("input", { type: "range", id: "history-slider", min: 0, max: 0, value: 0 });
  const when = h("span", { id: "slider-time", class: "muted" }, "");
  const table = h("table", { class: "we-timeline-table" });
  const timelineBox = h("div", { class: "we-timeline we-panel" }, table);
  const detail = h("div", { id: "transition-detail" });
  const explainBox = h("div", { id: "explain-result" });
  let events = [];
  let rows = [];

  const load = async () => {
    const q = new URLSearchParams();
    if (range.value) q.set("since", range.value);
    if (rsc.value.trim()) q.set("rsc", rsc.value.trim());
    if (kind.value) q.set("kind", kind.value);
    try {
      events = (await api.get(`/api/history?${q}`)).events;
    } catch (err) {
      table.replaceChildren();
      timelineBox.replaceChildren(errorView(err));
      return;
    }
    timelineBox.replaceChildren(table);
    drawTimeline();
  };

  const drawTimeline = () => {
    rows = events.map((e) => {
      const failed = e.kind === "operation" && e.detail && e.detail.failed;
      const opener = e.kind === "transition" && e.detail && e.detail.cause
        ? h("button", { type: "button", class: "open-transition", "data-n": e.transition,
                        onclick: () => openTransition(e.transition) }, `open ${e.transition}`)
        : null;
      const moment = failed ? h("button", { type: "button", class: "to-moment",
                                            onclick: () => toMoment(e) }, "its moment") : null;
      return h("tr", { class: failed ? "failed" : null, "data-ts": e.ts, "data-kind": e.kind },
        h("td", { class: "when" }, stamp(e.ts)), h("td", {}, e.kind),
        h("td", {}, e.summary, e.transition !== null && e.kind !== "transition"
          ? h("span", { class: "muted" }, ` [t${e.transition}]`) : null),
        h("td", { class: "actions" }, opener, moment));
    });
    table.replaceChildren(h("tr", {}, h("th", {}, "When"), h("th", {}, "Kind"),
      h("th", {}, "What"), h("th", {}, "")), ...rows);
    slider.max = Math.max(0, events.length - 1);
    slider.value = slider.max;
    slide();
    if (!events.length) table.append(h("tr", {}, h("td", { colspan: 4, class: "muted" },
      "nothing recorded in this range")));
  };

  // The slider walks through time: later events fade, the one at the slider is marked.
  const slide = () => {
    const at = Number(slider.value);
    rows.forEach((row, i) => {
      row.classList.toggle("future", i > at);
      row.classList.toggle("current", i === at);
    });
    when.textContent = events[at] ? stamp(events[at].ts) : "";
    if (rows[at]) rows[at].scrollIntoView({ block: "nearest" });
  };
  slider.addEventListener("input", slide);

  // From a failed action to its moment: the slider there, and the transition that reacted.
  const toMoment = (e) => {
    const index = events.indexOf(e);
    slider.value = index;
    slide();
    const reaction = events.find((x) => x.kind === "transition" && x.ts >= e.ts
                                 && x.detail && x.detail.cause && x.transition !== e.transition);
    const number = reaction ? reaction.transition : e.transition;
    if (number !== null && number !== undefined) openTransition(number);
  };

  const openTransition = async (n) => {
    detail.replaceChildren(h("p", { class: "muted" }, `opening transition ${n}…`));
    try {
      const t = await api.get(`/api/history/transitions/${n}`);
      detail.replaceChildren(h("div", { class: "we-panel", "data-transition": n },
        h("h3", {}, `Transition ${n}` + (t.node ? ` (pe-input-${n} on ${t.node})` : "")),
        h("div", { class: "buttons" },
          h("button", { type: "button", id: "replay", onclick: async () => {
            await api.post(`/api/history/transitions/${n}/replay`, {});
            location.hash = "#/sandbox";
          } }, "Replay in the sandbox")),
        h("pre", { class: "we-text", id: "transition-explanation" }, t.explanation),
        h("h3", {}, "Graph (replayed)"), svgView(t.svg),
        h("h3", {}, "Configuration diff"),
        t.diff ? diffView(t.diff) : h("p", { class: "muted" }, "no configuration change (or the "
                                        + "input before it is not kept)"),
        h("h3", {}, "Log"),
        h("pre", { class: "we-text" }, t.events.map((e) => `${stamp(e.ts)}  ${e.summary}`)
          .join("\n") || "(nothing recorded)")));
      detail.scrollIntoView({ block: "start" });
    } catch (err) {
      detail.replaceChildren(errorView(err));
    }
  };

  const explainName = h("input", { id: "explain-rsc", placeholder: "resource", list: "explain-names" });
  const names = h("datalist", { id: "explain-names" });
  api.get("/api/config/objects?source=live").then((data) => {
    const o = data.objects || {};
    const all = ["primitive", "group", "clone", "ms", "bundle"].flatMap((k) => o[k] || []);
    names.replaceChildren(...all.map((n) => h("option", { value: n })));
  }).catch(() => {});
  const explain = async () => {
    if (!explainName.value.trim()) return;
    try {
      const x = await api.get(`/api/explain/${encodeURIComponent(explainName.value.trim())}`);
      explainBox.replaceChildren(h("pre", { class: "we-text", id: "explain-text" }, x.text),
        h("details", {}, h("summary", {}, "Placement scores"), h("pre", { class: "we-text" }, x.scores)));
    } catch (err) {
      explainBox.replaceChildren(errorView(err));
    }
  };
  explainName.addEventListener("keydown", (e) => { if (e.key === "Enter") explain(); });

  for (const el of [range, kind]) el.addEventListener("change", load);
  rsc.addEventListener("change", load);
  root.replaceChildren(h("h2", {}, "History"),
    h("div", { class: "we-panel" }, h("h3", {}, "Why does it run there, or not?"),
      explainName, names, " ", h("button", { type: "button", id: "explain", onclick: explain }, "Explain"),
      explainBox),
    h("div", { class: "buttons" }, range, " ", kind, " ", rsc, " ",
      h("button", { type: "button", onclick: load }, "Refresh")),
    h("div", { class: "we-slider" }, h("span", {}, "Time"), slider, when),
    timelineBox, detail);
  const asked = (location.hash.split("?")[1] || "").match(/explain=([^&]+)/);
  if (asked) { explainName.value = decodeURIComponent(asked[1]); explain(); }
  await load();
}
