"""The style sheet and the index script of `tc139k keyframes report`, written beside the pages
as assets/report.css and assets/index.js (local files: the report opens from disk, with no
server and no network).

The index script reads `window.TC139K_INDEX` (data/index.js: `columns`, `rows`, `summary`)
and renders a search box, source and status filters, a sort order and a pager over the rows;
the state lives in the URL fragment (#q=...&page=...), so a link or the back button keeps it.
Rows are built with DOM calls and textContent, never innerHTML, so no id can inject markup.
"""

CSS = """\
:root { --key: #1f5fbf; --cut: #c62828; --trig: #ef8a00; --qa: #6a4c93; --ink: #222; --muted: #666; }
*, *::before, *::after { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       margin: 0 auto; padding: 16px 24px 48px; max-width: 1280px; background: #fff; }
h1 { font-size: 22px; margin: 4px 0 6px; }
h2 { font-size: 16px; margin: 22px 0 8px; }
a { color: var(--key); }
.muted { color: var(--muted); }
.nav { display: flex; gap: 16px; margin-bottom: 8px; font-size: 13px; }
.facts { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 6px 0 10px; }
.facts b { font-variant-numeric: tabular-nums; }
.legend { display: flex; flex-wrap: wrap; gap: 14px; font-size: 12px; color: var(--muted); margin: 4px 0; }
.legend span::before { content: ""; display: inline-block; width: 12px; height: 12px; margin-right: 5px;
                       vertical-align: -2px; border-radius: 2px; }
.legend .l-key::before { border: 3px solid var(--key); }
.legend .l-cut::before { background: var(--cut); width: 4px; }
.legend .l-tr::before { background: repeating-linear-gradient(45deg, var(--cut) 0 2px, transparent 2px 5px); }
.legend .l-trig::before { background: var(--trig); border-radius: 50%; }
.legend .l-qa::before { background: var(--qa); opacity: .55; }
svg.timeline { width: 100%; height: auto; display: block; border: 1px solid #e3e3e3; border-radius: 4px; }
svg text { font: 11px system-ui, sans-serif; fill: var(--muted); }
.strip { display: flex; flex-wrap: wrap; gap: 6px; }
.th { position: relative; margin: 0; padding: 2px; border: 2px solid transparent; border-radius: 3px; }
.th i { display: block; background-repeat: no-repeat; background-color: #ddd; }
.th span { display: block; font-size: 10px; color: var(--muted); text-align: center;
           font-variant-numeric: tabular-nums; }
.th.key { border-color: var(--key); }
.th.key span { color: var(--key); font-weight: 600; }
.th.cut::before { content: ""; position: absolute; left: -6px; top: 0; bottom: 0; width: 3px;
                  background: var(--cut); border-radius: 2px; }
.th.tr i { outline: 3px solid transparent; box-shadow: inset 0 0 0 3px var(--cut); opacity: .8; }
.th.trig::after { content: ""; position: absolute; right: 4px; top: 4px; width: 8px; height: 8px;
                  border-radius: 50%; background: var(--trig); border: 1px solid #fff; }
.th.missing i { background: repeating-linear-gradient(45deg, #eee 0 4px, #ccc 4px 8px); }
.times { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; font-size: 13px; }
.times dt { color: var(--muted); }
.times dd { margin: 0; font-variant-numeric: tabular-nums; word-break: break-word; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eee; vertical-align: top; }
th { background: #f6f6f6; position: sticky; top: 0; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.failed td { color: var(--cut); }
.controls { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; margin: 10px 0; }
.controls input[type=search] { width: 320px; padding: 5px 8px; font-size: 14px; }
.controls select, .controls button { padding: 4px 8px; font-size: 13px; }
.error { color: var(--cut); font-weight: 600; }
"""

