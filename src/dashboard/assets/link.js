// An event's address: `#event-42` after the filters' query string (`/?source=stripe#event-42`),
// so an open event can be shared like a filtered view. Opening an event from the page adds a
// history entry, so Back closes it; opening the address in a new tab shows the event.
// filters.js owns the query string and keeps the fragment when it rewrites it.

/** The event id in the URL's fragment, or null. */
export function eventFromUrl() {
  const match = /^#event-(\d+)$/.exec(location.hash);
  return match ? Number(match[1]) : null;
}

/** Puts event `id` in the URL: a new history entry when no event was in it (Back closes the
 *  event), else in place of the one there (Back still goes to the list). */
export function show(id) {
  const hash = `#event-${Number(id)}`;
  if (location.hash === hash) return;
  const url = `${location.pathname}${location.search}${hash}`;
  if (eventFromUrl() === null) history.pushState({ event: true }, "", url);
  else history.replaceState(history.state, "", url);
}

/** Takes the event out of the URL: goes Back when this page added the entry, else rewrites
 *  the address (an event opened from a shared link). */
export function hide() {
  if (eventFromUrl() === null) return;
  if (history.state && history.state.event) history.back();
  else history.replaceState(null, "", `${location.pathname}${location.search}`);
}

/** Calls `callback` with the event id (or null) whenever Back, Forward or an edited address
 *  changes the URL. */
export function onChange(callback) {
  window.addEventListener("popstate", () => callback(eventFromUrl()));
}
