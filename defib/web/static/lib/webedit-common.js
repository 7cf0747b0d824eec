// Helpers of the editing, sandbox, history and graph pages (the shell's `h` builds DOM).
import { h } from "../app.js";

export { h };

export function ensureStyle() {
  if (document.getElementById("webedit-css")) return;
  document.head.append(h("link", { id: "webedit-css", rel: "stylesheet",
                                   href: "/static/lib/webedit.css" }));
}

export function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

// One report as people read it: "line 7, column 1: message (did you mean 'x'?)".
export function reportText(r) {
  let where = "";
  if (r.line) where = `line ${r.line}` + (r.column ? `, column ${r.column}` : "") + ": ";
  const hint = r.suggestion ? ` (did you mean '${r.suggestion}'?)` : "";
  return `${where}${r.message}${hint}`;
}

export function reportList(reports, onPick) {
  return h("ul", { class: "we-reports" }, (reports || []).map((r) =>
    h("li", { class: r.severity || "error", "data-line": r.line || "", "data-code": r.code || "",
              onclick: onPick ? () => onPick(r) : undefined },
      `${r.severity || "error"}: ${reportText(r)}`)));
}

// An error thrown by api.*: its reports, else its message.
export function errorView(err) {
  if (err && err.reports && err.reports.length) return reportList(err.reports);
  return h("p", { class: "error" }, (err && err.message) || String(err));
}

// The server's SVG (escaped by defib.graph.svg), parsed as SVG rather than as HTML.
export function svgView(text) {
  const box = h("div", { class: "we-svg" });
  const doc = new DOMParser().parseFromString(text || "<svg xmlns='http://www.w3.org/2000/svg'/>",
                                              "image/svg+xml");
  box.append(document.importNode(doc.documentElement, true));
  return box;
}

export function diffView(text) {
  const pre = h("pre", { class: "we-text we-diff" });
  for (const line of (text || "").split("\n")) {
    const cls = line.startsWith("+") && !line.startsWith("+++") ? "add"
      : line.startsWith("-") && !line.startsWith("---") ? "del"
      : line.startsWith("@@") ? "hunk" : null;
    pre.append(cls ? h("span", { class: cls }, line) : line, "\n");
  }
  return pre;
}

export function stamp(ts) {
  const d = new Date(ts * 1000);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} `
    + `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// May the user change the cluster at all? (The server refuses anyway; this hides buttons.)
export function mayWrite(api) {
  const u = api.user || {};
  return !!(u.admin || u.mayConfigure || u.mayResources || u.mayConstraints);
}

// Rows of name = value inputs (meta attributes, utilization, properties); `names` offers
// known names in a datalist.
export function pairRows(title, names, initial = {}) {
  const listId = `names-${Math.random().toString(36).slice(2)}`;
  const rows = h("div", { class: "we-rows" });
  const add = (name = "", value = "") => {
    const row = h("div", { class: "row" },
      h("input", { class: "pair-name", list: listId, placeholder: "name", value: name }),
      "=", h("input", { class: "pair-value", placeholder: "value", value: value }),
      h("button", { type: "button", onclick: () => row.remove(), title: "remove" }, "×"));
    rows.append(row);
  };
  for (const [k, v] of Object.entries(initial || {})) add(k, v);
  const box = h("fieldset", { class: "pairs", "data-title": title },
    h("legend", {}, title),
    h("datalist", { id: listId }, (names || []).map((n) => h("option", { value: n }))),
    rows, h("button", { type: "button", class: "add-pair", onclick: () => add() }, "+ add"));
  box.values = () => {
    const out = {};
    for (const row of rows.querySelectorAll(".row")) {
      const name = row.querySelector(".pair-name").value.trim();
      if (name) out[name] = row.querySelector(".pair-value").value;
    }
    return out;
  };
  return box;
}
