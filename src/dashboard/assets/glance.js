// "At a glance": cards from `/api/stats?since=` (a card per source, or a table once there
// are more than eight), the per-minute chart (chart.js), and the latest delivery per source
// from `/api/sources`, with sources that have gone quiet marked.

import { $, el, clear, api, ago, plural } from "./dom.js";
import * as chart from "./chart.js";

/** A source with nothing for this long is shown as quiet. */
const QUIET_MS = 60 * 60 * 1000;
/** Up to this many sources get a card each; more are listed in a table. */
const MAX_SOURCE_CARDS = 8;

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
    chart.draw(stats.rate || [], current);
    sourceList(sources.sources || []);
  } catch (error) {
    console.warn("stats", error);
  }
}

function cards(stats) {
  const box = clear($("cards"));
  const card = (count, one, many, kind) => el("div", { className: `card ${kind || ""}`.trim() },
    el("span", { className: "value" }, String(count)), el("span", { className: "label" }, count === 1 ? one : many));
  box.append(card(stats.total, "event", "events"),
    card(stats.errors, "error", "errors", stats.errors ? "bad" : ""),
    card(stats.duplicates, "duplicate", "duplicates"),
    card(stats.signature_failures, "signature failure", "signature failures", stats.signature_failures ? "bad" : ""),
    card(stats.rejected, "rejected", "rejected"));
  const sources = Object.entries(stats.by_source || {}).sort(([a, m], [b, n]) => n - m || (a < b ? -1 : 1));
  const table = clear($("by-source"));
  const few = sources.length <= MAX_SOURCE_CARDS;
  $("by-source-box").hidden = few;
  if (few) {
    for (const [source, count] of sources) box.append(card(count, source, source, "source"));
    return;
  }
  table.append(el("thead", {}, el("tr", {}, el("th", {}, "Source"), el("th", { className: "num" }, "Events"))),
    el("tbody", {}, sources.map(([source, count]) =>
      el("tr", {}, el("td", { className: "source" }, source), el("td", { className: "num" }, String(count))))));
}

function sourceList(rows) {
  const list = clear($("sources"));
  const names = clear($("source-names"));
  const now = Date.now();
  if (!rows.length) list.append(el("li", { className: "muted" }, "None yet."));
  for (const row of rows) {
    names.append(el("option", { value: row.source }));
    const last = row.last_received;
    const quiet = !last || now - new Date(last).getTime() > QUIET_MS;
    // A source named after its provider ("stripe", provider stripe) says it once.
    const provider = row.provider && row.provider !== row.source ? row.provider : null;
    list.append(el("li", { className: quiet ? "quiet" : "" },
      el("span", { className: "source" }, row.source),
      provider ? el("span", { className: "muted provider" }, provider) : null,
      el("span", {}, last ? `last ${ago(last, now)}` : "never heard from"),
      quiet ? el("span", { className: "badge warn" }, "quiet") : null,
      row.errors ? el("span", { className: "badge bad" }, plural(row.errors, "error")) : null,
      el("span", { className: "muted" }, plural(row.count, "event"))));
  }
}
