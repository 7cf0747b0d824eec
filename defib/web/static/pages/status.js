// The status page: nodes, resources (by group, clone and bundle), failures, fail counts,
// tickets, tags and warnings, redrawn on every pushed status; actions on each of them,
// offered only when the user's rights allow them (the server refuses them anyway).
import { h } from "../app.js";

let unsubscribe = null;

const RESOURCE_ACTIONS = [
  // [action, label, right, applies(rsc, ctx)]
  ["start", "Start", "mayResources", () => true],
  ["stop", "Stop", "mayResources", () => true],
  ["promote", "Promote", "mayResources", (r, c) => c.promotable],
  ["demote", "Demote", "mayResources", (r, c) => c.promotable],
  ["move", "Move…", "mayConstraints", (r, c) => !c.inGroup],
  ["ban", "Ban…", "mayConstraints", (r, c) => !c.inGroup],
  ["clear", "Clear move/ban", "mayConstraints", (r, c) => c.hasCli],
  ["cleanup", "Cleanup", "admin", () => true],
  ["refresh", "Refresh", "admin", () => true],
  ["manage", "Manage", "mayResources", (r) => r.managed === false],
  ["unmanage", "Unmanage", "mayResources", (r) => r.managed !== false],
  ["maintenance-on", "Maintenance on", "mayResources", () => true],
  ["maintenance-off", "Maintenance off", "mayResources", () => true],
];
const TAG_ACTIONS = ["start", "stop", "manage", "unmanage", "cleanup", "refresh"];

export async function render(root, api) {
  const summary = h("section", { id: "summary" });
  const warnings = h("section", { id: "warnings" });
  const body = h("div", { id: "status-body" });
  const messages = h("section", { id: "messages", "aria-live": "polite" });
  const dialog = h("dialog", { id: "action-dialog" });
  root.replaceChildren(h("h2", {}, "Cluster status"), warnings, summary, messages, body, dialog);
  const ctx = { api, dialog, messages, status: null };
  if (api.user.rights && !api.user.rights.read) {
    summary.replaceChildren(h("p", { class: "error" },
      `${api.user.name} may not read the cluster status: the CIB's ACLs grant it nothing to read.`));
  }
  unsubscribe = api.onStatus((status) => {
    ctx.status = status;
    draw(ctx, summary, warnings, body);
  });
}

export function dispose() {
  if (unsubscribe) unsubscribe();
  unsubscribe = null;
}

// -- drawing ---------------------------------------------------------------------------------
function draw(ctx, summary, warnings, body) {
  const s = ctx.status;
  if (!s.ok) {
    summary.replaceChildren(h("p", { class: "error" }, s.error || "no status"));
    return;
  }
  const quorum = s.quorum || {};
  summary.replaceChildren(h("dl", { class: "facts" },
    h("dt", {}, "Cluster"), h("dd", {}, s.cluster || "?"),
    h("dt", {}, "DC"), h("dd", { id: "dc" }, s.dc ? s.dc.name : "none"),
    h("dt", {}, "Quorum"), h("dd", { id: "quorum" }, quorum.quorate ? "yes" : "NO",
      ` (votes ${quorum.total_votes}/${quorum.expected_votes})`),
    h("dt", {}, "CIB"), h("dd", { id: "cib-version" }, ((s.cib || {}).version || []).join(".")),
    h("dt", {}, "Updated"), h("dd", { id: "updated", "data-seq": s.seq },
      new Date(s.at * 1000).toLocaleTimeString())));
  warnings.replaceChildren(...(s.warnings || []).map((w) => h("p", { class: "warning" }, w)));
  body.replaceChildren(
    nodesTable(ctx), resourcesTable(ctx), failuresTable(ctx), failCountsTable(s),
    ticketsTable(s), tagsTable(ctx));
}

