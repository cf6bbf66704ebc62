/* drgkit API document: renders /openapi.json (every operation, parameter and field, Chinese and English) with a
 * "try it" form per operation.  Served by drgkit itself: no CDN, works offline.  Text only (no HTML from data). */
"use strict";

const $ = (id) => document.getElementById(id);
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

let spec = null;

function resolve(schema) {
  let s = schema || {};
  for (let i = 0; i < 8 && s.$ref; i++) s = spec.components.schemas[s.$ref.split("/").pop()] || {};
  return s;
}

function typeOf(schema) {
  const s = schema || {};
  if (s.$ref) return s.$ref.split("/").pop();
  if (s.anyOf) return s.anyOf.map(typeOf).filter((t) => t !== "null").join(" | ");
  if (s.type === "array") return typeOf(s.items) + "[]";
  if (s.enum) return s.enum.join(" | ");
  return s.type || "any";
}

function fieldTable(schema) {
  const s = resolve(schema);
  if (s.anyOf) {
    return el("div", {}, ...s.anyOf.map((part) => el("div", {}, el("h4", {}, "· " + typeOf(part)),
      part.type === "array" ? el("p", { class: "muted" }, "an array of " + typeOf(part.items)) : fieldTable(part))));
  }
  if (!s.properties) return el("p", { class: "muted" }, typeOf(schema) + (s.description ? " — " + s.description : ""));
  const rows = Object.entries(s.properties).map(([name, p]) => el("tr", {},
    el("td", {}, name + ((s.required || []).includes(name) ? " *" : "")), el("td", { class: "mono" }, typeOf(p)),
    el("td", {}, p.description || resolve(p).description || "")));
  return el("div", {}, s.description ? el("p", {}, s.description) : null,
    el("table", { class: "schema" }, el("thead", {}, el("tr", {}, el("th", {}, "字段 field"), el("th", {}, "类型 type"),
      el("th", {}, "说明 description"))), el("tbody", {}, rows)));
}

function example(schema) {
  const s = resolve(schema);
  if (s.example) return s.example;
  if (s.anyOf) {
    for (const part of s.anyOf) { const e = example(part); if (e !== undefined) return e; }
  }
  if (s.properties) {
    const out = {};
    for (const name of s.required || []) out[name] = example(s.properties[name]) ?? "";
    return out;
  }
  return undefined;
}

function headers() {
  const t = $("token").value.trim();
  return t ? { Authorization: "Bearer " + t } : {};
}

function operation(path, method, op) {
  const params = op.parameters || [];
  const body = op.requestBody && op.requestBody.content;
  const jsonSchema = body && body["application/json"] && body["application/json"].schema;
  const formSchema = body && body["multipart/form-data"] && body["multipart/form-data"].schema;
  const inputs = {};
  const paramRows = params.map((p) => {
    const input = el("input", { type: "text", placeholder: p.schema && p.schema.default !== undefined ? String(p.schema.default) : "" });
    inputs[p.name] = input;
    return el("tr", {}, el("td", {}, p.name + (p.required ? " *" : "")), el("td", { class: "mono" }, typeOf(p.schema)),
      el("td", {}, p.description || ""), el("td", {}, input));
  });
  const textarea = jsonSchema ? el("textarea", { spellcheck: "false" }) : null;
  if (textarea) textarea.value = JSON.stringify(example(jsonSchema) ?? {}, null, 2);
  const fileInput = formSchema ? el("input", { type: "file" }) : null;
  const out = el("pre", { hidden: true });
  async function send() {
    const url = new URL(path, location.origin);
    for (const [k, input] of Object.entries(inputs)) if (input.value.trim()) url.searchParams.set(k, input.value.trim());
    const init = { method: method.toUpperCase(), headers: headers() };
    if (textarea) { init.headers["Content-Type"] = "application/json"; init.body = textarea.value; }
    if (fileInput) {
      const form = new FormData();
      if (fileInput.files[0]) form.append("file", fileInput.files[0]);
      init.body = form;
    }
    out.hidden = false; out.textContent = "…";
    try {
      const res = await fetch(url, init);
      const type = res.headers.get("Content-Type") || "";
      let text;
      if (type.includes("json")) text = JSON.stringify(await res.json(), null, 2);
      else if (type.startsWith("text/")) text = await res.text();
      else text = `(${type}, ${(await res.blob()).size.toLocaleString()} bytes)`;
      out.textContent = `HTTP ${res.status}\n${text}`;
    } catch (err) {
      out.textContent = String(err);
    }
  }
  const responses = Object.entries(op.responses || {}).map(([code, r]) => {
    const content = r.content && (r.content["application/json"] || Object.values(r.content)[0]);
    return el("li", {}, el("strong", {}, code), " ", r.description || "", content && content.schema ?
      el("details", {}, el("summary", {}, typeOf(content.schema)), fieldTable(content.schema)) : null);
  });
  return el("details", { class: "api-op" },
    el("summary", {}, el("span", { class: "method " + method }, method.toUpperCase()), el("span", { class: "path-name" }, path),
      el("span", {}, op.summary || "")),
    el("div", { class: "api-body" },
      op.description ? el("p", {}, op.description) : null,
      params.length ? el("div", {}, el("h4", {}, "参数 parameters"), el("table", { class: "schema" },
        el("thead", {}, el("tr", {}, el("th", {}, "名称"), el("th", {}, "类型"), el("th", {}, "说明"), el("th", {}, "试一试"))),
        el("tbody", {}, paramRows))) : null,
      jsonSchema ? el("div", {}, el("h4", {}, "请求体 request body (JSON)"), fieldTable(jsonSchema)) : null,
      formSchema ? el("div", {}, el("h4", {}, "请求体 request body (multipart)"), fieldTable(formSchema)) : null,
      el("h4", {}, "响应 responses"), el("ul", {}, responses),
      el("h4", {}, "试一试 try it"), textarea, fileInput,
      el("p", {}, el("button", { type: "button", class: "primary", onclick: send }, "发送 send")), out));
}

async function main() {
  const res = await fetch("/openapi.json");
  spec = await res.json();
  $("api-title").textContent = spec.info.title;
  $("api-version").textContent = "version " + spec.info.version + " · OpenAPI " + spec.openapi;
  $("api-description").textContent = spec.info.description || "";
  const ops = $("ops");
  const groups = {};
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags || ["other"])[0];
      (groups[tag] = groups[tag] || []).push(operation(path, method, op));
    }
  }
  const names = { grouping: "分组 grouping", reference: "参考数据 reference", service: "服务 service" };
  const order = ["grouping", "reference", "service"];
  const tags = Object.keys(groups).sort((a, b) => (order.indexOf(a) + 99) % 99 - (order.indexOf(b) + 99) % 99);
  for (const tag of tags) ops.append(el("h2", {}, names[tag] || tag), ...groups[tag]);
}

document.addEventListener("DOMContentLoaded", main);
