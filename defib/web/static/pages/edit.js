// #/edit: the configuration, as crmsh text validated as it is typed, and as forms driven by
// the agents' metadata. Every change lands in the user's sandbox; #/sandbox previews it and
// applies it to the cluster.
import { h, ensureStyle, debounce, reportList, errorView, pairRows, diffView }
  from "../lib/webedit-common.js";

const TABS = [
  ["text", "Configuration text"], ["primitive", "Primitive"], ["group", "Group"],
  ["clone", "Clone"], ["constraint", "Constraints, tickets, tags"],
  ["defaults", "Properties and defaults"], ["objects", "Objects"],
];
// What has no form is one statement away in the text: a starting point for each.
const SNIPPETS = [
  ["bundle", "bundle NAME docker image=IMAGE replicas=2 \\\n\tnetwork control-port=3121 \\\n\tprimitive RSC"],
  ["template", "rsc_template NAME ocf:heartbeat:Dummy \\\n\top monitor interval=10s"],
  ["promotable clone", "clone NAME RSC \\\n\tmeta promotable=true promoted-max=1"],
  ["alert", "alert NAME /usr/share/pacemaker/alerts/alert_file.sh.sample \\\n\tto /var/log/cluster-alerts.log"],
  ["fencing topology", "fencing_topology \\\n\tNODE: DEVICE"],
  ["ACL role", "role NAME \\\n\tread xpath:/cib"],
  ["ACL target", "acl_target USER ROLE"],
  ["location rule", "location NAME RSC \\\n\trule -inf: #uname eq NODE"],
  ["order with sets", "order NAME Mandatory: ( A B ) C"],
  ["colocation with sets", "colocation NAME inf: ( A B ) C"],
];

let cancel = [];

export function dispose() {
  for (const fn of cancel) fn();
  cancel = [];
}

export async function render(root, api) {
  ensureStyle();
  const result = h("div", { id: "edit-result" });
  const body = h("div", { id: "edit-body" });
  const tabs = h("div", { class: "we-tabs" });
  const ctx = { api, result, show: null, objects: null };
  const show = async (name) => {
    for (const b of tabs.children) b.classList.toggle("active", b.dataset.tab === name);
    for (const fn of cancel) fn();
    cancel = [];
    // Each tab draws into a panel of its own: a tab still loading when another is chosen
    // finishes into a panel no longer shown.
    const panel = h("div", { "data-tab-panel": name });
    body.replaceChildren(panel);
    result.replaceChildren();
    const objects = await api.get("/api/config/objects?source=sandbox").catch(() => null);
    if (!panel.isConnected) return;
    ctx.objects = objects;
    await BUILDERS[name](panel, ctx);
  };
  ctx.show = show;
  for (const [name, title] of TABS) {
    tabs.append(h("button", { type: "button", "data-tab": name, onclick: () => show(name) },
                  title));
  }
  root.replaceChildren(
    h("h2", {}, "Configuration"),
    h("p", { class: "muted" }, "Changes are made in your sandbox, never directly in the "
      + "cluster: preview them, then apply them, on the ",
      h("a", { href: "#/sandbox" }, "Sandbox"), " page."),
    tabs, body, result);
  const wanted = (location.hash.split("?")[1] || "").match(/tab=([a-z]+)/);
  await show(wanted ? wanted[1] : "text");
}

// What a change did: its reports, and the link to the preview.
function changed(ctx, answer) {
  ctx.result.replaceChildren(
    h("div", { class: "we-panel", id: "change-done" },
      h("p", { class: "we-ok" }, "Saved in your sandbox ",
        h("strong", {}, answer.sandbox ? answer.sandbox.name : ""), ". ",
        h("a", { href: "#/sandbox", id: "to-sandbox" }, "Preview and apply it →")),
      answer.reports && answer.reports.length ? reportList(answer.reports) : null,
      answer.text ? h("pre", { class: "we-text" }, answer.text) : null,
      answer.diff ? h("details", {}, h("summary", {}, "What the sandbox changes"),
                      diffView(answer.diff)) : null));
}

function refused(ctx, err) {
  ctx.result.replaceChildren(h("div", { class: "we-panel", id: "change-refused" },
    h("p", { class: "error" }, "Refused: nothing was changed."),
    errorView(err), err.body && err.body.text ? h("pre", { class: "we-text" }, err.body.text)
      : null));
}

