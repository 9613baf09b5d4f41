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

/** POSTs to the API (same-origin, so the cross-origin check passes) and answers
 *  `{status, body}` whatever the status; a 401 sends the browser to the login page. */
export async function post(path, body) {
  const init = { method: "POST", credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401) {
    location.assign("/login");
    throw new Error("not logged in");
  }
  let answer = null;
  try { answer = await response.json(); } catch (_) { /* not JSON */ }
  return { status: response.status, body: answer };
}

/** "12:03:04" in local time. */
export function clock(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleTimeString([], { hour12: false });
}

/** "1 event", "3 events": a count and its noun; `many` for a plural that is not `one` + "s". */
export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

/** Units for `duration`, largest first: a month is a twelfth of a year, a year 365.25 days. */
const UNITS = [
  ["year", 31557600], ["month", 2629800], ["week", 604800], ["day", 86400],
  ["hour", 3600], ["minute", 60], ["second", 1],
];

/** `seconds` in its largest whole unit, rounded down: "1 second", "5 minutes", "11 months". */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const [unit, size] = UNITS.find(([, size]) => s >= size) || UNITS[UNITS.length - 1];
  return plural(Math.floor(s / size), unit);
}

/** How long ago something `ms` milliseconds old happened, as a person says it: "just now"
 *  under ten seconds (and for a clock slightly ahead), "1 minute ago", "8 months ago". */
export function relative(ms) {
  const s = Math.floor(ms / 1000);
  return s >= 10 ? `${duration(s)} ago` : "just now";
}

/** How long ago the RFC 3339 time `iso` was, seen at `now` (milliseconds). */
export function ago(iso, now = Date.now()) {
  const then = new Date(iso).getTime();
  return Number.isNaN(then) ? String(iso) : relative(now - then);
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
