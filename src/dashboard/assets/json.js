// A collapsible JSON tree from native <details> elements (keyboard-accessible for free). Keys
// and values are text nodes; strings are shown JSON-quoted so control characters are visible.

import { el, plural } from "./dom.js";

/** Children shown per object or array before "… N more". */
const MAX_CHILDREN = 500;

/** The tree for a parsed JSON value. */
export function tree(value) {
  return el("div", { className: "json" }, node(null, value, 0));
}

function node(key, value, depth) {
  const label = key === null ? null : el("span", { className: "key" }, `${key}: `);
  if (value === null || typeof value !== "object") {
    return el("div", { className: "leaf" }, label, scalar(value));
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  const [open, close] = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  if (entries.length === 0) {
    return el("div", { className: "leaf" }, label, el("span", { className: "punct" }, open + close));
  }
  const details = el("details", { open: depth < 3 && entries.length <= 100 });
  details.append(el("summary", {}, label, el("span", { className: "punct" }, `${open} ${plural(entries.length, Array.isArray(value) ? "item" : "key")} ${close}`)));
  const children = el("div", { className: "children" });
  for (const [k, v] of entries.slice(0, MAX_CHILDREN)) children.append(node(k, v, depth + 1));
  if (entries.length > MAX_CHILDREN) {
    children.append(el("div", { className: "muted" }, `… ${entries.length - MAX_CHILDREN} more (see the raw body)`));
  }
  details.append(children);
  return details;
}

function scalar(value) {
  const kind = value === null ? "null" : typeof value;
  const text = typeof value === "string" ? JSON.stringify(value) : String(value);
  return el("span", { className: `v-${kind}` }, text);
}

/** Collapses or expands every branch under `root`. */
export function setAll(root, open) {
  for (const details of root.querySelectorAll("details")) details.open = open;
}
