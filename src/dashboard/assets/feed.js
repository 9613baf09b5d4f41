// The live feed: `/api/stream` through EventSource, which reconnects by itself and resumes
// with Last-Event-ID, so a dropped connection leaves no gap. Shows the connection state, and
// holds events back while paused.

import { $ } from "./dom.js";

let source = null;
/** The newest event id received: where a connection this page reopens itself resumes. */
let lastId = null;
let paused = false;
let held = [];
let handlers = { webhook: () => {}, alert: () => {} };

/** Opens (or reopens, after a filter change) the stream; resolves once it is connected, or
 *  after two seconds so a slow stream never blocks the first page. */
export function connect(query, on) {
  lastId = null; // a new view starts from now; its list was just loaded
  return open(query, on);
}

function open(query, on) {
  handlers = on;
  if (source) source.close();
  held = [];
  showHeld();
  const params = new URLSearchParams(query || "");
  if (lastId !== null) params.set("last_event_id", lastId);
  const search = params.toString();
  const stream = new EventSource(search ? `/api/stream?${search}` : "/api/stream");
  source = stream;
  status("connecting", "connecting…");
  stream.addEventListener("webhook", (message) => receive(message, stream));
  stream.addEventListener("alert", (message) => {
    const alert = parse(message.data);
    if (alert) handlers.alert(alert);
  });
  stream.addEventListener("error", () => {
    if (stream !== source) return;
    if (stream.readyState === EventSource.CLOSED) {
      // The browser gave up (e.g. hookwatch was down when it retried): reopen, resuming after
      // the last event received, so the gap is filled all the same.
      status("offline", "offline — retrying");
      setTimeout(() => { if (stream === source) open(query, handlers); }, 1000);
    } else {
      status("connecting", "reconnecting…");
    }
  });
  // Every (re)connection is "live" again, not only the first one.
  stream.addEventListener("open", () => { if (stream === source) status("live", "live"); });
  return new Promise((resolve) => {
    stream.addEventListener("open", () => resolve(), { once: true });
    setTimeout(resolve, 2000);
  });
}

function receive(message, stream) {
  if (stream !== source) return;
  if (message.lastEventId) lastId = message.lastEventId;
  const event = parse(message.data);
  if (!event) return;
  if (paused) {
    held.push(event);
    if (held.length > 5000) held = held.slice(-5000);
    showHeld();
  } else {
    handlers.webhook([event]);
  }
}

function parse(data) {
  try { return JSON.parse(data); } catch (_) { return null; }
}

function status(kind, text) {
  const node = $("conn");
  node.className = `conn ${kind}`;
  node.textContent = text;
}

function showHeld() {
  $("pending").textContent = held.length ? `${held.length} new` : "";
}

/** The pause button: holds new events back, and shows them all on resume. */
export function pauseButton() {
  const button = $("pause");
  button.addEventListener("click", () => {
    paused = !paused;
    button.textContent = paused ? "Resume" : "Pause";
    button.setAttribute("aria-pressed", String(paused));
    if (!paused && held.length) {
      handlers.webhook(held);
      held = [];
      showHeld();
    }
  });
}