async function submitForm(ctx, form) {
  try {
    changed(ctx, await ctx.api.post("/api/config/objects", form));
  } catch (err) {
    refused(ctx, err);
  }
}

function field(label, input, help) {
  return h("label", {}, h("span", { class: "name" }, label), input,
           help ? h("div", { class: "help" }, help) : null);
}

function select(name, values, value = "") {
  return h("select", { name }, values.map((v) =>
    h("option", { value: v, selected: v === value ? true : undefined }, v)));
}

function names(ctx, ...kinds) {
  const objects = (ctx.objects && ctx.objects.objects) || {};
  return kinds.flatMap((k) => objects[k] || []);
}

// -- the whole configuration as text -----------------------------------------------------------
async function textTab(body, ctx) {
  const { api } = ctx;
  const data = await api.get("/api/config/text?source=sandbox");
  let base = data.base;
  const gutter = h("div", { class: "we-gutter", "aria-hidden": "true" });
  const area = h("textarea", { id: "config-text", spellcheck: "false", wrap: "off" });
  area.value = data.text;
  const status = h("div", { id: "validate-status", class: "muted" }, "");
  const reports = h("div", { id: "validate-reports" });
  let bad = new Set();
  const paintGutter = () => {
    const count = area.value.split("\n").length;
    gutter.replaceChildren(...Array.from({ length: count }, (_, i) =>
      h("div", { class: bad.has(i + 1) ? "bad" : null }, String(i + 1))));
    gutter.scrollTop = area.scrollTop;
  };
  const goTo = (r) => {
    if (!r.line) return;
    const lines = area.value.split("\n");
    let at = 0;
    for (let i = 0; i < r.line - 1 && i < lines.length; i++) at += lines[i].length + 1;
    at += Math.max(0, (r.column || 1) - 1);
    area.focus();
    area.setSelectionRange(at, at);
  };
  let asked = 0;
  const validate = debounce(async () => {
    const mine = ++asked;
    status.textContent = "checking…";
    try {
      const answer = await api.post("/api/config/validate?source=sandbox", { text: area.value });
      if (mine !== asked) return;  // a newer check is on its way
      const problems = answer.reports.filter((r) => r.severity !== "info");
      bad = new Set(problems.filter((r) => r.severity === "error").map((r) => r.line));
      status.className = answer.ok ? "we-ok" : "error";
      status.textContent = answer.ok ? "✓ valid" + (problems.length ? " (with warnings)" : "")
        : `✗ ${problems.filter((r) => r.severity === "error").length} error(s): it cannot be applied`;
      reports.replaceChildren(reportList(problems, goTo));
    } catch (err) {
      status.className = "error";
      status.textContent = err.message;
    }
    paintGutter();
  }, 350);
  cancel.push(validate.cancel);
  area.addEventListener("input", () => { paintGutter(); validate(); });
  area.addEventListener("scroll", () => { gutter.scrollTop = area.scrollTop; });
  const apply = h("button", { id: "apply-text", type: "button", onclick: async () => {
    validate.cancel();
    try {
      const answer = await api.put("/api/config/text", { text: area.value, base });
      base = (await api.get("/api/config/text?source=sandbox")).base;
      changed(ctx, answer);
    } catch (err) {
      refused(ctx, err);
      if (err.reports) {
        bad = new Set(err.reports.filter((r) => r.line).map((r) => r.line));
        paintGutter();
      }
    }
  } }, "Save in sandbox");
  const reload = h("button", { type: "button", onclick: () => ctx.show("text") }, "Reload");
  const snippets = h("div", { class: "buttons" }, h("span", { class: "muted" }, "Insert: "),
    SNIPPETS.map(([title, text]) => h("button", { type: "button", onclick: () => {
      area.value = area.value.replace(/\n*$/, "\n") + text + "\n";
      paintGutter();
      validate();
    } }, title)));
  body.append(h("div", { class: "we-panel" },
    h("p", { class: "muted" }, "The whole configuration of your sandbox, in crmsh syntax: it "
      + "is checked as you type, by the same parser and checks as defib configure."),
    snippets, h("div", { class: "we-editor" }, gutter, area), status, reports,
    h("div", { class: "buttons" }, apply, reload)));
  paintGutter();
  validate();
}

