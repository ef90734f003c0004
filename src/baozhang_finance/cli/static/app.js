"use strict";
// The page of `baozhang app`: plain JavaScript, no framework. Talks to /api/* of the same origin only.
const $ = (id) => document.getElementById(id);
let opened = null;   // the scenario the server holds for this session: {id, levers, cures, ...}

function showError(text) {
  const box = $("error");
  box.textContent = text || "";
  box.hidden = !text;
}

async function api(path, options) {
  const resp = await fetch(path, Object.assign({credentials: "same-origin"}, options || {}));
  let body = null;
  try { body = await resp.json(); } catch (e) { body = {error: `${resp.status} ${resp.statusText}`}; }
  if (!resp.ok) { throw new Error((body && body.error) || `${resp.status}`); }
  return body;
}

function fmtPct(x, d) { return (x === null || x === undefined) ? "—" : (100 * x).toFixed(d === undefined ? 1 : d) + " %"; }
function fmtWan(x) { return (x === null || x === undefined) ? "—" : (x / 1e4).toLocaleString("zh-CN", {maximumFractionDigits: 0}) + " 万元"; }
function fmtNum(x, d) { return (x === null || x === undefined) ? "—" : Number(x).toFixed(d === undefined ? 2 : d); }
function get(obj, path) { return path.split(".").reduce((o, k) => (o === null || o === undefined) ? undefined : o[k], obj); }

// A lever's source note belongs to its default (the file's value): shown while the input holds that value; a changed
// value is the user's, and the note then gives the default with its source.
function leverNote(lv, value) {
  if (Number.isFinite(value) && value === Number(lv.value)) { return lv.note ? "来源 source: " + lv.note : ""; }
  const unit = lv.unit ? " " + lv.unit : "";
  return `用户取值 your value (默认 default: ${lv.value}${unit}` + (lv.note ? `; 来源 source: ${lv.note})` : ")");
}

// The 本息覆盖倍数 rows of the fiscal lens (decision 70): the coverage over all financing heads only where bank loans
// sit beside the bonds (the server's headline key), with the bond-only ratio labelled as before bank service;
// a bond-only programme shows the bond coverage alone.
function coverageRows(headline) {
  if (headline === "coverage.bond_coverage_all_financing") {
    return [
      ["本息覆盖倍数(组合融资) bond coverage, all financing (bonds + bank) p50", "coverage.bond_coverage_all_financing.p50", (v) => fmtNum(v), "", "coverage"],
      ["仅专项债,未扣银行本息 bonds only, before bank service p50", "coverage.bond_coverage_ratio.p50", (v) => fmtNum(v), "", "coverage-bond-only"],
    ];
  }
  return [["本息覆盖倍数 bond coverage p50", "coverage.bond_coverage_ratio.p50", (v) => fmtNum(v), "", "coverage"]];
}

function renderOpened(data) {
  opened = data;
  showError("");
  $("opened").textContent = `已打开 opened: ${data.name} — ${data.programme} (${data.city}); ` +
    data.projects.map((p) => `${p.name} [${p.type}, ${p.units} 套 units]`).join("; ");
  const box = $("levers");
  box.innerHTML = "";
  for (const lv of data.levers) {
    const label = document.createElement("label");
    label.textContent = lv.label + (lv.unit ? ` (${lv.unit})` : "");
    const input = document.createElement("input");
    input.type = "number";
    input.dataset.lever = lv.id;
    input.id = "lever-" + lv.id.replace(/[^A-Za-z0-9_]+/g, "-");
    input.value = lv.value;
    input.min = lv.min; input.max = lv.max; input.step = lv.integer ? 1 : "any";
    label.appendChild(input);
    const note = document.createElement("small");
    note.id = input.id + "-note";
    const update = () => { note.textContent = leverNote(lv, num(input)); note.hidden = !note.textContent; };
    input.addEventListener("input", update);
    update();
    label.appendChild(note);
    box.appendChild(label);
  }
  const cures = $("cures");
  cures.innerHTML = "";
  for (const c of data.cures) {
    const label = document.createElement("label");
    const box2 = document.createElement("input");
    box2.type = "checkbox"; box2.dataset.cure = c.id; box2.id = "cure-" + c.id; box2.checked = c.on;
    label.appendChild(box2);
    label.appendChild(document.createTextNode(" " + c.label));
    cures.appendChild(label);
  }
  $("paths").value = data.paths; $("seed").value = data.seed; $("chunk").value = data.chunk_size;
  $("lang").value = data.lang || "both";
  $("levers-section").hidden = false;
  $("results").hidden = true;
}

