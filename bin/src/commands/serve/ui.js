// The variant comparison page's script (GET /ui/page.js).
//
// Every value from the data reaches the page through text nodes and
// attributes set one by one (el() below), never through innerHTML: a
// category named "<script>…" shows as those characters.
//
// State lives in the URL fragment, so a view can be linked and a browser
// test can open one: #category=NAME&limit=N&item=ID&variant=V.
"use strict";

let catalog = null;

// An element with attributes and children; strings become text nodes.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function byId(id) { return document.getElementById(id); }

function status(text, isError) {
  const s = byId("status");
  s.textContent = text;
  s.className = isError ? "error" : "";
}

function fragment() {
  return new URLSearchParams(location.hash.replace(/^#/, ""));
}

function setFragment(changes) {
  const f = fragment();
  for (const [k, v] of Object.entries(changes)) {
    if (v === null) f.delete(k); else f.set(k, v);
  }
  location.hash = f.toString();
}

// Seconds as the largest whole unit (2592000 → "30d").
function span(seconds) {
  const units = [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]];
  for (const [u, n] of units) {
    if (seconds >= n && seconds % n === 0) return (seconds / n) + u;
  }
  return seconds + "s";
}

// How long ago an epoch-millisecond time was, roughly.
function age(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 120) return s + " s";
  if (s < 7200) return Math.round(s / 60) + " min";
  if (s < 172800) return Math.round(s / 3600) + " h";
  return Math.round(s / 86400) + " days";
}

async function getJson(url) {
  const r = await fetch(url);
  let body = null;
  try { body = await r.json(); } catch (e) { body = { error: "not JSON (" + r.status + ")" }; }
  return { status: r.status, body };
}

function manifestOf(variant) {
  return catalog.variants.find((m) => m.variant === variant);
}

function renderOverview() {
  const box = byId("variants");
  box.replaceChildren();
  if (catalog.variants.length === 0) {
    box.append(el("p", { class: "note" }, "Nothing is published yet."));
  }
  for (const m of catalog.variants) {
    box.append(el("span", { class: "variant", "data-variant": m.variant },
      el("b", {}, m.variant), " as of " + m.as_of + " (" + age(m.generation) + " old), " +
      m.totals.categories + " categories"));
  }
  const e = catalog.experiment;
  byId("experiment").textContent = e
    ? "A/B experiment " + e.name + ": " + e.arms.map((a) => a.variant + " " + a.percent + "%").join(", ")
    : "No A/B experiment is configured.";
}

function renderMatches() {
  const query = byId("search").value.trim().toLowerCase();
  const chosen = fragment().get("category");
  const list = byId("matches");
  list.replaceChildren();
  const found = catalog.categories.filter((c) => c.category.toLowerCase().includes(query));
  for (const c of found.slice(0, 200)) {
    const b = el("button", { type: "button", class: c.category === chosen ? "chosen" : "category" }, c.category);
    b.addEventListener("click", () => setFragment({ category: c.category, item: null, variant: null }));
    list.append(el("li", {}, b));
  }
  if (found.length > 200) list.append(el("li", { class: "note" }, "… " + (found.length - 200) + " more: type to narrow"));
  if (found.length === 0) list.append(el("li", { class: "note" }, "No category matches."));
}

// The variants published for a category, the default one first.
function variantsOf(category) {
  const entry = catalog.categories.find((c) => c.category === category);
  const names = entry ? Object.keys(entry.windows) : catalog.variants.map((m) => m.variant);
  names.sort((a, b) => (b === catalog.default_variant) - (a === catalog.default_variant) || a.localeCompare(b));
  return { names, windows: entry ? entry.windows : {} };
}

function moveCell(rank, baseRank, isBase) {
  if (isBase) return el("td", { class: "move" });
  if (baseRank === undefined) return el("td", { class: "move new" }, "new");
  if (baseRank > rank) return el("td", { class: "move up" }, "▲" + (baseRank - rank));
  if (baseRank < rank) return el("td", { class: "move down" }, "▼" + (rank - baseRank));
  return el("td", { class: "move" }, "=");
}