// -- a primitive, from its agent's metadata --------------------------------------------------
async function primitiveTab(body, ctx, initial = null) {
  const { api } = ctx;
  const cls = select("class", ["ocf", "stonith", "lsb", "systemd"]);
  const search = h("input", { id: "agent-search", placeholder: "filter agents" });
  const list = h("select", { id: "agent-list", size: 8 });
  const form = h("form", { class: "we-form", id: "primitive-form" });
  let agents = [];
  const fill = () => {
    const want = search.value.toLowerCase();
    list.replaceChildren(...agents.filter((a) => a.toLowerCase().includes(want))
      .map((a) => h("option", { value: a }, a)));
  };
  const loadClass = async () => {
    agents = (await api.get(`/api/agents?class=${encodeURIComponent(cls.value)}`)).agents;
    fill();
  };
  cls.addEventListener("change", loadClass);
  search.addEventListener("input", fill);
  list.addEventListener("change", () => agentForm(form, ctx, list.value));
  const existing = select("existing", ["", ...names(ctx, "primitive")]);
  existing.addEventListener("change", async () => {
    if (!existing.value) return;
    const obj = await api.get(`/api/config/objects/${encodeURIComponent(existing.value)}?source=sandbox`);
    await agentForm(form, ctx, obj.form.agent, obj.form);
  });
  body.append(h("div", { class: "we-cols" },
    h("div", { class: "we-panel" }, h("h3", {}, "Agent"), field("Class", cls), search,
      h("div", {}, list), field("Or edit", existing)),
    h("div", { class: "we-panel" }, form)));
  await loadClass();
  if (initial) await agentForm(form, ctx, initial.agent, initial);
  else form.append(h("p", { class: "muted" }, "Choose an agent: its parameters, their types, "
                                               + "defaults and help come from its metadata."));
}

function paramInput(p, value) {
  const name = `param-${p.name}`;
  if (p.choices && p.choices.length) return select(name, ["", ...p.choices], value || "");
  if (p.type === "boolean") return select(name, ["", "true", "false"], value || "");
  return h("input", { name, value: value || "", placeholder: p.default ? `default: ${p.default}` : "",
                      type: p.type === "integer" ? "number" : "text" });
}

async function agentForm(form, ctx, spec, values = null) {
  form.replaceChildren(h("p", { class: "muted" }, `reading ${spec}…`));
  let meta;
  try {
    meta = await ctx.api.get(`/api/agents/${encodeURIComponent(spec)}`);
  } catch (err) {
    form.replaceChildren(errorView(err));
    return;
  }
  const v = values || {};
  const id = h("input", { id: "primitive-id", name: "id", value: v.id || "", required: true });
  const params = h("fieldset", {}, h("legend", {}, "Parameters (* required)"),
    meta.parameters.filter((p) => !p.deprecated || (v.params || {})[p.name]).map((p) =>
      h("label", { class: p.required ? "required" : null, title: p.longdesc || p.shortdesc },
        h("span", { class: "name" }, p.name), paramInput(p, (v.params || {})[p.name]),
        h("span", { class: "muted" }, ` ${p.type}${p.unique ? ", unique" : ""}`),
        p.shortdesc ? h("div", { class: "help" }, p.shortdesc) : null,
        p.longdesc && p.longdesc !== p.shortdesc
          ? h("details", { class: "long" }, h("summary", {}, "more"), p.longdesc) : null)));
  const metaRows = pairRows("Meta attributes", meta.meta.map((m) => m.name), v.meta);
  const util = pairRows("Utilization", ["cpu", "memory"], v.utilization);
  const opRows = h("div", { class: "we-rows", id: "op-rows" });
  const addOp = (op = {}) => {
    const row = h("div", { class: "row op" },
      h("input", { class: "op-name", value: op.name || "", placeholder: "operation" }),
      h("input", { class: "op-interval", value: op.interval || "", placeholder: "interval" }),
      h("input", { class: "op-timeout", value: op.timeout || "", placeholder: "timeout" }),
      h("input", { class: "op-role", value: op.role || "", placeholder: "role" }),
      h("button", { type: "button", onclick: () => row.remove() }, "×"));
    opRows.append(row);
  };
  const ops = v.ops || meta.actions.filter((a) => a.name === "monitor" && !a.role).slice(0, 1)
    .map((a) => ({ name: "monitor", interval: a.interval, timeout: a.timeout }));
  ops.forEach(addOp);
  form.replaceChildren(
    h("h3", {}, meta.agent), h("p", {}, meta.shortdesc),
    meta.longdesc ? h("details", {}, h("summary", {}, "About this agent"), meta.longdesc) : null,
    field("Id", id), params, metaRows, util,
    h("fieldset", {}, h("legend", {}, "Operations (start, stop and the rest get the agent's "
                                     + "defaults)"), opRows,
      h("button", { type: "button", onclick: () => addOp() }, "+ operation")),
    h("button", { type: "submit", id: "create-primitive" }, values ? "Save" : "Create"));
  form.onsubmit = async (event) => {
    event.preventDefault();
    const paramValues = {};
    for (const el of params.querySelectorAll("[name^=param-]")) {
      if (el.value !== "") paramValues[el.name.slice(6)] = el.value;
    }
    const opList = [...opRows.querySelectorAll(".op")].map((row) => {
      const op = {};
      for (const key of ["name", "interval", "timeout", "role"]) {
        const value = row.querySelector(`.op-${key}`).value.trim();
        if (value) op[key] = value;
      }
      return op;
    }).filter((op) => op.name);
    await submitForm(ctx, { kind: "primitive", id: id.value.trim(), agent: meta.agent,
                            params: paramValues, meta: metaRows.values(),
                            utilization: util.values(), ops: opList });
  };
}

