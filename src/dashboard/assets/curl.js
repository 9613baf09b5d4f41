// "Copy as curl": a shell command that sends the stored request again, exactly — method,
// path and query, every header but Host and Content-Length, the body byte for byte.
// Pure string building, so it is easy to reason about; POSIX sh single quotes throughout.

/** Quotes a string for POSIX sh: inside single quotes nothing is special but the quote. */
export function shellQuote(text) {
  return `'${String(text).replace(/'/g, `'\\''`)}'`;
}

/** Headers curl would add by itself; a blank `-H 'Name:'` stops it when the original lacked them. */
const CURL_DEFAULTS = ["accept", "user-agent", "content-type", "expect"];

/** The header pairs of an event (a repeated header is an array of values). */
export function headerPairs(headers) {
  const pairs = [];
  for (const [name, value] of Object.entries(headers || {})) {
    for (const one of Array.isArray(value) ? value : [value]) pairs.push([name, String(one)]);
  }
  return pairs;
}

/** The command for an event detail; `origin` is where hookwatch is reached (location.origin). */
export function curlCommand(event, origin) {
  const url = `${origin}${event.path}${event.query ? `?${event.query}` : ""}`;
  const parts = ["curl", "--globoff", "--silent", "--show-error", "-X", shellQuote(event.method), shellQuote(url)];
  const pairs = headerPairs(event.headers).filter(([name]) => !["host", "content-length"].includes(name));
  // curl reads `Name:` as "remove this header"; `Name;` sends it empty.
  for (const [name, value] of pairs) parts.push("-H", shellQuote(value === "" ? `${name};` : `${name}: ${value}`));
  const present = new Set(pairs.map(([name]) => name));
  for (const name of CURL_DEFAULTS) if (!present.has(name)) parts.push("-H", shellQuote(`${name}:`));
  const base64 = bodyBase64(event);
  if (base64 !== null) {
    return `printf '%s' ${shellQuote(base64)} | base64 -d | ${parts.join(" ")} --data-binary @-`;
  }
  parts.push("--data-binary", shellQuote(event.raw_body ?? ""));
  return parts.join(" ");
}

/** Bodies that cannot be a shell argument (not UTF-8, or holding a NUL byte) go through
 *  base64, and so does one starting with `@`, which curl would read as a file name. */
function bodyBase64(event) {
  if (event.raw_body_base64) return event.raw_body_base64;
  const text = event.raw_body ?? "";
  if (!text.includes("\0") && !text.startsWith("@")) return null;
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** The command the empty list suggests: a JSON delivery with a type, sent to this hookwatch
 *  (`origin` is location.origin), that works when pasted into a shell. */
export function exampleCommand(origin) {
  const url = `${origin}/webhook/demo`;
  const plain = /^[A-Za-z0-9_.:/-]+$/.test(url);
  return `curl ${plain ? url : shellQuote(url)} -H 'content-type: application/json' -d '{"type":"hello"}'`;
}
