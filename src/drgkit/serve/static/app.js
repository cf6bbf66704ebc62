/* drgkit workbench — plain JavaScript, no framework, no build step, nothing fetched from outside this server.
 * Everything the server or a file sends is shown with textContent (never parsed as HTML), so a diagnosis name or a
 * case id holding "<script>" is shown as the text it is. */
"use strict";

const $ = (id) => document.getElementById(id);

/** An element with attributes and children; strings become text nodes (never HTML). */
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
const clear = (node) => { while (node.firstChild) node.removeChild(node.firstChild); return node; };

const STATUS_ZH = { ok: "入组", ambiguous: "歧义组 (QY)", ungroupable: "未入组 (0000)", invalid: "无效病案" };
const CC_ZH = { none: "无", cc: "CC 一般并发症", mcc: "MCC 严重并发症" };
const LEVEL_ZH = { level1: "一级", level2: "二级", level3: "三级", level3a: "三级甲等", level3b: "三级乙等",
  provincial_level3a: "省属三甲", level1_and_primary: "一级及基层" };
const yuan = (v) => (v === null || v === undefined) ? "—" :
  Number(v).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 }) + " 元";
const num4 = (v) => (v === null || v === undefined) ? "—" : Number(v).toFixed(4);
const signed = (v, f) => (v === null || v === undefined) ? "—" : (v > 0 ? "+" : "") + f(v);

/* ------------------------------------------------------------------ the API */
const state = { schemes: [], tables: [], token: sessionStorage.getItem("drgkit-token") || "", health: null };

function authHeaders(extra) {
  const h = Object.assign({}, extra || {});
  if (state.token) h["Authorization"] = "Bearer " + state.token;
  return h;
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || ("HTTP " + status));
    this.status = status; this.body = body || {};
  }
}

async function api(path, body, query) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) if (v !== "" && v !== null && v !== undefined) url.searchParams.set(k, v);
  const init = body === undefined ? { headers: authHeaders() } :
    { method: "POST", headers: authHeaders({ "Content-Type": "application/json" }), body: JSON.stringify(body) };
  const res = await fetch(url, init);
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (res.status === 401) showToken();
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

function errorText(err) {
  if (err instanceof ApiError) {
    const b = err.body;
    const words = { unauthorized: "需要令牌", too_large: "请求过大", too_many_cases: "病例过多", malformed_json: "JSON 格式错误",
      unknown_scheme: "方案未加载", unknown_table: "支付表不存在", input_error: "文件无法读取", unsupported_file: "文件类型不支持",
      too_many_rows: "行数超过上限", pricing_error: "计价失败", invalid_field: "字段错误", invalid_parameter: "参数错误",
      internal_error: "服务器内部错误" };
    const head = words[b.code] || "请求失败";
    return head + (b.field ? "（" + b.field + "）" : "") + "：" + (b.message || ("HTTP " + err.status));
  }
  return "无法连接服务器：" + (err && err.message ? err.message : String(err));
}

function showToken() { $("token-bar").hidden = false; }

/* ------------------------------------------------------------------ settings: scheme, table, level */
function scheme() { return $("scheme").value; }

function fillTables() {
  const sel = $("table"); const keep = sel.value;
  clear(sel).append(el("option", { value: "" }, "不计价 no pricing"));
  for (const t of state.tables.filter((t) => t.usable && t.scheme === scheme())) {
    sel.append(el("option", { value: t.id }, `${t.city_zh || t.city} ${t.year || ""} (${t.id})`));
  }
  sel.value = [...sel.options].some((o) => o.value === keep) ? keep : "";
  fillLevels();
}

function fillLevels() {
  const sel = $("level"); clear(sel);
  const t = state.tables.find((x) => x.id === $("table").value);
  const levels = t ? t.levels : [];
  if (!levels.length) sel.append(el("option", { value: "" }, "—"));
  levels.forEach((lv, i) => sel.append(el("option", { value: lv }, (t.levels_zh && t.levels_zh[i]) || LEVEL_ZH[lv] || lv)));
  sel.disabled = !levels.length;
  document.body.classList.toggle("is-priced", !!$("table").value);
  for (const n of document.querySelectorAll(".priced")) n.hidden = !$("table").value;
}

function pricing() {
  const table = $("table").value;
  if (!table) return null;
  return { table, level: $("level").value || null };
}

