// Renders /openapi.json: one foldable entry per route and method, its parameters, request
// body and answers, with each schema resolved and shown as a compact outline. `/docs#all`
// opens every entry.
"use strict";

const el = (tag, attrs, ...children) => {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => (k === "class" ? (node.className = v) : node.setAttribute(k, v)));
  children.flat().forEach((c) => node.append(c instanceof Node ? c : document.createTextNode(String(c))));
  return node;
};

// Text with `code` spans, as the document writes them.
const rich = (text) => String(text || "").split("`").map((part, i) => (i % 2 ? el("code", {}, part) : part));

function resolve(doc, schema) {
  if (schema && schema.$ref) {
    const name = schema.$ref.split("/").pop();
    return { name, schema: doc.components.schemas[name] };
  }
  return { name: null, schema };
}

// A schema as readable text: objects by field, arrays by item, refs by name.
function outline(doc, schema, depth) {
  const { name, schema: s } = resolve(doc, schema);
  if (!s) return "any";
  if (depth > 3) return name || "object";
  const pad = "  ".repeat(depth + 1);
  if (s.oneOf) return s.oneOf.map((o) => outline(doc, o, depth)).join(" | ");
  const types = [].concat(s.type || []);
  if (types.includes("array")) return `[${outline(doc, s.items, depth)}]`;
  if (types.includes("object") && s.properties) {
    const required = new Set(s.required || []);
    const fields = Object.entries(s.properties).map(([k, v]) => {
      const opt = required.has(k) ? "" : "?";
      return `${pad}${k}${opt}: ${outline(doc, v, depth + 1)}`;
    });
    return `${name ? name + " " : ""}{\n${fields.join(",\n")}\n${"  ".repeat(depth)}}`;
  }
  if (types.includes("object") && s.additionalProperties) {
    return `{ name: ${outline(doc, s.additionalProperties, depth + 1)} }`;
  }
  return types.join(" | ") || name || "any";
}

function parameters(op) {
  if (!op.parameters || !op.parameters.length) return [];
  const rows = op.parameters.map((p) =>
    el("tr", {}, el("td", {}, el("code", {}, p.name)), el("td", {}, p.in), el("td", {}, rich(p.description || (p.schema && p.schema.description)))),
  );
  return [el("h4", {}, "Parameters"), el("table", {}, el("tr", {}, el("th", {}, "name"), el("th", {}, "in"), el("th", {}, "")), rows)];
}

function content(doc, c) {
  return Object.entries(c || {}).map(([type, media]) =>
    el("div", {}, el("code", {}, type), media.schema ? el("pre", {}, outline(doc, media.schema, 0)) : ""),
  );
}

function operation(doc, path, method, op) {
  const locked = (op.security || doc.security || []).some((s) => Object.keys(s).length > 0);
  const head = el(
    "summary",
    {},
    el("span", { class: `method ${method}` }, method),
    el("span", { class: "path" }, path),
    locked ? el("span", { class: "lock" }, "token") : "",
    el("span", { class: "summary" }, rich(op.summary)),
  );
  const body = el("div", { class: "body" });
  if (op.description) body.append(el("p", {}, rich(op.description)));
  body.append(...parameters(op));
  if (op.requestBody) {
    body.append(el("h4", {}, "Request body"));
    if (op.requestBody.description) body.append(el("p", {}, op.requestBody.description));
    body.append(...content(doc, op.requestBody.content));
  }
  body.append(el("h4", {}, "Answers"));
  Object.entries(op.responses || {}).forEach(([status, r]) => {
    body.append(el("p", {}, el("span", { class: "status" }, status), " ", rich(r.description)));
    body.append(...content(doc, r.content));
  });
  const entry = el("details", { class: "op" }, head, body);
  entry.open = location.hash === "#all";
  return entry;
}

async function main() {
  const response = await fetch("/openapi.json");
  const doc = await response.json();
  document.getElementById("title").textContent = `${doc.info.title} ${doc.info.version} API`;
  document.getElementById("intro").replaceChildren(...rich(doc.info.description));
  const ops = document.getElementById("ops");
  Object.entries(doc.paths).forEach(([path, item]) => {
    ["get", "post", "put", "patch", "delete"].forEach((method) => {
      if (item[method]) ops.append(operation(doc, path, method, item[method]));
    });
  });
}

main().catch((error) => {
  document.getElementById("intro").textContent = `Cannot load /openapi.json: ${error}`;
});
