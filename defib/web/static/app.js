// The shell: login, the navigation, the hash router (#/NAME loads pages/NAME.js, which
// exports `async function render(root, api)` and optionally `dispose()`), the API helper
// and the live status pushed by the server (server-sent events).

export const PAGES = [
  { name: "status", title: "Status" },
  { name: "edit", title: "Configuration" },
  { name: "sandbox", title: "Sandbox" },
  { name: "history", title: "History" },
  { name: "graph", title: "Constraint graph" },
];

const state = { user: null, csrf: null, rights: null, status: null, source: null,
                listeners: new Set(), pageListeners: new Set(), page: null };

// -- small DOM helper shared by the pages --------------------------------------------------
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else {
      el.setAttribute(key, value === true ? "" : value);
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// -- the API -------------------------------------------------------------------------------
export class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.text || body.error)) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
    this.reports = (body && body.reports) || [];
  }
}

async function request(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = state.csrf || "";
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const init = { method, headers, credentials: "same-origin",
                 body: body === undefined ? undefined : JSON.stringify(body) };
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    // The browser dropped the request (network change, server restarting). A read is
    // safe to send again once; a write is not: it may have been done.
    if (method !== "GET") {
      throw new ApiError(0, { error: `no answer from the server (${err.message}): reload to see whether it was done` });
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    try {
      response = await fetch(path, init);
    } catch (again) {
      throw new ApiError(0, { error: `the server cannot be reached (${again.message})` });
    }
  }
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (response.status === 401 && path !== "/api/login") {
    showLogin("Your session has ended: log in again.");
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

function onStatus(callback) {
  state.pageListeners.add(callback);
  if (state.status) callback(state.status);
  return () => state.pageListeners.delete(callback);
}

export const api = {
  get: (path) => request("GET", path),
  post: (path, body = {}) => request("POST", path, body),
  put: (path, body = {}) => request("PUT", path, body),
  del: (path) => request("DELETE", path),
  get user() { return { name: state.user, rights: state.rights, ...mayFlags(state.rights) }; },
  onStatus,
};

function mayFlags(rights) {
  const write = (rights && rights.write) || {};
  return { admin: !!(rights && rights.admin), mayResources: !!write.resources,
           mayConstraints: !!write.constraints, mayNodes: !!write.nodes,
           mayConfigure: !!write.configuration };
}

// -- live status ---------------------------------------------------------------------------
function connectEvents() {
  if (state.source) state.source.close();
  const source = new EventSource("/api/events");
  state.source = source;
  const mark = document.getElementById("live");
  source.addEventListener("open", () => { if (mark) { mark.textContent = "live"; mark.className = "live on"; } });
  source.addEventListener("error", () => {
    if (!mark) return;
    // A refused stream (the ACLs do not let this user read the status) is not retried.
    const closed = source.readyState === EventSource.CLOSED;
    mark.textContent = closed ? "no live status" : "reconnecting";
    mark.className = "live off";
  });
  source.addEventListener("logout", () => { source.close(); showLogin("Your session has ended: log in again."); });
  source.addEventListener("status", (event) => {
    const data = JSON.parse(event.data);
    state.status = data;
    for (const callback of [...state.listeners, ...state.pageListeners]) {
      try { callback(data); } catch (err) { console.error(err); }
    }
  });
}

// -- login ---------------------------------------------------------------------------------
function showLogin(message) {
  if (state.source) { state.source.close(); state.source = null; }
  state.user = null;
  const app = document.getElementById("app");
  const error = h("p", { class: "error", id: "login-error" }, message || "");
  const form = h("form", { class: "login", id: "login" },
    h("h1", {}, "defib"),
    h("label", {}, "User", h("input", { name: "user", autocomplete: "username", required: true })),
    h("label", {}, "Password", h("input", { name: "password", type: "password",
                                            autocomplete: "current-password", required: true })),
    h("button", { type: "submit" }, "Log in"), error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      const data = await request("POST", "/api/login", {
        user: form.elements.user.value, password: form.elements.password.value });
      start(data);
    } catch (err) {
      error.textContent = err.message;
    }
  });
  app.replaceChildren(form);
  form.elements.user.focus();
}

async function logout() {
  try { await request("POST", "/api/logout", {}); } catch (_) { /* gone already */ }
  showLogin("Logged out.");
}

// -- shell and router ----------------------------------------------------------------------
function shell() {
  const nav = h("nav", { id: "nav" }, PAGES.map((p) =>
    h("a", { href: `#/${p.name}`, "data-page": p.name }, p.title)));
  const header = h("header", {},
    h("span", { class: "brand" }, "defib"), nav,
    h("span", { class: "spacer" }),
    h("span", { id: "live", class: "live off" }, "connecting"),
    h("span", { class: "who", id: "who" }, state.user,
      state.rights && !state.rights.admin ? h("span", { class: "tag" },
        Object.values(state.rights.write || {}).some(Boolean) ? "limited" : "read-only") : null),
    h("button", { class: "link", id: "logout", onclick: logout }, "Log out"));
  const main = h("main", { id: "page" });
  document.getElementById("app").replaceChildren(header, main);
}

async function route() {
  if (!state.user) return;
  const name = (location.hash.match(/^#\/([a-z0-9-]+)/) || [])[1] || "status";
  const root = document.getElementById("page");
  if (!root) return;
  if (state.page && state.page.dispose) {
    try { state.page.dispose(); } catch (err) { console.error(err); }
  }
  state.page = null;
  state.pageListeners.clear();
  for (const link of document.querySelectorAll("#nav a")) {
    link.classList.toggle("active", link.dataset.page === name);
  }
  root.replaceChildren();
  let module = null;
  try {
    module = await import(`./pages/${name}.js`);
  } catch (err) {
    const known = PAGES.find((p) => p.name === name);
    root.replaceChildren(h("section", { class: "placeholder" },
      h("h2", {}, known ? known.title : name),
      h("p", {}, known ? "This page is not there yet." : `There is no page "${name}".`)));
    return;
  }
  state.page = module;
  try {
    await module.render(root, api);
  } catch (err) {
    root.append(h("p", { class: "error" }, err.message));
  }
}

function start(session) {
  state.user = session.user;
  state.csrf = session.csrf;
  state.rights = session.rights;
  shell();
  connectEvents();
  route();
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", async () => {
  try {
    start(await request("GET", "/api/session"));
  } catch (_) {
    showLogin("");
  }
});