async function loadSettings() {
  try {
    state.health = await api("/healthz");
    if (state.health.auth && !state.token) showToken();
    const [schemes, tables] = await Promise.all([api("/v1/schemes"), api("/v1/tables")]);
    state.schemes = schemes.filter((s) => s.served);
    state.tables = tables;
    const sel = clear($("scheme"));
    for (const s of state.schemes) sel.append(el("option", { value: s.id }, `${s.id} ${s.name}`));
    const def = state.schemes.find((s) => s.default);
    if (def) sel.value = def.id;
    fillTables();
  } catch (err) {
    showError("case-error", err);
  }
}

/* ------------------------------------------------------------------ code rows with autocomplete */
function codeRow(kind, code) {
  const input = el("input", { class: "code", type: "text", maxlength: 24, spellcheck: "false",
    placeholder: kind === "dx" ? "编码或名称，如 I21 / 肺炎" : "编码或名称，如 36.06 / 支架",
    "aria-label": kind === "dx" ? "诊断编码" : "手术操作编码", "aria-autocomplete": "list" });
  const list = el("ul", { class: "ac-list", role: "listbox", hidden: true });
  const name = el("span", { class: "name" });
  const role = el("span", { class: "role" });
  const row = el("li", { class: "code-row" }, role, el("div", { class: "ac" }, input, list), name,
    el("span", { class: "tools" },
      el("button", { type: "button", title: "设为第一（主要）", "aria-label": "设为主要", onclick: () => move(row, -999) }, "⤒"),
      el("button", { type: "button", title: "上移", "aria-label": "上移", onclick: () => move(row, -1) }, "↑"),
      el("button", { type: "button", title: "下移", "aria-label": "下移", onclick: () => move(row, 1) }, "↓"),
      el("button", { type: "button", title: "删除", "aria-label": "删除", onclick: () => { const p = row.parentNode; row.remove(); relabel(p); } }, "✕")));
  row.dataset.kind = kind;
  let timer = null, items = [], active = -1, seq = 0;

  function close() { list.hidden = true; active = -1; }
  function choose(item) {
    input.value = item.code; describe(row, item); close();
  }
  function render() {
    clear(list);
    items.forEach((it, i) => {
      const li = el("li", { role: "option", class: i === active ? "active" : "", "aria-selected": i === active ? "true" : "false" },
        el("span", { class: "c" }, it.code), el("span", { class: "n" }, it.name), badges(it));
      li.addEventListener("mousedown", (e) => { e.preventDefault(); choose(it); });
      list.append(li);
    });
    list.hidden = items.length === 0;
  }
  async function search() {
    const q = input.value.trim();
    if (!q) { items = []; render(); return; }
    const mine = ++seq;
    try {
      const found = await api("/v1/codes", undefined, { q, kind, scheme: scheme(), limit: 15 });
      if (mine !== seq || document.activeElement !== input) return;
      items = found; active = -1; render();
    } catch (err) { /* autocomplete is a help, not a requirement */ }
  }
  input.addEventListener("input", () => { clearTimeout(timer); describe(row, null); timer = setTimeout(search, 120); });
  input.addEventListener("keydown", (e) => {
    if (list.hidden || !items.length) return;
    if (e.key === "ArrowDown") { active = (active + 1) % items.length; render(); e.preventDefault(); }
    else if (e.key === "ArrowUp") { active = (active - 1 + items.length) % items.length; render(); e.preventDefault(); }
    else if (e.key === "Enter" && active >= 0) { choose(items[active]); e.preventDefault(); }
    else if (e.key === "Escape") { close(); }
  });
  input.addEventListener("blur", () => { setTimeout(close, 120); lookup(row); });
  if (code) { input.value = code; lookup(row); }
  return row;
}

function badges(info) {
  const out = [];
  if (!info) return out;
  if (info.grey) out.push(el("span", { class: "badge grey", title: "灰码：不能用于结算，请编码到细目" }, "灰码"));
  if (info.mcc) out.push(el("span", { class: "badge mcc" }, "MCC"));
  else if (info.cc) out.push(el("span", { class: "badge cc" }, "CC"));
  if (info.or_procedure) out.push(el("span", { class: "badge or", title: "手术室手术" }, "手术室"));
  return out;
}