async function renderCompare() {
  const f = fragment();
  const category = f.get("category");
  const section = byId("compare");
  if (!category) { section.hidden = true; return; }
  section.hidden = false;
  byId("category-title").textContent = category;
  const limit = Math.max(1, Math.min(catalog.max_limit, Number(f.get("limit") || byId("limit").value) || 10));
  byId("limit").value = limit;
  const { names, windows } = variantsOf(category);
  const answers = await Promise.all(names.map((v) =>
    getJson("/v1/top-sellers/" + encodeURIComponent(category) + "?variant=" + encodeURIComponent(v) + "&limit=" + limit)));
  const base = answers[0] && answers[0].status === 200 ? answers[0].body.items : [];
  const baseRank = new Map(base.map((it) => [String(it.item_id), it.rank]));
  const columns = byId("columns");
  columns.replaceChildren();
  names.forEach((variant, i) => {
    const { status: code, body } = answers[i];
    const m = manifestOf(variant);
    const col = el("div", { class: "column", "data-variant": variant },
      el("h3", {}, variant),
      el("div", { class: "meta" },
        "window " + (windows[variant] !== undefined ? span(windows[variant]) : "?") +
        (m ? " · as of " + m.as_of + " · " + age(m.generation) + " old" : "")));
    if (code !== 200) {
      col.append(el("p", { class: "error" }, body.error || ("HTTP " + code)));
      columns.append(col);
      return;
    }
    const rows = body.items.map((it) => {
      const id = String(it.item_id);
      const row = el("tr", { class: "item", "data-variant": variant, "data-rank": it.rank, "data-item": id },
        el("td", { class: "num" }, it.rank),
        el("td", { class: "item-id" }, id),
        el("td", { class: "num" }, it.score.toPrecision(6)),
        moveCell(it.rank, baseRank.get(id), i === 0));
      row.addEventListener("click", () => setFragment({ item: id, variant }));
      return row;
    });
    col.append(el("table", {},
      el("thead", {}, el("tr", {}, el("th", { class: "num" }, "#"), el("th", {}, "item"),
        el("th", { class: "num" }, "score"), el("th", {}, i === 0 ? "" : "move"))),
      el("tbody", {}, ...rows)));
    columns.append(col);
  });
}

// Rows a table shows at most (a backtest's rows can number 100,000s).
const MAX_ROWS = 300;

function moreRows(total) {
  return total > MAX_ROWS ? el("p", { class: "note" }, "… and " + (total - MAX_ROWS) + " more rows (first " + MAX_ROWS + " shown)") : null;
}

// Any JSON value as nested elements: objects as definition lists, arrays
// of objects as tables, the rest as text.
function renderValue(v) {
  if (Array.isArray(v)) {
    if (v.length > 0 && v.every((x) => x && typeof x === "object" && !Array.isArray(x))) {
      const keys = [...new Set(v.flatMap((x) => Object.keys(x)))];
      const shown = v.slice(0, MAX_ROWS);
      return el("div", { class: "scroll" }, el("table", {},
        el("thead", {}, el("tr", {}, ...keys.map((k) => el("th", {}, k)))),
        el("tbody", {}, ...shown.map((x) => el("tr", {}, ...keys.map((k) => {
          const cell = x[k];
          return typeof cell === "number" ? el("td", { class: "num" }, format(cell)) : el("td", {}, renderValue(cell));
        }))))), moreRows(v.length));
    }
    return el("span", {}, v.map((x) => (typeof x === "object" ? JSON.stringify(x) : format(x))).join(", "));
  }
  if (v && typeof v === "object") {
    const dl = el("dl");
    for (const [k, x] of Object.entries(v)) dl.append(el("dt", {}, k), el("dd", {}, renderValue(x)));
    return dl;
  }
  return document.createTextNode(v === null || v === undefined ? "" : format(v));
}

function format(x) {
  if (typeof x === "number" && !Number.isInteger(x)) return x.toPrecision(6);
  return String(x);
}

async function renderExplain() {
  const f = fragment();
  const [category, item, variant] = [f.get("category"), f.get("item"), f.get("variant")];
  const section = byId("explain");
  if (!category || !item) { section.hidden = true; return; }
  section.hidden = false;
  byId("explain-title").textContent = item + " in " + category + (variant ? " (" + variant + ")" : "");
  const body = byId("explain-body");
  body.replaceChildren(el("p", { class: "note" }, "loading…"));
  const url = "/v1/explain/" + encodeURIComponent(category) + "/" + encodeURIComponent(item) +
    (variant ? "?variant=" + encodeURIComponent(variant) : "");
  const { status: code, body: answer } = await getJson(url);
  if (code === 200) {
    body.replaceChildren(...renderExplanation(answer));
  } else if (code === 503) {
    body.replaceChildren(el("p", { class: "error" }, "The lake is not available to this server: " + (answer.error || "HTTP 503")));
  } else {
    body.replaceChildren(el("p", { class: "error" }, answer.error || ("HTTP " + code)));
  }
}

