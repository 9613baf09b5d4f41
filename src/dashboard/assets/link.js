// An event's address: `#event-42` after the filters' query string (`/?source=stripe#event-42`),
// so an open event can be shared like a filtered view. Opening an event from the page adds a
// history entry, so Back closes it; opening the address in a new tab shows the event.
// filters.js owns the query string and keeps the fragment when it rewrites it.

/** The event id in the URL's fragment, or null. */
export function eventFromUrl() {
  const match = /^#event-(\d+)$/.exec(location.hash);
  return match ? Number(match[1]) : null;
}

/** The address without the fragment: the list and its filters. */
function list() {
  return `${location.pathname}${location.search}`;
}

/** Puts event `id` in the URL: a new history entry when no event was in it (Back closes the
 *  event), else in place of the one there (Back still goes to the list). The entry remembers
 *  the list it was opened over. */
export function show(id) {
  const hash = `#event-${Number(id)}`;
  if (location.hash === hash) return;
  if (eventFromUrl() === null) history.pushState({ event: true, over: list() }, "", list() + hash);
  else history.replaceState(history.state, "", list() + hash);
}

/** Takes the event out of the URL: goes Back when this page added the entry over the same
 *  list, else rewrites the address (an event opened from a shared link, or filters changed
 *  while it was open: Back would bring the old filters). */
export function hide() {
  if (eventFromUrl() === null) return;
  const state = history.state;
  if (state && state.event && state.over === list()) history.back();
  else history.replaceState(null, "", list());
}

/** Calls `callback` with the event id (or null) whenever Back, Forward or an edited address
 *  changes the URL. */
export function onChange(callback) {
  window.addEventListener("popstate", () => callback(eventFromUrl()));
}