function describe(row, info) {
  const name = row.querySelector(".name");
  clear(name);
  if (info === "unknown") name.append(el("span", { class: "badge unknown" }, "未知编码"));
  else if (info) name.append(info.name || "", ...badges(info));
}

async function lookup(row) {
  const code = row.querySelector("input").value.trim();
  if (!code) { describe(row, null); return; }
  try {
    const found = await api("/v1/codes", undefined, { q: code, kind: row.dataset.kind, scheme: scheme(), limit: 1 });
    const hit = found.find((f) => f.code.toUpperCase() === code.toUpperCase());
    if (row.querySelector("input").value.trim() === code) describe(row, hit || "unknown");
  } catch (err) { /* shown when grouping */ }
}

function relabel(list) {
  if (!list) return;
  const kind = list.dataset.kind;
  [...list.children].forEach((row, i) => {
    row.querySelector(".role").textContent = i === 0 ? (kind === "dx" ? "主要诊断" : "主要手术") :
      (kind === "dx" ? "其他诊断 " + i : "其他手术 " + i);
  });
}

function move(row, by) {
  const list = row.parentNode; const rows = [...list.children];
  const to = Math.max(0, Math.min(rows.length - 1, rows.indexOf(row) + by));
  list.removeChild(row);
  list.insertBefore(row, list.children[to] || null);
  relabel(list);
  row.querySelector("input").focus();
}

function addRow(kind, code) {
  const list = $(kind + "-list");
  const row = codeRow(kind, code);
  list.append(row); relabel(list);
  return row;
}

function codes(kind) {
  return [...$(kind + "-list").querySelectorAll("input.code")].map((i) => i.value.trim()).filter((c) => c);
}

/* ------------------------------------------------------------------ the case */
function caseBody() {
  const form = $("case-form");
  const body = {};
  for (const name of ["case_id", "gender", "age", "age_days", "birth_weight", "los", "leaving_type", "total_cost"]) {
    const v = form.elements[name].value.trim();
    if (v !== "") body[name] = v;
  }
  body.dx = codes("dx");
  body.px = codes("px");
  return body;
}

function showError(id, err) {
  const box = $(id);
  box.textContent = errorText(err);
  box.hidden = false;
}

async function groupCase(e) {
  if (e) e.preventDefault();
  $("case-error").hidden = true;
  const body = caseBody();
  if (!body.dx.length) { showError("case-error", new Error("请至少填写主要诊断")); return; }
  $("case-busy").hidden = false; $("group-btn").disabled = true;
  const price = pricing();
  const query = Object.assign({ scheme: scheme() }, price ? { table: price.table, level: price.level } : {});
  const whatifBody = Object.assign({}, body, { scheme: scheme() }, price ? { table: price.table, level: price.level } : {});
  const explainBody = Object.assign({}, body, { scheme: scheme() });
  delete whatifBody.total_cost; delete explainBody.total_cost;
  try {
    const [result, explained, whatif] = await Promise.all([
      api("/v1/group", body, query),
      api("/v1/explain", explainBody, { text: "zh" }),
      api("/v1/whatif", whatifBody)]);
    renderResult(result, explained, whatif);
  } catch (err) {
    showError("case-error", err);
  } finally {
    $("case-busy").hidden = true; $("group-btn").disabled = false;
  }
}