// -- groups (ordered), clones ------------------------------------------------------------------
async function groupTab(body, ctx, initial = null) {
  const id = h("input", { name: "id", id: "group-id", value: initial ? initial.id : "" });
  const members = h("ol", { id: "group-members" });
  const addMember = (name) => {
    const li = h("li", { "data-name": name }, name, " ",
      h("button", { type: "button", title: "earlier", onclick: () => li.previousSibling
        && members.insertBefore(li, li.previousSibling) }, "↑"),
      h("button", { type: "button", title: "later", onclick: () => li.nextSibling
        && members.insertBefore(li.nextSibling, li) }, "↓"),
      h("button", { type: "button", onclick: () => li.remove() }, "×"));
    members.append(li);
  };
  (initial ? initial.members : []).forEach(addMember);
  const pick = select("add", ["", ...names(ctx, "primitive")]);
  pick.addEventListener("change", () => { if (pick.value) addMember(pick.value); pick.value = ""; });
  const existing = select("existing", ["", ...names(ctx, "group")], initial ? initial.id : "");
  existing.addEventListener("change", async () => {
    if (!existing.value) return;
    const obj = await ctx.api.get(`/api/config/objects/${encodeURIComponent(existing.value)}?source=sandbox`);
    body.replaceChildren();
    await groupTab(body, ctx, obj.form);
  });
  const meta = pairRows("Meta attributes", ["target-role", "is-managed", "resource-stickiness"],
                        initial ? initial.meta : {});
  const form = h("form", { class: "we-form we-panel" },
    h("p", { class: "muted" }, "A group starts its members in this order on one node (and stops "
      + "them in reverse). Choose an existing group to reorder it."),
    field("Edit existing", existing), field("Id", id), h("div", {}, "Members, in order:"), members,
    field("Add", pick), meta, h("button", { type: "submit", id: "save-group" }, "Save group"));
  form.onsubmit = async (event) => {
    event.preventDefault();
    await submitForm(ctx, { kind: "group", id: id.value.trim(), meta: meta.values(),
      members: [...members.children].map((li) => li.dataset.name) });
  };
  body.append(form);
}

async function cloneTab(body, ctx) {
  const id = h("input", { name: "id" });
  const rsc = select("rsc", ["", ...names(ctx, "primitive", "group")]);
  const promotable = h("input", { type: "checkbox", name: "promotable" });
  const meta = pairRows("Meta attributes", ["clone-max", "clone-node-max", "interleave", "notify",
    "globally-unique", "promoted-max", "promoted-node-max", "ordered"], { interleave: "true" });
  const form = h("form", { class: "we-form we-panel" }, field("Id", id),
    field("Of", rsc), field("Promotable", promotable, "a primary and its replicas"), meta,
    h("button", { type: "submit" }, "Save clone"));
  form.onsubmit = async (event) => {
    event.preventDefault();
    await submitForm(ctx, { kind: "clone", id: id.value.trim(), rsc: rsc.value,
                            promotable: promotable.checked, meta: meta.values() });
  };
  body.append(form);
}

