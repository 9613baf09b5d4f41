// The per-minute chart of "At a glance": stacked bars per source drawn as inline SVG (no
// library), a time axis of local clock times (or days, for the week) beneath it, and a legend.
// The SVG stretches to the page's width, so the axis labels are HTML placed by percentage
// (text inside a stretched SVG would be distorted).

import { $, el, clear } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg"; // the SVG namespace, a name and not a request
const COLOURS = 8;
const MINUTE = 60000;
/** For each window: bars, minutes per bar, and minutes between axis labels. */
const SHAPES = {
  "15m": [15, 1, 5],
  "1h": [60, 1, 15],
  "24h": [96, 15, 240],
  "7d": [84, 120, 1440],
};
/** Labels closer than this to either end (in % of the width) would be cut off. */
const EDGE = 5;

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Draws `rate` (`/api/stats`' per-minute points) for `window`, ending with the current bar. */
export function draw(rate, window, now = Date.now()) {
  const [bars, minutes, tick] = SHAPES[window];
  const bucketMs = minutes * MINUTE;
  const start = (Math.floor(now / bucketMs) - (bars - 1)) * bucketMs;
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
  drawBars(grid, order, peak, start, bucketMs);
  axis(start, start + bars * bucketMs, tick * MINUTE, window === "7d");
  const legend = clear($("legend"));
  const per = minutes === 1 ? "minute" : minutes % 60 ? `${minutes} min` : `${minutes / 60} h`;
  legend.append(el("span", { className: "muted" }, order.length ? `peak ${peak} per ${per}` : "no events in this window"));
  order.forEach((source, n) => legend.append(el("span", { className: `key c${n % COLOURS}` }, source)));
}

function drawBars(grid, order, peak, start, bucketMs) {
  const box = clear($("chart"));
  const width = 600 / grid.length;
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
}

/** Labels at whole local times (every `step` ms) between `start` and `end`. */
function axis(start, end, step, days) {
  const box = clear($("chart-axis"));
  for (const at of ticks(start, end, step)) {
    const left = ((at - start) / (end - start)) * 100;
    if (left < EDGE || left > 100 - EDGE) continue;
    const label = el("span", { title: new Date(at).toLocaleString() }, timeLabel(at, days));
    label.style.left = `${left.toFixed(2)}%`; // CSSOM, which the CSP allows (no style attribute)
    box.append(label);
  }
}

/** Multiples of `step` in local time (so days start at local midnight) from `start` to `end`. */
export function ticks(start, end, step) {
  const offset = -new Date(start).getTimezoneOffset() * MINUTE;
  const out = [];
  for (let at = Math.ceil((start + offset) / step) * step - offset; at <= end; at += step) out.push(at);
  return out;
}

/** "14:30", or for the week "Thu 4". */
export function timeLabel(at, days) {
  const date = new Date(at);
  if (days) return `${date.toLocaleDateString([], { weekday: "short" })} ${date.getDate()}`;
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
}