function renderResult(r, ex, w) {
  $("result").hidden = false;
  const st = $("r-status");
  st.className = "status " + r.status; st.textContent = r.status_zh || STATUS_ZH[r.status] || r.status;
  $("r-drg").textContent = r.drg || "";
  $("r-drg-name").textContent = r.drg_name || (r.status === "ok" ? "" : "（未入组）");
  $("r-mdc").textContent = [r.mdc, r.mdc_name].filter(Boolean).join(" ");
  $("r-adrg").textContent = [r.adrg, r.adrg_name].filter(Boolean).join(" ");
  $("r-cc").textContent = (r.cc_level_zh || CC_ZH[r.cc_level] || "") +
    (r.cc_code ? `（由 ${r.cc_code} ${r.cc_name || ""} 决定）` : "");
  $("r-weight").textContent = num4(r.weight);
  $("r-payment").textContent = yuan(r.standard_payment);
  $("r-case-type").textContent = r.case_type_zh || r.case_type || "—";
  $("r-scheme").textContent = `${r.scheme} · 校验码 ${r.scheme_checksum}`;
  const reason = $("r-reason");
  reason.hidden = !r.reason; reason.textContent = r.reason ? "原因：" + (r.reason_zh || r.reason) : "";
  const warn = $("r-warnings");
  warn.hidden = !r.warnings; warn.textContent = r.warnings ? "提示：" + r.warnings : "";

  $("r-sentence").textContent = (w.now && w.now.sentence) || "";
  const path = clear($("r-path"));
  for (const line of pathLines(ex.text || "")) {
    path.append(el("li", { class: line.ok ? "yes" : "no" }, el("span", { class: "mark" }, line.ok ? "✓" : "✗"), line.text));
  }

  const codesList = clear($("r-codes"));
  const names = {};
  for (const d of ex.diagnoses || []) names[d.code] = d.name;
  for (const p of ex.procedures || []) names[p.code] = p.name;
  (ex.diagnoses || []).forEach((d, i) => codesList.append(codeFact(i === 0 ? Object.assign({}, d, { cc: false, mcc: false }) : d,
    i === 0 ? "主要诊断" : "其他诊断")));
  (ex.procedures || []).forEach((p, i) => codesList.append(codeFact(p, i === 0 ? "主要手术" : "其他手术")));

  const sec = clear($("r-secondary"));
  for (const s of w.secondary || []) {
    const level = s.level === "none" ? "不是并发症或合并症" : (s.level.toUpperCase() + (s.excluded ?
      "，但与主要诊断同属一个排除表，不计入" : "，计入"));
    sec.append(el("li", {}, el("span", { class: "mono" }, s.code), " ", s.name || "（未知编码）", "：", level,
      s.level !== "none" ? el("span", { class: "badge " + (s.excluded ? "excluded" : s.level) }, s.level.toUpperCase()) : null));
  }
  if (!(w.secondary || []).length) sec.append(el("li", { class: "muted" }, "没有其他诊断。"));

  for (const f of w.finer || []) for (const a of f.alternatives || []) names[a.code] = a.name;
  const alts = clear($("r-alts"));
  const changed = (w.alternatives || []).filter((a) => a.changed);
  const weights = changed.some((a) => a.delta && a.delta.weight !== null && a.delta.weight !== undefined);
  for (const a of changed) {
    const dw = a.delta ? a.delta.weight : null, dp = a.delta ? a.delta.payment : null;
    alts.append(el("tr", {},
      el("td", {}, changeText(a, names)),
      el("td", {}, el("span", { class: "mono" }, a.drg || ""), " ", a.drg_name || STATUS_ZH[a.status] || ""),
      el("td", { class: "num wcol " + (dw > 0 ? "up" : dw < 0 ? "down" : "") }, signed(dw, (v) => v.toFixed(4))),
      el("td", { class: "num priced " + (dp > 0 ? "up" : dp < 0 ? "down" : ""), hidden: !$("table").value },
        signed(dp, (v) => yuan(v)))));
  }
  $("r-no-alts").hidden = changed.length > 0;
  for (const n of document.querySelectorAll(".wcol")) n.hidden = !weights;
  for (const n of document.querySelectorAll(".priced")) n.hidden = !$("table").value;
}

function pathLines(text) {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => /^(路径|path):/.test(l));
  const out = [];
  for (const l of lines.slice(start + 1)) {
    if (!/^\s+[✓✗]/.test(l)) break;
    const t = l.trim();
    out.push({ ok: t.startsWith("✓"), text: t.slice(1).trim().replace(/\s{2,}/g, "　") });
  }
  return out;
}

function codeFact(info, role) {
  const li = el("li", {}, el("span", { class: "muted" }, role + " "), el("span", { class: "mono" }, info.code || "（空）"), " ",
    info.name || "", info.known ? badges({ grey: info.grey, mcc: info.mcc, cc: info.cc && !info.mcc, or_procedure: info.or_procedure }) :
      el("span", { class: "badge unknown" }, "未知编码"));
  if (info.grey) {
    const finer = info.finer_codes || [];
    li.append(el("div", { class: "finer" }, finer.length ?
      "灰码，不能用于结算；可用细目：" + finer.slice(0, 8).map((f) => f.code + " " + f.name).join("；") +
        (finer.length > 8 ? ` … 另有 ${finer.length - 8} 个` : "") : "灰码，不能用于结算；字典中没有细目"));
  }
  return li;
}

