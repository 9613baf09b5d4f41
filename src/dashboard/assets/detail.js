// The event detail: everything `/api/events/{id}` knows, as text — body (JSON tree, form
// table, raw text, or hex and base64 for binary), headers, signature and its reason, delivery
// id, duplicates, enrichment, alerts and forwarding, with copy buttons and "copy as curl".

import { $, el, append, clear, api, badge, signatureBadge, bytes, copyButton, plural, duration, ago } from "./dom.js";
import { tree, setAll } from "./json.js";
import { curlCommand, headerPairs } from "./curl.js";
import { alertsFor } from "./alerts.js";
import * as forwards from "./forwards.js";
import * as link from "./link.js";

let returnFocus = null;
/** The event shown, or null while the panel is closed. */
let shown = null;
/** Counts opens, so only the latest one's answer is drawn. */
let opening = 0;

/** Opens the detail of event `id` and puts it in the URL; `from` gets the focus back on close. */
export async function open(id, from) {
  returnFocus = from || document.activeElement;
  shown = Number(id);
  const mine = ++opening;
  link.show(shown);
  const panel = $("detail");
  const body = clear($("detail-body"));
  $("detail-title").textContent = `Event ${id}`;
  panel.hidden = false;
  document.body.classList.add("with-detail");
  $("close").focus();
  try {
    const event = await api(`/api/events/${encodeURIComponent(id)}`);
    if (mine === opening) render(body, event); // not if another was opened meanwhile
  } catch (error) {
    if (mine !== opening) return;
    body.append(el("p", { className: "error" }, error.status === 404 ? "This event no longer exists." : `Could not load the event (${error.message}).`));
  }
}

/** Closes the detail, takes it out of the URL and puts the focus back where it was. */
export function close() {
  if (shown === null) return;
  shown = null;
  link.hide();
  $("detail").hidden = true;
  document.body.classList.remove("with-detail");
  if (returnFocus && returnFocus.isConnected) returnFocus.focus();
}

/** Esc, the close button, and Back or Forward through opened events. */
export function wire() {
  $("close").addEventListener("click", close);
  link.onChange((id) => {
    if (id === null) close();
    else if (id !== shown) open(id);
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !$("detail").hidden) close();
  });
}

function render(box, event) {
  $("detail-title").textContent = `Event ${event.id} · ${event.source} · ${event.event_type ?? "no type"}`;
  append(box, [facts(event), signature(event), alerts(event.id), forwards.section(event), bodySection(event), headersTable(event), enrichment(event.enrichment)]);
}

function facts(event) {
  const row = (name, value) => [el("dt", {}, name), el("dd", {}, value ?? "—")];
  return el("dl", { className: "facts" },
    row("received", `${event.received_at} (${ago(event.received_at)})`),
    row("request", `${event.method} ${event.path}${event.query ? `?${event.query}` : ""}`),
    row("from", event.remote_addr),
    row("content type", event.content_type),
    row("size", `${bytes(event.size)} (${event.size} bytes)`),
    row("provider", event.provider),
    row("delivery id", event.delivery_id),
    row("duplicates", String(event.duplicates)),
    row("status", event.status),
    row("error", event.is_error ? "yes" : "no"));
}

function signature(event) {
  const reason = event.signature_reason || "";
  return el("section", {}, el("h3", {}, "Signature"),
    el("p", {}, signatureBadge(event.signature), " ", el("span", { className: "reason", title: reason }, readableReason(reason))));
}

/** The stored reason with its durations in words: "timestamp is 29257019 s old (tolerance
 *  300 s)" reads "timestamp is 11 months old (tolerance 5 minutes)"; the exact text is the
 *  tooltip. */
export function readableReason(reason) {
  return String(reason).replace(/\b(\d+) s\b/g, (_, n) => duration(Number(n)));
}

function alerts(id) {
  const list = alertsFor(id);
  if (!list.length) return null;
  return el("section", {}, el("h3", {}, "Alerts"),
    el("ul", {}, list.map((a) => el("li", {}, badge(a.state, a.state === "firing" ? "bad" : "ok"), ` ${a.rule} (${a.kind}) at ${a.at}`))));
}

