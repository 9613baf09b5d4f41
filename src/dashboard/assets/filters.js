// The "Find" form: full-text search, filters for source, type (with a trailing *), status,
// signature, errors only and time range, kept in the URL's query string so a view can be shared.

import { $ } from "./dom.js";

export const FIELDS = ["q", "source", "type", "status", "signature", "error", "since", "until"];

/** The filters in the current URL. */
export function fromUrl() {
  const params = new URLSearchParams(location.search);
  const filters = {};
  for (const name of FIELDS) {
    const value = (params.get(name) || "").trim();
    if (value) filters[name] = value;
  }
  return filters;
}

/** The stats window in the URL (15m, 1h, 24h, 7d). */
export function windowFromUrl() {
  const value = new URLSearchParams(location.search).get("window");
  return ["15m", "1h", "24h", "7d"].includes(value) ? value : "1h";
}

/** Puts the filters and window in the URL without reloading. */
export function toUrl(filters, window) {
  const params = new URLSearchParams();
  for (const name of FIELDS) if (filters[name]) params.set(name, filters[name]);
  if (window && window !== "1h") params.set("window", window);
  const query = params.toString();
  // The fragment (an open event, see link.js) and the history entry's state stay as they are.
  history.replaceState(history.state, "", `${query ? `/?${query}` : "/"}${location.hash}`);
}

/** Shows the filters in the form. */
export function fill(filters) {
  const form = $("filters");
  for (const name of FIELDS) {
    const input = form.elements[name];
    if (input.type === "checkbox") input.checked = filters[name] === "true";
    else input.value = filters[name] || "";
  }
}

/** Reads the form. */
export function read() {
  const form = $("filters");
  const filters = {};
  for (const name of FIELDS) {
    const input = form.elements[name];
    const value = input.type === "checkbox" ? (input.checked ? "true" : "") : input.value.trim();
    if (value) filters[name] = value;
  }
  return filters;
}

/** The query string for `/api/events`. */
export function listQuery(filters, before, limit = 100) {
  const params = new URLSearchParams();
  for (const name of FIELDS) if (filters[name]) params.set(name, filters[name]);
  params.set("limit", String(limit));
  if (before) params.set("before", String(before));
  return params.toString();
}

/** The query string for `/api/stream` (the stream applies the search, source and type). */
export function streamQuery(filters) {
  const params = new URLSearchParams();
  if (filters.q) params.set("q", filters.q);
  if (filters.source) params.set("source", filters.source);
  if (filters.type) params.set("type", filters.type);
  return params.toString();
}

/** Whether a live event passes the filters the stream does not apply. */
export function matches(filters, event) {
  if (filters.until) return false; // a fixed end: nothing new belongs in the view
  if (filters.status && event.status !== filters.status) return false;
  if (filters.signature && event.signature !== filters.signature) return false;
  if (filters.error === "true" && !event.is_error) return false;
  return true;
}
