// An event's forwarding in its detail: each delivery (target, state, attempts, next try), every
// attempt from `/api/events/{id}/attempts` (the target's answer is shown as text, it is
// whatever the target sent), and a Replay button that queues the event again.

import { el, clear, api, post, badge, clock, plural } from "./dom.js";

/** The badge for a delivery state. */
export function stateBadge(state) {
  return badge(state, { delivered: "ok", dead: "bad", pending: "warn" }[state] || "");
}

/** The section for `event`; its attempts load after it is shown. */
export function section(event) {
  const forwards = Array.isArray(event.forwards) ? event.forwards : [];
  const box = el("section", { className: "forwards" }, el("h3", {}, "Forwarding"));
  if (forwards.length) {
    box.append(el("table", { className: "grid", "aria-label": "Deliveries" },
      el("thead", {}, el("tr", {}, ["Target", "State", "Attempts", "Next try"].map((h) => el("th", {}, h)))),
      el("tbody", {}, forwards.map((f) => el("tr", {},
        el("td", {}, f.target), el("td", {}, stateBadge(f.state)),
        el("td", { className: "num" }, String(f.attempts)),
        el("td", { title: f.next_at ?? "" }, f.next_at ? clock(f.next_at) : "—"))))));
  } else {
    box.append(el("p", { className: "muted" }, "No forwarding rule took this event."));
  }
  const attempts = el("div", { className: "attempts", "aria-busy": "true" });
  box.append(el("h4", {}, "Attempts"));
  const result = el("p", { className: "replay-result", role: "status" });
  const replay = el("button", { type: "button", className: "small replay" }, "Replay");
  replay.addEventListener("click", () => replayOne(event.id, replay, result, attempts));
  box.append(attempts, el("div", { className: "tools" }, replay), result);
  loadAttempts(event.id, attempts);
  return box;
}

/** Loads and shows the attempts; answers how many there are (null on failure). */
async function loadAttempts(id, box) {
  box.setAttribute("aria-busy", "true");
  try {
    const answer = await api(`/api/events/${Number(id)}/attempts`);
    const attempts = answer.attempts || [];
    drawAttempts(clear(box), attempts);
    return attempts.length;
  } catch (error) {
    clear(box).append(el("p", { className: "error" }, `Could not load the attempts (${error.detail || error.message}).`));
    return null;
  } finally {
    box.removeAttribute("aria-busy");
  }
}

/** After a replay: looks again every half second, for up to 15 s, until `queued` more
 *  attempts than `before` are recorded (while the box is still on the page). */
async function followAttempts(id, box, before, queued) {
  for (let tries = 0; tries < 30 && box.isConnected; tries += 1) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = await loadAttempts(id, box);
    if (now !== null && now >= before + queued) return;
  }
}

function drawAttempts(box, attempts) {
  if (!attempts.length) {
    box.append(el("p", { className: "muted" }, "No attempt yet."));
    return;
  }
  box.append(el("table", { className: "grid", "aria-label": "Attempts" },
    el("thead", {}, el("tr", {}, ["#", "Target", "When", "Answer", "ms", "Response"].map((h) => el("th", {}, h)))),
    el("tbody", {}, attempts.map((a) => el("tr", { className: a.status >= 200 && a.status < 300 ? "" : "is-error" },
      el("td", { className: "num" }, `${a.n}${a.replay ? " (replay)" : ""}`),
      el("td", { className: "name" }, a.target),
      el("td", { className: "name", title: a.at }, clock(a.at)),
      el("td", {}, a.status === null || a.status === undefined ? el("span", { className: "error" }, a.error ?? "no answer") : String(a.status)),
      el("td", { className: "num" }, String(a.ms)),
      el("td", {}, a.response_excerpt ? el("pre", { className: "raw excerpt" }, a.response_excerpt) : "—"))))));
}

/** Replays event `id`: shows what was queued, or why nothing was. */
async function replayOne(id, button, result, attempts) {
  button.disabled = true;
  result.className = "replay-result";
  const before = attempts.querySelectorAll("tbody tr").length;
  try {
    const answer = await post(`/api/events/${Number(id)}/replay`);
    if (answer.status === 202) {
      const targets = (answer.body.queued || []).map((q) => q.target);
      result.textContent = `Queued ${plural(targets.length, "delivery", "deliveries")}: ${targets.join(", ")}`;
      followAttempts(id, attempts, before, targets.length);
    } else {
      result.className = "replay-result error";
      result.textContent = (answer.body && answer.body.error) || `Replay failed (${answer.status}).`;
    }
  } catch (error) {
    result.className = "replay-result error";
    result.textContent = `Replay failed (${error.message}).`;
  } finally {
    button.disabled = false;
  }
}