// -- constraints, tickets, tags -------------------------------------------------------------
const CONSTRAINTS = {
  location: (ctx) => [["id", "Id"], ["rsc", "Resource", names(ctx, "primitive", "group", "clone", "ms", "bundle")],
    ["score", "Score", null, "INFINITY, -INFINITY or a number"],
    ["node", "Node", ctx.objects ? ctx.objects.nodes : []],
    ["rule", "Or a rule", null, "SCORE: EXPRESSION, e.g. -inf: #uname eq node1 or pingd lt 1"]],
  colocation: () => [["id", "Id"], ["score", "Score", null, "INFINITY: together, -INFINITY: never together"],
    ["resources", "Resources", null, "DEPENDENT WITH: 'web db' places web with db; sets: ( a b ) c"]],
  order: () => [["id", "Id"], ["order_kind", "Kind", ["Mandatory", "Optional", "Serialize"]],
    ["resources", "Resources", null, "in order: 'db web'; sets: ( a b ) c"]],
  rsc_ticket: (ctx) => [["id", "Id"], ["ticket", "Ticket", null, ctx.objects && ctx.objects.tickets.length ? `known: ${ctx.objects.tickets.join(", ")}` : null],
    ["resources", "Resources"], ["loss_policy", "Loss policy", ["", "stop", "demote", "fence", "freeze"]]],
  tag: () => [["id", "Id"], ["members", "Members", null, "resources, separated by spaces"]],
};

async function constraintTab(body, ctx) {
  const kind = select("kind", Object.keys(CONSTRAINTS));
  const form = h("form", { class: "we-form we-panel", id: "constraint-form" });
  const draw = () => {
    const inputs = {};
    form.replaceChildren(field("Kind", kind), ...CONSTRAINTS[kind.value](ctx).map(([name, label, choices, help]) => {
      inputs[name] = choices ? select(name, ["", ...choices]) : h("input", { name });
      return field(label, inputs[name], help);
    }), h("button", { type: "submit" }, "Save"));
    form.onsubmit = async (event) => {
      event.preventDefault();
      const payload = { kind: kind.value };
      for (const [name, el] of Object.entries(inputs)) if (el.value.trim()) payload[name] = el.value.trim();
      await submitForm(ctx, payload);
    };
  };
  kind.addEventListener("change", draw);
  draw();
  body.append(form);
}

async function defaultsTab(body, ctx) {
  for (const [kind, title, known] of [
    ["property", "Cluster properties", ["stonith-enabled", "no-quorum-policy", "symmetric-cluster",
      "maintenance-mode", "stonith-timeout", "cluster-recheck-interval", "placement-strategy"]],
    ["rsc_defaults", "Resource defaults", ["resource-stickiness", "migration-threshold", "failure-timeout"]],
    ["op_defaults", "Operation defaults", ["timeout", "record-pending"]]]) {
    const rows = pairRows(title, known);
    const form = h("form", { class: "we-form we-panel" }, rows,
      h("button", { type: "submit" }, `Save ${title.toLowerCase()}`));
    form.onsubmit = async (event) => {
      event.preventDefault();
      await submitForm(ctx, { kind, values: rows.values() });
    };
    body.append(form);
  }
}

async function objectsTab(body, ctx) {
  const objects = (ctx.objects && ctx.objects.objects) || {};
  const rows = Object.entries(objects).flatMap(([kind, ids]) => ids.map((id) =>
    h("tr", { "data-id": id }, h("td", {}, kind), h("td", {}, id), h("td", { class: "actions" },
      h("button", { type: "button", onclick: async () => {
        const obj = await ctx.api.get(`/api/config/objects/${encodeURIComponent(id)}?source=sandbox`);
        ctx.result.replaceChildren(h("pre", { class: "we-text" }, obj.text));
      } }, "show"),
      h("button", { type: "button", class: "danger", onclick: async () => {
        try { changed(ctx, await ctx.api.del(`/api/config/objects/${encodeURIComponent(id)}`)); }
        catch (err) { refused(ctx, err); }
      } }, "delete")))));
  body.append(h("div", { class: "we-panel" },
    h("table", {}, h("tr", {}, h("th", {}, "Kind"), h("th", {}, "Id"), h("th", {}, "")), rows)));
}

const BUILDERS = { text: textTab, primitive: (b, c) => primitiveTab(b, c), group: (b, c) => groupTab(b, c),
                   clone: cloneTab, constraint: constraintTab, defaults: defaultsTab,
                   objects: objectsTab };