function nodesTable(ctx) {
  const s = ctx.status;
  const user = ctx.api.user;
  const members = new Map((s.nodes || []).map((n) => [n.name, n]));
  const rows = (s.cib_nodes || []).map((n) => {
    const member = members.get(n.name);
    const states = [];
    states.push(n.online ? "online" : (n.unclean ? "UNCLEAN" : "offline"));
    if (n.standby) states.push("standby");
    if (n.maintenance) states.push("maintenance");
    if (s.dc && s.dc.name === n.name) states.push("DC");
    const actions = [];
    if (user.mayNodes) {
      actions.push(n.standby
        ? button("Online", () => act(ctx, `/api/nodes/${n.name}/online`, {}, `${n.name} online`))
        : button("Standby", () => act(ctx, `/api/nodes/${n.name}/standby`, {}, `${n.name} standby`)));
      actions.push(button(n.maintenance ? "End maintenance" : "Maintenance", () =>
        act(ctx, `/api/nodes/${n.name}/maintenance`, { on: !n.maintenance }, `${n.name} maintenance`)));
    }
    if (user.admin) actions.push(button("Fence…", () => confirmFence(ctx, n.name), "danger"));
    return h("tr", { "data-node": n.name, class: n.online ? "" : "down" },
      h("td", {}, n.name), h("td", { class: "state" }, states.join(", ")),
      h("td", {}, member && member.links ? member.links.map((up) => (up ? "▲" : "▼")).join("") : ""),
      h("td", {}, String(n.resources_running)), h("td", { class: "actions" }, actions));
  });
  return h("section", { id: "nodes" }, h("h3", {}, "Nodes"),
    h("table", {}, h("thead", {}, h("tr", {}, ["Node", "State", "Links", "Resources", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, rows)));
}

function resourcesTable(ctx) {
  const rows = [];
  const cli = new Set((ctx.status.cli_constraints || []).map((c) => c.rsc));
  for (const rsc of ctx.status.resources || []) addResource(ctx, rows, rsc, 0, { cli });
  return h("section", { id: "resources" }, h("h3", {}, "Resources"),
    rows.length ? h("table", {}, h("thead", {}, h("tr", {},
      ["Resource", "Agent", "State", "Where", ""].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows)) : h("p", { class: "muted" }, "No resources configured."));
}

function addResource(ctx, rows, rsc, depth, info) {
  const indent = { class: `depth${depth}` };
  if (rsc.kind === "resource") {
    const where = (rsc.nodes || []).map((n) => n.name).join(", ");
    const flags = [];
    if (rsc.failed) flags.push("FAILED");
    if (rsc.blocked) flags.push("blocked");
    if (rsc.managed === false) flags.push("unmanaged");
    const target = info.actionId || rsc.id;
    const context = { promotable: !!info.promotable, inGroup: !!info.inGroup,
                      hasCli: info.cli.has(target) };
    rows.push(h("tr", { "data-rsc": rsc.id, class: rsc.failed ? "failed" : "" },
      h("td", indent, rsc.id), h("td", { class: "muted" }, rsc.resource_agent || ""),
      h("td", { class: "role" }, [rsc.role, ...flags].join(" ")),
      h("td", { class: "where" }, where),
      h("td", { class: "actions" }, info.actionId ? null : actionsButton(ctx, rsc.id, rsc, context))));
    return;
  }
  const kindText = rsc.kind === "clone" ? (rsc.multi_state ? "promotable clone" : "clone")
    : rsc.kind === "bundle" ? `bundle (${rsc.container_type})` : rsc.kind;
  const context = { promotable: !!rsc.multi_state, inGroup: !!info.inGroup,
                    hasCli: info.cli.has(rsc.id) };
  const unmanaged = rsc.managed === false ? " unmanaged" : "";
  rows.push(h("tr", { "data-rsc": rsc.id, class: "container" },
    h("td", indent, h("strong", {}, rsc.id)), h("td", { class: "muted" }, kindText),
    h("td", {}, unmanaged), h("td", {}, ""),
    h("td", { class: "actions" }, info.actionId ? null : actionsButton(ctx, rsc.id, rsc, context))));
  for (const child of rsc.children || []) {
    addResource(ctx, rows, child, depth + 1, {
      cli: info.cli, inGroup: rsc.kind === "group",
      promotable: info.promotable || !!rsc.multi_state,
      // Clone instances and what runs in a bundle are acted on through the clone/bundle.
      actionId: info.actionId || (rsc.kind === "clone" || rsc.kind === "bundle" ? rsc.id : null),
    });
  }
}

function failuresTable(ctx) {
  const failures = ctx.status.failures || [];
  if (!failures.length) return h("section", { id: "failures" });
  // web_monitor_1000 -> web; db:1_start_0 -> db (a clone instance: the clone's primitive).
  const rsc = (f) => f.op_key.replace(/_[a-z_]+_\d+$/, "").replace(/:\d+$/, "");
  return h("section", { id: "failures" }, h("h3", {}, "Failed resource actions"),
    h("table", {}, h("tbody", {}, failures.map((f) => h("tr", { class: "failed" },
      h("td", {}, f.op_key), h("td", {}, f.node), h("td", {}, `${f.exitstatus} (${f.rc})`),
      h("td", {}, f.status_text), h("td", { class: "muted" }, f.reason || ""),
      h("td", { class: "actions" }, ctx.api.user.admin ? button("Cleanup", () =>
        act(ctx, `/api/resources/${encodeURIComponent(rsc(f))}/cleanup`, { node: f.node },
            `cleanup ${rsc(f)} on ${f.node}`)) : null))))));
}

function failCountsTable(s) {
  const rows = [];
  for (const [node, per] of Object.entries(s.fail_counts || {})) {
    for (const [rsc, info] of Object.entries(per)) {
      rows.push(h("tr", {}, h("td", {}, node), h("td", {}, rsc),
        h("td", {}, info["fail-count"] || info.fail_count || JSON.stringify(info))));
    }
  }
  if (!rows.length) return h("section", { id: "fail-counts" });
  return h("section", { id: "fail-counts" }, h("h3", {}, "Fail counts"),
    h("table", {}, h("tbody", {}, rows)));
}

function ticketsTable(s) {
  const tickets = s.tickets || [];
  if (!tickets.length) return h("section", { id: "tickets" });
  return h("section", { id: "tickets" }, h("h3", {}, "Tickets"),
    h("table", {}, h("tbody", {}, tickets.map((t) => h("tr", {},
      h("td", {}, t.id), h("td", {}, t.status), h("td", {}, t.standby === "true" ? "standby" : ""))))));
}

function tagsTable(ctx) {
  const tags = Object.entries(ctx.status.tags || {});
  if (!tags.length) return h("section", { id: "tags" });
  const user = ctx.api.user;
  return h("section", { id: "tags" }, h("h3", {}, "Tags"),
    h("table", {}, h("tbody", {}, tags.map(([tag, members]) => h("tr", { "data-tag": tag },
      h("td", {}, tag), h("td", {}, members.join(", ")),
      h("td", { class: "actions" }, TAG_ACTIONS.filter((a) =>
        (a === "cleanup" || a === "refresh") ? user.admin : user.mayResources).map((a) =>
        button(a, () => act(ctx, `/api/tags/${tag}/${a}`, {}, `${a} ${tag}`)))))))));
}

// -- actions ---------------------------------------------------------------------------------
function button(label, onclick, cls) {
  return h("button", { type: "button", class: cls || "", onclick, "data-action": label }, label);
}

function actionsButton(ctx, id, rsc, context) {
  const user = ctx.api.user;
  const offered = RESOURCE_ACTIONS.filter(([, , right, applies]) => user[right] && applies(rsc, context));
  if (!offered.length) return null;
  return button("Actions", () => openActions(ctx, id, offered), "actions-open");
}

function openActions(ctx, id, offered) {
  const dialog = ctx.dialog;
  const nodes = (ctx.status.cib_nodes || []).map((n) => n.name);
  const nodeSelect = h("select", { name: "node" }, h("option", { value: "" }, "(current node)"),
    nodes.map((n) => h("option", { value: n }, n)));
  const lifetime = h("input", { name: "lifetime", placeholder: "e.g. 1h, PT30M (empty: until cleared)" });
  const form = h("div", { class: "move-options" },
    h("label", {}, "Node ", nodeSelect), h("label", {}, "Lifetime ", lifetime));
  const run = (action) => {
    dialog.close();
    let path = action, body = {};
    if (action === "maintenance-on" || action === "maintenance-off") {
      path = "maintenance"; body = { on: action === "maintenance-on" };
    }
    if (action === "move" || action === "ban" || action === "clear") {
      body = { node: nodeSelect.value || null, lifetime: lifetime.value || null };
    }
    act(ctx, `/api/resources/${encodeURIComponent(id)}/${path}`, body, `${action} ${id}`);
  };
  dialog.replaceChildren(h("form", { method: "dialog" },
    h("h3", {}, `Resource ${id}`),
    offered.some(([a]) => a === "move" || a === "ban" || a === "clear") ? form : null,
    h("div", { class: "buttons" }, offered.map(([action, label]) =>
      button(label, () => run(action), action === "stop" ? "danger" : ""))),
    h("div", { class: "buttons" }, h("button", { value: "cancel", class: "link" }, "Cancel"))));
  dialog.showModal();
}

function confirmFence(ctx, node) {
  const dialog = ctx.dialog;
  dialog.replaceChildren(h("form", { method: "dialog" },
    h("h3", {}, `Fence ${node}?`),
    h("p", {}, `${node} will be powered off or rebooted by its fence device; everything it runs stops at once.`),
    h("div", { class: "buttons" },
      h("button", { value: "cancel", class: "link" }, "Cancel"),
      button(`Fence ${node}`, () => { dialog.close(); act(ctx, `/api/nodes/${node}/fence`, { force: true }, `fence ${node}`); }, "danger"))));
  dialog.showModal();
}

async function act(ctx, path, body, what) {
  const line = h("p", { class: "pending" }, `${what}…`);
  ctx.messages.prepend(line);
  try {
    const answer = await ctx.api.post(path, body);
    line.className = "ok";
    line.textContent = `${what}: ${answer.text || "done"}`;
  } catch (err) {
    if (err.status === 428 && err.body && err.body.confirm) {
      // Dangerous (as the command line would ask): say why, and do it only when confirmed.
      line.remove();
      confirmDanger(ctx, what, err.body.text, () => act(ctx, path, { ...body, force: true }, what));
      return;
    }
    line.className = "error";
    line.textContent = `${what}: ${err.message}`;
  }
  while (ctx.messages.children.length > 6) ctx.messages.lastChild.remove();
}

function confirmDanger(ctx, what, text, proceed) {
  const dialog = ctx.dialog;
  dialog.replaceChildren(h("form", { method: "dialog", class: "confirm" },
    h("h3", {}, `${what}?`), h("p", { class: "warning" }, text),
    h("div", { class: "buttons" },
      h("button", { value: "cancel", class: "link" }, "Cancel"),
      button(`Yes, ${what}`, () => { dialog.close(); proceed(); }, "danger"))));
  dialog.showModal();
}