// An explanation (`topsellers explain --json`): its common part, then one
// block per variant with the daily contributions as a table with bars.
// Fields the page does not know are still shown, by renderValue.
function renderExplanation(answer) {
  if (!Array.isArray(answer.variants)) return [renderValue(answer)];
  const { variants, ...common } = answer;
  const blocks = [renderValue(common)];
  for (const v of variants) {
    const { days, ...summary } = v;
    const block = el("div", { class: "explained", "data-variant": v.variant },
      el("h3", {}, "variant " + v.variant), renderValue(summary));
    if (Array.isArray(days) && days.length > 0) {
      const most = Math.max(...days.map((d) => Number(d.weight) || 0)) || 1;
      const keys = Object.keys(days[0]);
      block.append(el("div", { class: "scroll" }, el("table", { class: "days" },
        el("thead", {}, el("tr", {}, ...keys.map((k) => el("th", {}, k)), el("th", {}, ""))),
        el("tbody", {}, ...days.map((d) => el("tr", {},
          ...keys.map((k) => el("td", { class: typeof d[k] === "number" ? "num" : "" }, format(d[k]))),
          el("td", {}, el("span", { class: "bar", style: "width:" + Math.round(100 * (Number(d.weight) || 0) / most) + "px" }))))))));
    }
    blocks.push(block);
  }
  return blocks;
}

// A CSV text as rows of fields (quoted fields may hold commas and quotes).
function parseCsv(text) {
  const rows = [];
  for (const line of text.split(/\r?\n/)) {
    if (line === "") continue;
    const fields = [];
    let field = "", quoted = false;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i];
      if (quoted) {
        if (ch === '"' && line[i + 1] === '"') { field += '"'; i++; }
        else if (ch === '"') quoted = false;
        else field += ch;
      } else if (ch === '"') quoted = true;
      else if (ch === ",") { fields.push(field); field = ""; }
      else field += ch;
    }
    fields.push(field);
    rows.push(fields);
  }
  return rows;
}

async function renderBacktest() {
  const b = catalog.backtest;
  const section = byId("backtest");
  section.hidden = !(b.report || b.chart);
  if (b.chart) {
    const img = byId("backtest-chart");
    img.src = "/v1/backtest/chart?t=" + Date.now();
    img.hidden = false;
  }
  if (!b.report) return;
  const box = byId("backtest-table");
  const r = await fetch("/v1/backtest/report");
  const text = await r.text();
  if (!r.ok) {
    let message = text;
    try { message = JSON.parse(text).error; } catch (e) { /* keep the text */ }
    box.replaceChildren(el("p", { class: "error" }, message));
    return;
  }
  if ((r.headers.get("content-type") || "").startsWith("text/csv")) {
    const [head, ...rows] = parseCsv(text);
    box.replaceChildren(el("div", { class: "scroll" }, el("table", { class: "backtest" },
      el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))),
      el("tbody", {}, ...rows.slice(0, MAX_ROWS).map((row) => el("tr", {}, ...row.map((c) => el("td", {}, c))))))),
      moreRows(rows.length));
  } else {
    let report;
    try { report = JSON.parse(text); } catch (e) {
      box.replaceChildren(el("p", { class: "error" }, "The backtest report is not JSON: " + e.message));
      return;
    }
    box.replaceChildren(renderValue(report));
  }
}

async function route() {
  renderMatches();
  await renderCompare();
  await renderExplain();
}

async function start() {
  const { status: code, body } = await getJson("/v1/catalog");
  if (code !== 200) {
    status(body.error || ("catalog: HTTP " + code), true);
    return;
  }
  catalog = body;
  byId("limit").max = catalog.max_limit;
  renderOverview();
  byId("search").addEventListener("input", renderMatches);
  byId("limit").addEventListener("change", () => setFragment({ limit: byId("limit").value }));
  window.addEventListener("hashchange", () => { route().catch((e) => status(String(e), true)); });
  await Promise.all([route(), renderBacktest()]);
  status(catalog.categories.length + " categories · " + catalog.variants.length + " variants");
  document.body.setAttribute("data-ready", "yes");
}

start().catch((e) => status(String(e), true));