INDEX_JS = """\
(function () {
  "use strict";
  var data = window.TC139K_INDEX;
  var PER_PAGE = 100;
  var col = {};
  data.columns.forEach(function (name, i) { col[name] = i; });
  var el = function (id) { return document.getElementById(id); };
  var SORTS = {
    video: function (a, b) { return cmp(key(a), key(b)); },
    duration: desc("duration_seconds"),
    keyframes: desc("keyframes"),
    scenes: desc("scenes"),
    qa: desc("qa_records"),
    drop: desc("mean_drop_ratio"),
    failed: function (a, b) { return cmp(a[col.status], b[col.status]) || cmp(key(a), key(b)); }
  };
  function cmp(x, y) { return x < y ? -1 : x > y ? 1 : 0; }
  function key(r) { return r[col.source] + "/" + r[col.video_id]; }
  function desc(name) {
    return function (a, b) { return cmp(b[col[name]], a[col[name]]) || cmp(key(a), key(b)); };
  }
  function state() {
    var s = { q: "", source: "", status: "", sort: "video", page: 1 };
    location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      var kv = part.split("=");
      if (kv.length === 2 && kv[0] in s) { s[kv[0]] = decodeURIComponent(kv[1]); }
    });
    s.page = Math.max(1, parseInt(s.page, 10) || 1);
    if (!(s.sort in SORTS)) { s.sort = "video"; }
    return s;
  }
  function go(change) {
    var s = state();
    Object.keys(change).forEach(function (k) { s[k] = change[k]; });
    var parts = Object.keys(s).map(function (k) { return k + "=" + encodeURIComponent(s[k]); });
    location.replace("#" + parts.join("&"));
  }
  function fmtSeconds(t) {
    var m = Math.floor(t / 60), s = Math.round(t - 60 * m);
    if (s === 60) { m += 1; s = 0; }
    return m + ":" + (s < 10 ? "0" : "") + s;
  }
  function cell(tr, text, numeric) {
    var td = document.createElement("td");
    td.textContent = text;
    if (numeric) { td.className = "n"; }
    tr.appendChild(td);
  }
  function render() {
    var s = state();
    el("q").value = s.q;
    el("source").value = s.source;
    el("status").value = s.status;
    el("sort").value = s.sort;
    var terms = s.q.toLowerCase().split(/\\s+/).filter(Boolean);
    var rows = data.rows.filter(function (r) {
      var name = key(r).toLowerCase();
      return (!s.source || r[col.source] === s.source) && (!s.status || r[col.status] === s.status) &&
        terms.every(function (t) { return name.indexOf(t) >= 0; });
    });
    rows.sort(SORTS[s.sort]);
    var pages = Math.max(1, Math.ceil(rows.length / PER_PAGE));
    var page = Math.min(s.page, pages);
    var first = (page - 1) * PER_PAGE;
    var body = el("rows");
    body.textContent = "";
    rows.slice(first, first + PER_PAGE).forEach(function (r) {
      var tr = document.createElement("tr");
      if (r[col.status] !== "ok") { tr.className = "failed"; }
      var td = document.createElement("td");
      var a = document.createElement("a");
      a.href = "videos/" + encodeURIComponent(r[col.source]) + "/" + encodeURIComponent(r[col.video_id]) + ".html";
      a.textContent = key(r);
      td.appendChild(a);
      tr.appendChild(td);
      cell(tr, r[col.status]);
      cell(tr, fmtSeconds(r[col.duration_seconds]), true);
      cell(tr, r[col.frames], true);
      cell(tr, r[col.scenes], true);
      cell(tr, r[col.transitions], true);
      cell(tr, r[col.keyframes], true);
      cell(tr, r[col.mean_interval] === null ? "" : r[col.mean_interval].toFixed(2), true);
      cell(tr, r[col.triggers], true);
      cell(tr, r[col.qa_records] === null ? "" : r[col.qa_records], true);
      cell(tr, r[col.status] === "ok" ? (100 * r[col.mean_drop_ratio]).toFixed(1) + " %" : "", true);
      body.appendChild(tr);
    });
    el("count").textContent = rows.length
      ? "videos " + (first + 1) + "\\u2013" + Math.min(first + PER_PAGE, rows.length) + " of " + rows.length +
        (rows.length < data.rows.length ? " matching (" + data.rows.length + " in all)" : "")
      : "no video matches";
    el("page").textContent = "page " + page + " of " + pages;
    el("prev").disabled = page <= 1;
    el("first").disabled = page <= 1;
    el("next").disabled = page >= pages;
    el("last").disabled = page >= pages;
    el("prev").onclick = function () { go({ page: page - 1 }); };
    el("first").onclick = function () { go({ page: 1 }); };
    el("next").onclick = function () { go({ page: page + 1 }); };
    el("last").onclick = function () { go({ page: pages }); };
  }
  var sources = {};
  data.rows.forEach(function (r) { sources[r[col.source]] = true; });
  Object.keys(sources).sort().forEach(function (name) {
    var o = document.createElement("option");
    o.value = name;
    o.textContent = name;
    el("source").appendChild(o);
  });
  el("q").addEventListener("input", function () { go({ q: el("q").value, page: 1 }); });
  ["source", "status", "sort"].forEach(function (id) {
    el(id).addEventListener("change", function () { var c = { page: 1 }; c[id] = el(id).value; go(c); });
  });
  window.addEventListener("hashchange", render);
  render();
})();
"""
