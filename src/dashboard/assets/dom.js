// Small DOM and fetch helpers. Every value is put in the page as text: this file is the only
// way the dashboard builds elements, and it never parses HTML.

/** Creates an element; `props` sets properties (className, title, href…), children are
 *  nodes or strings (added as text nodes). */
export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("aria-") || key === "role") node.setAttribute(key, String(value));
    else node[key] = value;
  }
  append(node, children);
  return node;
}

/** Appends nodes or strings (as text). */
export function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Removes every child. */
export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

export const $ = (id) => document.getElementById(id);

/** Fetches JSON from the API; a 401 sends the browser to the login page. */
export async function api(path) {
  const response = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (response.status === 401) {
    location.assign("/login");
    throw new Error("not logged in");
  }
  if (!response.ok) {
    const error = new Error(`${path}: ${response.status}`);
    error.status = response.status;
    try { error.detail = (await response.json()).error; } catch (_) { /* not JSON */ }
    throw error;
  }
  return response.json();
}

/** "12:03:04" in local time. */
export function clock(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleTimeString([], { hour12: false });
}

/** "3 s ago", "5 min ago", "2 h ago", "4 d ago". */
export function ago(iso, now = Date.now()) {
  const s = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** "1.8 kB". */
export function bytes(n) {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1000).toFixed(1)} kB`;
  return `${(n / 1e6).toFixed(1)} MB`;
}

/** A small label; `kind` picks its colour class. */
export function badge(text, kind) {
  return el("span", { className: `badge ${kind || ""}`.trim() }, text);
}

/** The badge for a signature state. */
export function signatureBadge(signature) {
  const kind = { valid: "ok", invalid: "bad", missing: "warn", unverified: "" }[signature];
  return badge(signature || "?", kind === undefined ? "" : kind);
}

/** Copies text to the clipboard, with a fallback for pages that are not a secure context. */
export async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch (_) {
    const area = el("textarea", { value: text, readOnly: true, className: "offscreen" });
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  if (button) {
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1200);
  }
}

/** A button that copies what `text()` returns. */
export function copyButton(label, text) {
  const button = el("button", { type: "button", className: "small" }, label);
  button.addEventListener("click", () => copy(text(), button));
  return button;
}
