// #/sandbox: every change previewed before it is applied. What the user's sandbox changes,
// what the cluster would do before and after (transition summary and graph), after what-if
// events; then apply it (only if the cluster did not change meanwhile) or discard it.
import { h, ensureStyle, reportList, errorView, svgView, diffView, mayWrite }
  from "../lib/webedit-common.js";

const EVENTS = [
  ["node_fail", "node fails", "node"], ["node_down", "node leaves cleanly", "node"],
  ["node_up", "node joins", "node"],
  ["op_inject", "operation result", "RSC_TASK_INTERVALMS@NODE=RC, e.g. web_monitor_10000@node1=7"],
  ["op_fail", "action fails when run", "RSC_TASK_INTERVALMS@NODE=RC, e.g. web_start_0@node2=1"],
  ["ticket_grant", "ticket granted", "ticket"], ["ticket_revoke", "ticket revoked", "ticket"],
  ["ticket_standby", "ticket to standby", "ticket"], ["ticket_activate", "ticket activated", "ticket"],
];

export async function render(root, api) {
  ensureStyle();
  const events = [];
  const head = h("div", { id: "sandbox-state" });
  const previewBox = h("div", { id: "preview" });
  const messages = h("div", { id: "sandbox-messages" });
  const eventList = h("span", { class: "we-events", id: "event-list" });

  const refresh = async () => {
    const state = await api.get("/api/sandbox");
    drawState(state);
    if (state.exists) await preview();
    else previewBox.replaceChildren();
  };

  const drawState = (state) => {
    if (!state.exists) {
      head.replaceChildren(h("div", { class: "we-panel" },
        h("p", {}, "You have no sandbox yet. Make a change on the ",
          h("a", { href: "#/edit" }, "Configuration"), " page, or copy the cluster now."),
        h("button", { type: "button", id: "new-sandbox", onclick: newCopy }, "Copy the cluster")));
      return;
    }
    const s = state.sandbox;
    const writable = mayWrite(api) && !state.replay;
    head.replaceChildren(h("div", { class: "we-panel" },
      h("p", {}, h("strong", {}, s.name), ` — a copy of ${s.source} at version ${s.version}, `
        + `taken ${s.created}`),
      state.replay ? h("p", { class: "warning" }, "This sandbox replays a saved scheduler "
        + "input: change it and preview what the scheduler would have done. It cannot be "
        + "applied; copy the cluster to make a change to apply.") : null,
      state.stale ? h("div", { class: "warning", id: "stale" },
        h("p", {}, "The cluster's configuration changed since this copy was taken: applying "
          + "would be refused. Copy the cluster again and redo the change."),
        h("pre", { class: "we-text" }, state.stale.text)) : null,
      h("h3", {}, "What it changes"),
      state.changes.length ? h("div", { class: "we-changes", id: "changes" },
        state.changes.map((c) => h("div", { class: "object", "data-id": c.id },
          h("h4", {}, h("span", { class: c.change }, c.change), ` ${c.kind} ${c.id}`),
          diffView([...(c.before || "").split("\n").filter(Boolean).map((l) => `-${l}`),
                    ...(c.after || "").split("\n").filter(Boolean).map((l) => `+${l}`)]
            .join("\n")))),
        h("details", {}, h("summary", {}, "As one diff"), diffView(state.diff)))
        : h("p", { class: "muted", id: "no-change" },
            "Nothing yet: the sandbox is the cluster's configuration as copied."),
      h("div", { class: "buttons" },
        writable ? h("button", { type: "button", id: "apply", disabled: !state.diff || undefined,
                                 onclick: () => commit(false) }, "Apply to the cluster") : null,
        h("button", { type: "button", id: "discard", class: "danger", onclick: discard }, "Discard"),
        h("button", { type: "button", id: "new-sandbox", onclick: newCopy }, "Copy the cluster again"),
        h("a", { href: "#/edit" }, "Edit it"))));
  };

  const preview = async () => {
    previewBox.replaceChildren(h("p", { class: "muted" }, "simulating…"));
    const eventsBody = {};
    for (const [key, value] of events) (eventsBody[key] = eventsBody[key] || []).push(value);
    try {
      const shown = await api.post("/api/sandbox/simulate", { events: eventsBody });
      previewBox.replaceChildren(h("div", { class: "we-cols" },
        side("before", shown.before), side("after", shown.after)));
    } catch (err) {
      previewBox.replaceChildren(errorView(err));
    }
  };

  const side = (which, data) => h("div", { class: "we-panel", id: `preview-${which}` },
    h("h3", {}, which === "before" ? "Before: the cluster as it is" : "After: with your change"),
    data.summary.length ? h("ul", { class: "we-summary" }, data.summary.map((s) => h("li", {}, s)))
      : h("p", { class: "muted" }, "nothing to do"),
    data.errors.length ? h("p", { class: "error" }, data.errors.join("\n")) : null,
    svgView(data.svg),
    h("details", {}, h("summary", {}, "Simulation (crm_simulate's output)"),
      h("pre", { class: "we-text" }, data.output)));

  const commit = async (confirmed) => {
    messages.replaceChildren();
    try {
      const done = await api.post("/api/sandbox/commit", { confirm: confirmed });
      messages.replaceChildren(h("p", { class: "ok", id: "committed" }, done.changed
        ? `Applied: the cluster's configuration is now at epoch ${done.epoch}.`
        : "Nothing to apply."), reportList(done.reports || []));
      await refresh();
    } catch (err) {
      const body = err.body || {};
      if (body.needs_confirmation) {
        messages.replaceChildren(h("div", { class: "warning", id: "confirm" },
          h("p", {}, "This change needs a confirmation:"), reportList(body.reports),
          h("button", { type: "button", class: "danger", id: "confirm-apply",
                        onclick: () => commit(true) }, "Apply anyway"),
          h("button", { type: "button", onclick: () => messages.replaceChildren() }, "Cancel")));
      } else {
        messages.replaceChildren(h("div", { class: "error", id: "commit-refused" },
          errorView(err), body.stale ? h("pre", { class: "we-text" }, body.stale.text) : null));
      }
    }
  };

  const discard = async () => {
    await api.del("/api/sandbox");
    messages.replaceChildren(h("p", { class: "ok" }, "Sandbox discarded."));
    await refresh();
  };

  const newCopy = async () => {
    try {
      drawState(await api.post("/api/sandbox", {}));
      await preview();
    } catch (err) {
      messages.replaceChildren(errorView(err));
    }
  };

  // What-if events: kept on the page, applied to both sides of every preview.
  const kind = h("select", { id: "event-kind" }, EVENTS.map(([key, title]) =>
    h("option", { value: key }, title)));
  const value = h("input", { id: "event-value", placeholder: EVENTS[0][2] });
  kind.addEventListener("change", () => {
    value.placeholder = EVENTS.find(([key]) => key === kind.value)[2];
  });
  const drawEvents = () => eventList.replaceChildren(...events.map(([key, v], i) =>
    h("span", { class: "event" }, `${EVENTS.find(([k]) => k === key)[1]}: ${v} `,
      h("button", { type: "button", class: "link", onclick: () => {
        events.splice(i, 1); drawEvents(); preview();
      } }, "×"))));
  const addEvent = h("button", { type: "button", id: "add-event", onclick: () => {
    if (!value.value.trim()) return;
    events.push([kind.value, value.value.trim()]);
    value.value = "";
    drawEvents();
    preview();
  } }, "Add event");

  root.replaceChildren(h("h2", {}, "Sandbox"), head,
    h("div", { class: "we-panel" }, h("h3", {}, "What if…"),
      h("p", { class: "muted" }, "Events to simulate on both sides (nothing is recorded)."),
      kind, " ", value, " ", addEvent, " ", eventList),
    messages, previewBox);
  await refresh();
}
