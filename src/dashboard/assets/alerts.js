// The alerts panel: `/api/alerts` and new alerts from the stream (`event: alert`). Hidden
// while the server has no alerts endpoint (404) and until there is an alert to show.

import { $, el, clear, api, badge, clock } from "./dom.js";

const alerts = new Map(); // id → alert
let available = false;

/** Loads the alerts; keeps the panel hidden when the endpoint does not exist. */
export async function load() {
  try {
    const answer = await api("/api/alerts?limit=50");
    available = true;
    for (const alert of answer.alerts || []) alerts.set(alert.id, alert);
  } catch (error) {
    if (error.status !== 404) console.warn("alerts", error);
    available = false;
  }
  draw();
}

/** A new or changed alert from the stream. */
export function receive(alert) {
  if (!alert || alert.id === undefined) return;
  available = true;
  alerts.set(alert.id, alert);
  draw();
}

/** The alerts that name event `id` among their samples. */
export function alertsFor(id) {
  return [...alerts.values()].filter((a) => (a.sample_event_ids || []).includes(Number(id)));
}

function draw() {
  const rows = clear($("alert-rows"));
  const list = [...alerts.values()].sort((a, b) => String(b.at).localeCompare(String(a.at)) || b.id - a.id);
  $("alerts").hidden = !available || list.length === 0;
  for (const a of list.slice(0, 100)) {
    const samples = (a.sample_event_ids || []).slice(0, 5).map((id) =>
      el("a", { href: `#event-${Number(id)}`, dataset: { event: String(Number(id)) } }, `#${Number(id)}`));
    rows.append(el("tr", { className: a.state === "firing" ? "is-error" : "" },
      el("td", { title: a.at }, clock(a.at)),
      el("td", {}, a.rule),
      el("td", {}, a.kind),
      el("td", {}, a.source ?? "all"),
      el("td", {}, badge(a.state, a.state === "firing" ? "bad" : "ok")),
      el("td", { className: "num" }, `${a.count} in ${a.window_secs} s`),
      el("td", {}, samples.flatMap((link) => [link, " "]))));
  }
}