async function openBundled() {
  try { renderOpened(await api("/api/open", {method: "POST", headers: {"Content-Type": "application/json"},
                                             body: JSON.stringify({name: $("bundled").value})})); }
  catch (e) { showError(e.message); }
}

async function upload() {
  const file = $("upload-file").files[0];
  if (!file) { showError("选择一个文件 choose a file first"); return; }
  const form = new FormData();
  form.append("file", file, file.name);
  try { renderOpened(await api("/api/upload", {method: "POST", body: form})); }
  catch (e) { showError(e.message); $("levers-section").hidden = true; $("results").hidden = true; }
}

function num(input) { return input.value.trim() === "" ? NaN : Number(input.value); }

async function run() {
  if (!opened) return;
  const levers = {};
  for (const input of document.querySelectorAll("input[data-lever]")) levers[input.dataset.lever] = num(input);
  for (const [k, v] of Object.entries(levers)) {
    if (!Number.isFinite(v)) { showError(`${k}: 请填写数字 enter a number`); return; }
  }
  const cures = {};
  for (const box of document.querySelectorAll("input[data-cure]")) cures[box.dataset.cure] = box.checked;
  const body = {id: opened.id, levers, cures, paths: num($("paths")), seed: num($("seed")), chunk_size: num($("chunk")), lang: $("lang").value};
  $("run").disabled = true; showError(""); $("results").hidden = true;
  $("progress").value = 0; $("progress-text").textContent = "排队 queued …";
  try {
    const {job} = await api("/api/run", {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
    await poll(job);
  } catch (e) { showError(e.message); $("progress-text").textContent = ""; }
  finally { $("run").disabled = false; }
}

async function poll(job) {
  for (;;) {
    const st = await api(`/api/job/${job}`);
    const bar = $("progress");
    bar.max = Math.max(st.total, 1); bar.value = st.done;
    const words = {queued: "排队 queued", running: "模拟 simulating", reports: "生成报告 writing reports", done: "完成 done", error: "失败 failed"};
    $("progress-text").textContent = `${words[st.state] || st.state}: ${st.done.toLocaleString()} / ${st.total.toLocaleString()} 条路径 paths`;
    if (st.state === "done") { renderResult(job, st.result); return; }
    if (st.state === "error") { throw new Error(st.error); }
    await new Promise((r) => setTimeout(r, 300));
  }
}

function lensTable(id, rows, s) {
  const t = $(id);
  t.innerHTML = "";
  for (const [label, path, fmt, cls, elemId] of rows) {
    const tr = document.createElement("tr");
    if (cls) tr.className = cls;
    const a = document.createElement("td"); a.textContent = label;
    const b = document.createElement("td"); b.className = "v";
    const v = get(s, path);
    b.textContent = fmt(v);
    if (elemId) { b.id = elemId; b.dataset.value = (v === undefined || v === null) ? "" : String(v); }
    tr.appendChild(a); tr.appendChild(b); t.appendChild(tr);
  }
}

function renderResult(job, r) {
  const s = r.summary;
  $("answer").textContent = r.answer;
  const pdList = get(s, "bank.pd_cumulative") || [];
  lensTable("lens-fiscal", [
    ["P(隐性债务兜底) P(hidden-debt call)", "hidden_debt.p_call", (v) => fmtPct(v), "key", "p-call"],
    ["自求平衡概率 P(self-financing)", "coverage.p_self_financing", (v) => fmtPct(v), "", "p-self"],
    ["兜底现值期望 expected PV of calls", "hidden_debt.expected_pv", fmtWan, "", "expected-pv"],
    ["兜底现值VaR95 VaR95 of the PV of calls", "hidden_debt.var95_pv", fmtWan, "", null],
    ["兜底现值CVaR95 CVaR95 of the PV of calls", "hidden_debt.cvar95_pv", fmtWan, "", null],
    ["首次兜底年份中位 first call year p50", "hidden_debt.first_call_year.p50", (v) => v === null || v === undefined ? "—" : String(v), "", null],
    ["峰值占财政收入 peak share of revenue p95", "hidden_debt.peak_share_of_fiscal_revenue.p95", (v) => fmtPct(v, 2), "", null],
    ["专项债显性负担概率 P(explicit bond burden)", "fiscal.explicit_bond_burden.p_call", (v) => fmtPct(v), "", null],
    ...coverageRows(r.coverage_headline),
  ], s);
  lensTable("lens-bank", [
    ["违约概率(含国企支持,期末) PD with SOE support, over the life", "bank.pd_cumulative", () => fmtPct(pdList.length ? pdList[pdList.length - 1] : null), "key", "pd"],
    ["违约损失率 LGD (mean)", "bank.lgd_mean", (v) => fmtPct(v), "", null],
    ["预期损失 expected loss", "bank.expected_loss", fmtWan, "", null],
    ["评级 grade", "bank.grade", (v) => v === undefined || v === null ? "—" : String(v), "", null],
    ["最低DSCR minimum DSCR p05", "coverage.dscr_min.p05", (v) => fmtNum(v), "", null],
    ["最低DSCR minimum DSCR p50", "coverage.dscr_min.p50", (v) => fmtNum(v), "", null],
  ], s);
  lensTable("lens-soe", [
    ["股权IRR p50(收益法终值) equity IRR, income terminal value", "soe.equity_irr_monthly.p50", (v) => fmtPct(v, 2), "key", null],
    ["股权IRR p05(收益法终值) equity IRR p05, income terminal value", "soe.equity_irr_monthly.p05", (v) => fmtPct(v, 2), "", null],
    ["股权IRR p50(市值终值,次要) at market value", "soe.equity_irr.p50", (v) => fmtPct(v, 2), "", null],
    ["NPV p50(收益法终值) income terminal value", "soe.npv_monthly.p50", fmtWan, "", null],
    ["NPV p50(市值终值,次要) at market value", "soe.npv.p50", fmtWan, "", null],
    ["峰值资金需求 peak funding p95", "soe.peak_funding_need.p95", fmtWan, "", null],
  ], s);
  const charts = $("charts");
  charts.innerHTML = "";
  for (const c of r.charts) {
    const img = document.createElement("img");
    img.src = `/api/job/${job}/chart/${c}`; img.alt = c; img.className = "chart";
    charts.appendChild(img);
  }
  const rests = $("rests-on");
  rests.innerHTML = "<tr><th>参数 what</th><th>取值 value</th><th>来源 source</th></tr>";
  for (const row of r.rests_on) {
    const tr = document.createElement("tr");
    for (const k of ["what", "value", "source"]) { const td = document.createElement("td"); td.textContent = row[k]; tr.appendChild(td); }
    rests.appendChild(tr);
  }
  const names = {"report.html": "报告 report.html", "report.xlsx": "报告 report.xlsx", "plan.xlsx": "填好的工作簿 plan.xlsx",
                 "plan.toml": "情景 plan.toml", "summary.json": "summary.json"};
  const dl = $("downloads");
  dl.innerHTML = "";
  for (const d of r.downloads) {
    const a = document.createElement("a");
    a.href = `/api/job/${job}/file/${d}`; a.textContent = names[d] || d; a.id = "download-" + d.replace(".", "-");
    dl.appendChild(a);
  }
  const view = document.createElement("a");
  view.href = `/api/job/${job}/file/report.html?inline=1`; view.target = "_blank"; view.textContent = "在浏览器中查看报告 view the report";
  view.id = "view-report";
  dl.appendChild(view);
  $("command").textContent = r.command;
  $("results").hidden = false;
}

async function init() {
  $("open-bundled").addEventListener("click", openBundled);
  $("upload").addEventListener("click", upload);
  $("run").addEventListener("click", run);
  try {
    const data = await api("/api/scenarios");
    const sel = $("bundled");
    for (const name of data.scenarios) { const o = document.createElement("option"); o.value = name; o.textContent = name; sel.appendChild(o); }
    if (data.default) { sel.value = data.default; await openBundled(); }
    else if (data.scenarios.includes("demo")) { sel.value = "demo"; }
  } catch (e) { showError(e.message); }
  document.body.dataset.ready = "1";
}
document.addEventListener("DOMContentLoaded", init);
