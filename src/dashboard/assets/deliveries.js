// The deliveries view (`/?view=deliveries`, filters `state`, `target` and `source` in the URL):
// the forwarding targets with their counts and a Pause/Resume button, the deliveries newest
// first with paging, and "Replay these N", which replays every listed event one after another.

import { $, el, clear, api, post, clock, badge, plural } from "./dom.js";
import { stateBadge } from "./forwards.js";

const FIELDS = ["state", "target", "source"];
/** The deliveries listed, and where the next page starts. */
let listed = [];
let nextBefore = null;
let filters = {};

/** Whether the URL asks for this view. */
export function wanted() {
  return new URLSearchParams(location.search).get("view") === "deliveries";
}

/** Shows the view: reads the filters from the URL and loads targets and deliveries. */
export function start(openEvent) {
  document.body.classList.add("view-deliveries");
  $("to-deliveries").setAttribute("aria-current", "page");
  filters = fromUrl();
  const form = $("delivery-filters");
  for (const name of FIELDS) form.elements[name].value = filters[name] || "";
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    filters = {};
    for (const name of FIELDS) {
      const value = form.elements[name].value.trim();
      if (value) filters[name] = value;
    }
    toUrl();
    reload();
  });
  $("older-deliveries").addEventListener("click", () => loadPage(nextBefore));
  $("replay-all").addEventListener("click", replayAll);
  $("refresh-deliveries").addEventListener("click", reload);
  $("delivery-rows").addEventListener("click", (e) => {
    const link = e.target.closest("a[data-event]");
    if (link) { e.preventDefault(); openEvent(Number(link.dataset.event), link); }
  });
  $("target-rows").addEventListener("click", (e) => {
    const button = e.target.closest("button[data-target]");
    if (button) toggle(button);
  });
  reload();
}

function fromUrl() {
  const params = new URLSearchParams(location.search);
  const found = {};
  for (const name of FIELDS) {
    const value = (params.get(name) || "").trim();
    if (value) found[name] = value;
  }
  return found;
}

function toUrl() {
  const params = new URLSearchParams({ view: "deliveries" });
  for (const name of FIELDS) if (filters[name]) params.set(name, filters[name]);
  history.replaceState(history.state, "", `/?${params}${location.hash}`);
}

async function reload() {
  listed = [];
  clear($("delivery-rows"));
  $("replay-progress").textContent = "";
  await Promise.all([loadTargets(), loadPage(null)]);
}

async function loadTargets() {
  const rows = $("target-rows");
  try {
    const answer = await api("/api/forwards/targets");
    clear(rows);
    for (const t of answer.targets || []) {
      const paused = t.state === "paused";
      rows.append(el("tr", { dataset: { name: t.name } },
        el("td", {}, t.name),
        el("td", { className: "to" }, t.to),
        el("td", {}, badge(t.state, paused ? "warn" : "ok")),
        el("td", { className: "num" }, String(t.pending)),
        el("td", { className: "num" }, String(t.delivered)),
        el("td", { className: "num" }, String(t.dead)),
        el("td", { title: t.last_success_at ?? "" }, t.last_success_at ? clock(t.last_success_at) : "—"),
        el("td", {}, t.last_error ?? "—"),
        el("td", {}, el("button", { type: "button", className: "small", dataset: { target: t.name, paused: String(paused) } }, paused ? "Resume" : "Pause"))));
    }
  } catch (error) {
    showError(error);
  }
}

/** Pauses or resumes a target, then shows the targets again. */
async function toggle(button) {
  const action = button.dataset.paused === "true" ? "resume" : "pause";
  button.disabled = true;
  try {
    const answer = await post(`/api/forwards/targets/${encodeURIComponent(button.dataset.target)}/${action}`);
    if (answer.status !== 200) showError({ message: (answer.body && answer.body.error) || `${action}: ${answer.status}` });
  } catch (error) {
    showError(error);
  }
  await loadTargets();
}

async function loadPage(before) {
  const box = $("deliveries-list");
  box.setAttribute("aria-busy", "true");
  try {
    const params = new URLSearchParams(filters);
    params.set("limit", "100");
    if (before) params.set("before", String(before));
    const page = await api(`/api/forwards?${params}`);
    $("delivery-error").hidden = true;
    const rows = page.forwards || [];
    listed.push(...rows);
    $("delivery-rows").append(...rows.map(row));
    nextBefore = page.next_before ?? null;
    $("older-deliveries").hidden = nextBefore === null;
  } catch (error) {
    showError(error);
  } finally {
    box.removeAttribute("aria-busy");
    counts();
  }
}

function row(d) {
  const id = Number(d.event_id);
  return el("tr", { className: d.state === "dead" ? "is-error" : "" },
    el("td", {}, el("a", { href: `#event-${id}`, dataset: { event: String(id) } }, `#${id}`)),
    el("td", {}, d.source),
    el("td", {}, d.target),
    el("td", {}, stateBadge(d.state)),
    el("td", { className: "num" }, String(d.attempts)),
    el("td", { title: d.next_at ?? "" }, d.next_at ? clock(d.next_at) : "—"),
    el("td", {}, d.last_status === null || d.last_status === undefined ? "—" : String(d.last_status)),
    el("td", {}, d.last_error ?? "—"));
}

/** The events behind the listed deliveries, each once. */
function events() {
  return [...new Set(listed.map((d) => Number(d.event_id)))];
}

function counts() {
  const n = events().length;
  $("deliveries-empty").hidden = listed.length > 0;
  $("replay-all").hidden = n === 0;
  $("replay-all").textContent = `Replay these ${plural(n, "event")}`;
}

/** Replays each listed event in turn, counting as it goes. */
async function replayAll() {
  const ids = events();
  const button = $("replay-all");
  const progress = $("replay-progress");
  button.disabled = true;
  let done = 0;
  const failed = [];
  for (const id of ids) {
    try {
      const answer = await post(`/api/events/${id}/replay`);
      if (answer.status === 202) done += 1;
      else failed.push(`#${id}: ${(answer.body && answer.body.error) || answer.status}`);
    } catch (error) {
      failed.push(`#${id}: ${error.message}`);
    }
    progress.textContent = `Replayed ${done} of ${ids.length}`;
  }
  progress.textContent = `Replayed ${done} of ${ids.length}${failed.length ? `; failed ${failed.join("; ")}` : ""}`;
  button.disabled = false;
}

function showError(error) {
  const box = $("delivery-error");
  box.textContent = error.detail || error.message;
  box.hidden = false;
}
