// "At a glance": cards from `/api/stats?since=`, a per-minute chart per source drawn as
// inline SVG (no library), and the latest delivery per source from `/api/sources`, with
// sources that have gone quiet marked.

import { $, el, clear, api, ago } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg"; // the SVG namespace, a name and not a request
const COLOURS = 8;
/** A source with nothing for this long is shown as quiet. */
const QUIET_MS = 60 * 60 * 1000;
/** Bars in the chart and minutes per bar for each window. */
const BUCKETS = { "15m": [15, 1], "1h": [60, 1], "24h": [96, 15], "7d": [84, 120] };

let current = "1h";
let timer = null;
let pending = false;

/** Loads everything for the window and keeps it fresh. */
export async function show(window) {
  current = window;
  await refresh();
  clearInterval(timer);
  timer = setInterval(refresh, 30000);
}

/** Asks for fresh numbers soon (at most every two seconds) after live events. */
export function nudge() {
  if (pending) return;
  pending = true;
  setTimeout(() => { pending = false; refresh(); }, 2000);
}

async function refresh() {
  try {
    const [stats, sources] = await Promise.all([api(`/api/stats?since=${current}`), api("/api/sources")]);
    cards(stats);
    chart(stats.rate || [], current);
    sourceList(sources.sources || []);
  } catch (error) {
    console.warn("stats", error);
  }
}

function cards(stats) {
  const box = clear($("cards"));
  const card = (label, value, kind) =>
    el("div", { className: `card ${kind || ""}`.trim() }, el("span", { className: "value" }, String(value)), el("span", { className: "label" }, label));
  box.append(card("events", stats.total), card("errors", stats.errors, stats.errors ? "bad" : ""),
    card("duplicates", stats.duplicates), card("signature failures", stats.signature_failures, stats.signature_failures ? "bad" : ""),
    card("rejected", stats.rejected));
  for (const [source, count] of Object.entries(stats.by_source || {})) {
    box.append(card(source, count, "source"));
  }
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function chart(rate, window) {
  const [bars, minutes] = BUCKETS[window];
  const bucketMs = minutes * 60000;
  const end = Math.floor(Date.now() / bucketMs) * bucketMs;
  const start = end - (bars - 1) * bucketMs;
  // Maps, not objects: a source may be called "__proto__".
  const totals = new Map();
  const grid = Array.from({ length: bars }, () => new Map());
  const add = (map, key, n) => map.set(key, (map.get(key) || 0) + n);
  for (const point of rate) {
    const i = Math.floor((new Date(point.minute).getTime() - start) / bucketMs);
    if (i < 0 || i >= bars) continue;
    add(grid[i], point.source, point.count);
    add(totals, point.source, point.count);
  }
  const order = [...totals.keys()].sort((a, b) => totals.get(b) - totals.get(a));
  const peak = Math.max(1, ...grid.map((b) => [...b.values()].reduce((s, n) => s + n, 0)));
  const box = clear($("chart"));
  const width = 600 / bars;
  grid.forEach((bucket, i) => {
    let y = 120;
    order.forEach((source, n) => {
      const count = bucket.get(source);
      if (!count) return;
      const h = (count / peak) * 116;
      y -= h;
      const rect = svg("rect", { x: i * width + 0.5, y, width: Math.max(1, width - 1), height: h, class: `c${n % COLOURS}` });
      rect.append(svg("title", {}, `${source}: ${count} at ${new Date(start + i * bucketMs).toLocaleTimeString()}`));
      box.append(rect);
    });
  });
  const legend = clear($("legend"));
  legend.append(el("span", { className: "muted" }, `peak ${peak} per ${minutes === 1 ? "minute" : `${minutes} min`}`));
  order.forEach((source, n) => legend.append(el("span", { className: `key c${n % COLOURS}` }, source)));
}

function sourceList(rows) {
  const list = clear($("sources"));
  const names = clear($("source-names"));
  const now = Date.now();
  for (const row of rows) {
    names.append(el("option", { value: row.source }));
    const last = row.last_received;
    const quiet = !last || now - new Date(last).getTime() > QUIET_MS;
    list.append(el("li", { className: quiet ? "quiet" : "" },
      el("span", { className: "source" }, row.source),
      el("span", { className: "muted" }, row.provider || ""),
      el("span", {}, last ? `last ${ago(last, now)}` : "never heard from"),
      quiet ? el("span", { className: "badge warn" }, "quiet") : null,
      row.errors ? el("span", { className: "badge bad" }, `${row.errors} error${row.errors === 1 ? "" : "s"}`) : null,
      el("span", { className: "muted" }, `${row.count} events`)));
  }
}