function changeText(a, names) {
  const n = (c) => c + (names[c] ? " " + names[c] : "");
  const ch = a.changes || [];
  switch (a.kind) {
    case "drop_cc": return "删除并发症 " + n(ch[0].code);
    case "drop_all_cc": return "删除全部并发症 " + ch.map((c) => c.code).join("、");
    case "as_principal": return "以 " + n(ch[0].code) + " 为主要诊断（原主要诊断 " + ch[0].was + " 改为其他诊断）";
    case "finer": return "灰码 " + ch[0].was + " 改为细目 " + n(ch[0].code);
    case "add_dx": return "补充诊断 " + n(ch[0].code);
    case "add_px": return "补充手术 " + n(ch[0].code);
    case "add_all": return "同时补充 " + ch.map((c) => c.code).join("、");
    default: return a.kind;
  }
}

function fillExample() {
  const form = $("case-form");
  form.reset();
  form.elements.case_id.value = "ZY2024000123";
  form.elements.gender.value = "2";
  form.elements.age.value = "75";
  form.elements.los.value = "9";
  form.elements.leaving_type.value = "1";
  form.elements.total_cost.value = "18650";
  clear($("dx-list")); clear($("px-list"));
  for (const c of ["J18.900", "I50.900", "E11.900"]) addRow("dx", c);
  addRow("px", "");
}

function clearCase() {
  $("case-form").reset();
  clear($("dx-list")); clear($("px-list"));
  addRow("dx", ""); addRow("px", "");
  $("result").hidden = true; $("case-error").hidden = true;
}

/* ------------------------------------------------------------------ batch */
let batchFile = null;
let downloadUrl = null;

function pickFile(file) {
  batchFile = file || null;
  $("file-name").textContent = file ? `${file.name}（${(file.size / 1048576).toFixed(2)} MB）` : "";
  $("batch-go").disabled = !file;
}

function decodeSummary(header) {
  const bytes = Uint8Array.from(atob(header), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder("utf-8").decode(bytes));
}

function filenameOf(xhr, fallback) {
  const cd = xhr.getResponseHeader("Content-Disposition") || "";
  const m = /filename\*=UTF-8''([^;]+)/i.exec(cd);
  return m ? decodeURIComponent(m[1]) : fallback;
}

function runBatch() {
  if (!batchFile) return;
  $("batch-error").hidden = true; $("batch-summary").hidden = true;
  const form = new FormData();
  form.append("file", batchFile, batchFile.name);
  form.append("scheme", scheme());
  const price = pricing();
  if (price) { form.append("table", price.table); if (price.level) form.append("level", price.level); }
  if ($("batch-format").value) form.append("format", $("batch-format").value);
  if ($("batch-explain").checked) form.append("explain", "problems");
  if ($("batch-edits").checked) form.append("edits", "true");
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/v1/batch");
  if (state.token) xhr.setRequestHeader("Authorization", "Bearer " + state.token);
  xhr.responseType = "blob";
  const bar = $("batch-progress"), stage = $("batch-stage");
  $("batch-progress-box").hidden = false; $("batch-go").disabled = true;
  bar.value = 0; stage.textContent = "上传中 uploading…";
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable) { bar.value = Math.round(50 * e.loaded / e.total); stage.textContent = `上传中 ${Math.round(100 * e.loaded / e.total)}%`; }
  };
  xhr.upload.onload = () => { bar.removeAttribute("value"); stage.textContent = "分组中 grouping…（服务器处理中）"; };
  xhr.onprogress = (e) => {
    if (e.lengthComputable) { bar.value = 50 + Math.round(50 * e.loaded / e.total); stage.textContent = "下载中 receiving…"; }
  };
  xhr.onerror = () => { batchDone(); showError("batch-error", new Error("连接中断")); };
  xhr.onload = async () => {
    batchDone();
    if (xhr.status !== 200) {
      let body = null;
      try { body = JSON.parse(await xhr.response.text()); } catch (e) { body = null; }
      if (xhr.status === 401) showToken();
      showError("batch-error", new ApiError(xhr.status, body));
      return;
    }
    bar.value = 100; stage.textContent = "完成 done";
    const summary = decodeSummary(xhr.getResponseHeader("X-Drgkit-Summary") || "e30=");
    if (downloadUrl) URL.revokeObjectURL(downloadUrl);
    downloadUrl = URL.createObjectURL(xhr.response);
    const a = $("download");
    a.href = downloadUrl;
    a.setAttribute("download", filenameOf(xhr, "grouped"));
    renderSummary(summary);
  };
  xhr.send(form);
}

