// The event list: rows built as text, newest first, capped so the page stays fast, added in
// batches once per animation frame however fast events arrive.

import { $, el, clear, clock, bytes, badge, signatureBadge } from "./dom.js";

/** Rows kept on the page; older ones are dropped (page back with "Load older"). */
export const MAX_ROWS = 500;

const rows = new Map(); // id → <tr>
let queue = [];
let scheduled = false;
let onOpen = () => {};

/** Sets what Enter or a click on a row does. */
export function onSelect(callback) { onOpen = callback; }

/** One row for an event summary; every value is text. */
export function row(event) {
  const flags = el("td", { className: "flags" });
  if (event.is_error) flags.append(badge("error", "bad"));
  if (event.status === "rejected") flags.append(badge("rejected", "bad"));
  if (event.duplicates > 0) flags.append(badge(`dup ×${event.duplicates}`, "warn"));
  const tr = el("tr", { tabIndex: 0, dataset: { id: String(event.id) }, className: event.is_error ? "is-error" : "" },
    el("td", { title: event.received_at }, clock(event.received_at)),
    el("td", { className: "source" }, event.source),
    el("td", { className: "type" }, event.event_type ?? "—"),
    el("td", { className: "num" }, bytes(event.size)),
    el("td", {}, signatureBadge(event.signature)),
    flags);
  tr.addEventListener("click", () => onOpen(event.id, tr));
  return tr;
}

/** Replaces the list with a page of events; with none, the list is loading and the empty
 *  hint waits for the page (`appendOlder`) to say whether there is anything. */
export function replace(events) {
  queue = [];
  rows.clear();
  clear($("events"));
  appendOlder(events);
  if (!events.length) $("empty").hidden = true;
}

/** Adds older events at the bottom (paging backwards). */
export function appendOlder(events) {
  const fragment = document.createDocumentFragment();
  for (const event of events) {
    if (rows.has(event.id)) continue;
    const tr = row(event);
    rows.set(event.id, tr);
    fragment.append(tr);
  }
  $("events").append(fragment);
  $("empty").hidden = rows.size > 0;
}

/** Queues live events; they reach the page on the next animation frame. */
export function prepend(events) {
  queue.push(...events);
  if (scheduled) return;
  scheduled = true;
  const flush = () => { if (scheduled) { scheduled = false; flushQueue(); } };
  requestAnimationFrame(flush);
  setTimeout(flush, 250); // frames do not run in a hidden tab; the list still fills
}

function flushQueue() {
  const batch = queue.slice(-MAX_ROWS);
  queue = [];
  batch.sort((a, b) => b.id - a.id);
  const fragment = document.createDocumentFragment();
  for (const event of batch) {
    if (rows.has(event.id)) continue;
    const tr = row(event);
    rows.set(event.id, tr);
    fragment.append(tr);
  }
  const body = $("events");
  body.prepend(fragment);
  while (rows.size > MAX_ROWS && body.lastElementChild) {
    const last = body.lastElementChild;
    rows.delete(Number(last.dataset.id));
    last.remove();
  }
  $("empty").hidden = rows.size > 0;
}

/** The id of the newest event on the page, if any. */
export function newestId() {
  const first = $("events").firstElementChild;
  return first ? Number(first.dataset.id) : null;
}

/** Keyboard: Enter opens, arrows move between rows. */
export function keyboard() {
  $("events").addEventListener("keydown", (e) => {
    const tr = e.target.closest("tr");
    if (!tr) return;
    if (e.key === "Enter") { e.preventDefault(); onOpen(Number(tr.dataset.id), tr); }
    if (e.key === "ArrowDown" && tr.nextElementSibling) { e.preventDefault(); tr.nextElementSibling.focus(); }
    if (e.key === "ArrowUp" && tr.previousElementSibling) { e.preventDefault(); tr.previousElementSibling.focus(); }
  });
}
