// The dashboard's start: read the filters and an open event from the URL, connect the live
// stream, load the first page, and wire the controls. Each concern lives in its own module.
// `?view=deliveries` shows the forwarding deliveries and targets instead (deliveries.js).

import { $, api, copyButton } from "./dom.js";
import * as feed from "./feed.js";
import * as list from "./list.js";
import * as filters from "./filters.js";
import * as glance from "./glance.js";
import * as detail from "./detail.js";
import * as alerts from "./alerts.js";
import * as link from "./link.js";
import * as deliveries from "./deliveries.js";
import { exampleCommand } from "./curl.js";

let current = {};
let nextBefore = null;

async function start() {
  const linked = link.eventFromUrl();
  if (deliveries.wanted()) {
    // The deliveries view: no event list, no live stream; events still open in the detail.
    detail.wire();
    meta();
    deliveries.start((id, from) => detail.open(id, from));
    if (linked !== null) detail.open(linked);
    return;
  }
  $("to-events").setAttribute("aria-current", "page");
  wire();
  example();
  current = filters.fromUrl();
  filters.fill(current);
  $("window").value = filters.windowFromUrl();
  meta();
  alerts.load();
  glance.show($("window").value);
  if (linked !== null) detail.open(linked);
  await apply(current);
}

/** The empty list's hint: a command for this very server, with a copy button. */
function example() {
  const command = exampleCommand(location.origin);
  $("example-command").textContent = command;
  $("example").append(copyButton("Copy", () => command));
}

/** Shows the view for `wanted`: an empty list, the stream (so nothing falls between), then
 *  the first page beneath whatever the stream delivered meanwhile. */
async function apply(wanted) {
  current = wanted;
  filters.toUrl(current, $("window").value);
  const filtered = Object.keys(current).length > 0;
  $("empty-text").textContent = filtered ? "No events match these filters." : "No events yet. Send one:";
  $("example").hidden = filtered;
  $("list").setAttribute("aria-busy", "true");
  list.replace([]);
  await feed.connect(filters.streamQuery(current), {
    webhook: (events) => {
      const shown = events.filter((e) => filters.matches(current, e));
      if (shown.length) list.prepend(shown);
      glance.nudge();
    },
    alert: alerts.receive,
  });
  await loadPage(null);
}

/** Loads a page of older events beneath the list; the list is `aria-busy` meanwhile (and from
 *  the moment a view is applied), so assistive technology and tests know when it is whole. */
async function loadPage(before) {
  const error = $("list-error");
  $("list").setAttribute("aria-busy", "true");
  try {
    const page = await api(`/api/events?${filters.listQuery(current, before)}`);
    error.hidden = true;
    // Live rows that arrived while the page loaded are newer: the page goes beneath them.
    list.appendOlder(page.events);
    nextBefore = page.next_before;
    $("older").hidden = nextBefore === null || nextBefore === undefined;
  } catch (e) {
    error.textContent = e.detail || e.message;
    error.hidden = false;
  } finally {
    $("list").removeAttribute("aria-busy");
  }
}

async function meta() {
  try {
    const info = await api("/api/meta");
    $("insecure").hidden = !info.insecure;
    $("logout").hidden = !info.auth;
  } catch (_) { /* older server: no banner */ }
}

function wire() {
  list.onSelect((id, row) => detail.open(id, row));
  list.keyboard();
  detail.wire();
  feed.pauseButton();
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); apply(filters.read()); });
  $("filters").addEventListener("reset", () => setTimeout(() => apply({}), 0));
  $("older").addEventListener("click", () => loadPage(nextBefore));
  // Back or Forward to another list (filters changed while an event was open) shows it.
  window.addEventListener("popstate", () => {
    const wanted = filters.fromUrl();
    if (filters.listQuery(wanted) !== filters.listQuery(current)) {
      filters.fill(wanted);
      apply(wanted);
    }
  });
  $("window").addEventListener("change", () => {
    filters.toUrl(current, $("window").value);
    glance.show($("window").value);
  });
  $("alert-rows").addEventListener("click", (e) => {
    const link = e.target.closest("a[data-event]");
    if (link) { e.preventDefault(); detail.open(Number(link.dataset.event), link); }
  });
}

start();