function batchDone() { $("batch-go").disabled = !batchFile; }

function renderSummary(s) {
  $("batch-summary").hidden = false;
  const total = s.rows || 0;
  const ok = (s.statuses.ok || 0) + (s.statuses.ambiguous || 0);
  $("s-title").textContent = `共 ${total.toLocaleString("zh-CN")} 份病案（方案 ${s.scheme}），入组率 ${
    total ? (100 * ok / total).toFixed(1) : "0.0"}%`;
  const st = clear($("s-statuses"));
  for (const k of ["ok", "ambiguous", "ungroupable", "invalid"]) {
    const n = s.statuses[k] || 0;
    st.append(el("tr", {}, el("td", {}, el("span", { class: "status " + k }, (s.statuses_zh || STATUS_ZH)[k] || k)),
      el("td", { class: "num" }, n.toLocaleString("zh-CN")),
      el("td", { class: "num" }, total ? (100 * n / total).toFixed(1) + "%" : "—")));
  }
  const dr = clear($("s-drgs"));
  for (const d of s.top_drgs || []) dr.append(el("tr", {}, el("td", { class: "mono" }, d.drg), el("td", {}, d.name || ""),
    el("td", { class: "num" }, d.cases.toLocaleString("zh-CN"))));
  const rs = clear($("s-reasons"));
  for (const r of s.top_reasons || []) rs.append(el("tr", {}, el("td", {}, r.reason_zh || r.reason),
    el("td", { class: "num" }, r.cases.toLocaleString("zh-CN"))));
  if (!(s.top_reasons || []).length) rs.append(el("tr", {}, el("td", { class: "muted", colspan: 2 }, "全部入组。")));
  const problems = s.problems || [];
  $("s-problems-title").textContent = problems.length ? `问题病例（前 ${problems.length} 例）` : "问题病例";
  const pr = clear($("s-problems"));
  for (const p of s.problems || []) pr.append(el("tr", {}, el("td", { class: "num" }, p.row), el("td", { class: "mono" }, p.case_id || ""),
    el("td", {}, el("span", { class: "status " + p.status }, STATUS_ZH[p.status] || p.status)), el("td", {}, p.reason_zh || p.reason || "")));
  if (!(s.problems || []).length) pr.append(el("tr", {}, el("td", { class: "muted", colspan: 4 }, "没有问题病例。")));
  const cols = clear($("s-columns"));
  for (const line of s.columns || []) cols.append(el("li", {}, line));
}

/* ------------------------------------------------------------------ wiring */
function tab(which) {
  const isCase = which === "case";
  $("case-view").hidden = !isCase; $("batch-view").hidden = isCase;
  $("tab-case").classList.toggle("active", isCase); $("tab-batch").classList.toggle("active", !isCase);
  $("tab-case").setAttribute("aria-selected", String(isCase)); $("tab-batch").setAttribute("aria-selected", String(!isCase));
}

document.addEventListener("DOMContentLoaded", () => {
  $("tab-case").addEventListener("click", () => tab("case"));
  $("tab-batch").addEventListener("click", () => tab("batch"));
  $("scheme").addEventListener("change", fillTables);
  $("table").addEventListener("change", fillLevels);
  $("case-form").addEventListener("submit", groupCase);
  $("dx-add").addEventListener("click", () => addRow("dx", "").querySelector("input").focus());
  $("px-add").addEventListener("click", () => addRow("px", "").querySelector("input").focus());
  $("example").addEventListener("click", fillExample);
  $("clear").addEventListener("click", clearCase);
  $("token-save").addEventListener("click", () => {
    state.token = $("token").value.trim();
    sessionStorage.setItem("drgkit-token", state.token);
    $("token-bar").hidden = true;
    loadSettings();
  });
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault(); drop.classList.remove("over");
    if (e.dataTransfer.files.length) pickFile(e.dataTransfer.files[0]);
  });
  $("file").addEventListener("change", (e) => pickFile(e.target.files[0]));
  $("batch-go").addEventListener("click", runBatch);
  addRow("dx", ""); addRow("px", "");
  loadSettings();
});