function bodySection(event) {
  const section = el("section", { className: "body" }, el("h3", {}, "Body"));
  const tools = el("div", { className: "tools" });
  section.append(tools);
  const form = (event.content_type || "").toLowerCase().includes("x-www-form-urlencoded");
  if (event.body !== null && event.body !== undefined && !form) {
    const view = tree(event.body);
    tools.append(copyButton("Copy JSON", () => JSON.stringify(event.body, null, 2)),
      button("Expand all", () => setAll(view, true)), button("Collapse all", () => setAll(view, false)));
    section.append(view);
  } else if (form && event.body) {
    section.append(formTable(event.body));
  } else if (event.raw_body !== null && event.raw_body !== undefined) {
    section.append(el("pre", { className: "raw" }, event.raw_body || "(empty body)"));
  } else if (event.raw_body_base64) {
    section.append(binary(event.raw_body_base64));
  }
  if (event.raw_body !== null && event.raw_body !== undefined) tools.append(copyButton("Copy raw", () => event.raw_body));
  tools.append(copyButton("Copy as curl", () => curlCommand(event, location.origin)),
    el("a", { href: `/api/events/${Number(event.id)}/raw`, download: `event-${Number(event.id)}.bin`, className: "small" }, "Download raw"));
  return section;
}

function button(label, action) {
  const b = el("button", { type: "button", className: "small" }, label);
  b.addEventListener("click", action);
  return b;
}

function formTable(body) {
  const rows = [];
  for (const [key, value] of Object.entries(body)) {
    for (const one of Array.isArray(value) ? value : [value]) rows.push(el("tr", {}, el("td", { className: "key" }, key), el("td", {}, String(one))));
  }
  return el("table", { className: "grid kv" }, el("tbody", {}, rows));
}

function binary(base64) {
  const raw = atob(base64);
  const lines = [];
  for (let at = 0; at < Math.min(raw.length, 4096); at += 16) {
    const chunk = Array.from(raw.slice(at, at + 16), (c) => c.charCodeAt(0));
    const hex = chunk.map((b) => b.toString(16).padStart(2, "0")).join(" ");
    const text = chunk.map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${at.toString(16).padStart(8, "0")}  ${hex.padEnd(47)}  ${text}`);
  }
  if (raw.length > 4096) lines.push(`… ${plural(raw.length - 4096, "more byte", "more bytes")}`);
  return el("div", {}, el("p", { className: "muted" }, "Not UTF-8: shown as hex; the exact bytes are in the download."),
    el("pre", { className: "raw hex" }, lines.join("\n")),
    el("details", {}, el("summary", {}, "Base64"), el("pre", { className: "raw" }, base64)),
    copyButton("Copy base64", () => base64));
}

function headersTable(event) {
  const rows = headerPairs(event.headers).map(([name, value]) => el("tr", {}, el("td", { className: "key" }, name), el("td", {}, value)));
  return el("section", {}, el("h3", {}, "Headers"), el("table", { className: "grid kv" }, el("tbody", {}, rows)));
}

/** Links only for http(s) addresses; anything else (`javascript:`…) stays text. */
function safeLink(url, title) {
  try {
    const parsed = new URL(url);
    if (parsed.protocol === "https:" || parsed.protocol === "http:") {
      return el("a", { href: parsed.href, rel: "noopener noreferrer", target: "_blank" }, title || url);
    }
  } catch (_) { /* not a URL */ }
  return el("span", {}, `${title || ""} ${url}`.trim());
}

function enrichment(data) {
  if (!data) return null;
  const section = el("section", {}, el("h3", {}, "Enrichment"), el("p", { className: "muted" }, `query: ${data.query ?? ""} · ${data.at ?? ""}`));
  if (data.error) section.append(el("p", { className: "error" }, String(data.error)));
  const results = Array.isArray(data.results) ? data.results : [];
  section.append(el("ul", {}, results.map((r) => el("li", {}, safeLink(String(r.url ?? ""), String(r.title ?? ""))))));
  return section;
}
