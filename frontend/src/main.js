// The emotiondesk dashboard: a small hash-routed app over /v1/... (cookie session).
import { Chart, registerables } from "chart.js";
import { STRINGS } from "./i18n.js";
import { QSTR, conversationQualityKpi, pageAgents, pagePractice, scorecardHtml } from "./quality.js";

Chart.register(...registerables);
Chart.defaults.animation = false;
Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', 'Noto Sans CJK SC', 'PingFang SC', sans-serif";

// Okabe-Ito based, readable for colour-blind users; labels always accompany colours.
export const EMOTION_COLORS = {
  anger: "#D55E00",
  disgust: "#8C6D31",
  fear: "#CC79A7",
  joy: "#E69F00",
  sadness: "#0072B2",
  surprise: "#009E73",
  neutral: "#9E9E9E",
};
const POLARITY_COLORS = { positive: "#009E73", neutral: "#9E9E9E", negative: "#D55E00" };
const EMOTIONS = Object.keys(EMOTION_COLORS);

let lang = localStorage.getItem("ed_lang") || ((navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en");
const charts = [];
let liveSource = null;

function t(key, vars = {}) {
  let s = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  for (const [k, v] of Object.entries(vars)) s = s.replace(`{${k}}`, v);
  return s;
}
const emo = (e) => (e ? STRINGS[lang].emotions[e] || e : "–");
const pct = (x) => (x === null || x === undefined ? "–" : `${(100 * x).toFixed(1)}%`);
const esc = (s) =>
  String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const fmtTime = (iso) => (iso ? new Date(iso).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB") : "–");

function el(html) {
  const tpl = document.createElement("template");
  tpl.innerHTML = html.trim();
  return tpl.content.firstElementChild;
}

async function api(path, options = {}) {
  const resp = await fetch(path, {
    credentials: "same-origin",
    headers: options.body ? { "content-type": "application/json" } : {},
    ...options,
  });
  if (resp.status === 401) {
    window.location.href = "/login";
    throw new Error("unauthenticated");
  }
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new Error(body?.error?.message || `HTTP ${resp.status}`);
  return body;
}

// A figure with its definition (tooltip) and, for rates, the count it rests on.
function kpi(id, value, label, tip, n, cls = "") {
  return `<div class="kpi ${cls}" data-kpi="${id}" title="${esc(tip)}"><div class="v">${value}</div>
    <div class="l"><abbr title="${esc(tip)}">${label}</abbr>${n !== undefined && n !== null ? ` <span class="n">${t("n_of", { n })}</span>` : ""}</div></div>`;
}

// The most frequent emotion besides neutral, from an emotion mix (shares).
function topNonNeutral(mix) {
  let best = null;
  for (const e of EMOTIONS) if (e !== "neutral" && (mix[e] || 0) > 0 && (best === null || mix[e] > mix[best])) best = e;
  return best;
}

function level(score) {
  if (score === null || score === undefined) return null;
  if (score < 0.2) return "very_negative";
  if (score < 0.4) return "negative";
  if (score <= 0.6) return "neutral";
  if (score <= 0.8) return "positive";
  return "very_positive";
}

// A trend reads with its level: "stable" at 0.02 is "stable, very negative now".
export function trendText(traj) {
  if (!traj || !traj.trend) return "–";
  const score = traj.current_score;
  const lv = level(score);
  const vars = { trend: t(`trend_${traj.trend}`), level: lv ? t(`level_${lv}`) : "–", score: score !== undefined && score !== null ? score.toFixed(2) : "–" };
  const still = traj.trend === "improving" && (lv === "negative" || lv === "very_negative");
  return t(still ? "trend_sentence_still" : "trend_sentence", vars);
}

function joinList(items) {
  if (items.length <= 1) return items.join("");
  return items.slice(0, -1).join(t("list_sep")) + t("and") + items[items.length - 1];
}

// One sentence per rule that fired: what was seen, and what is done about it.
export function decisionLines(decisions, st, m) {
  const byRule = new Map();
  for (const d of decisions || []) {
    if (!byRule.has(d.rule)) byRule.set(d.rule, []);
    byRule.get(d.rule).push(d);
  }
  const risk = st.risk && typeof st.risk === "object" ? st.risk.value : st.risk;
  const traj = st.trajectory || {};
  const emotion = (st.in_context && st.in_context.emotion) || m.emotion;
  const lines = [];
  for (const [rule, ds] of byRule) {
    const actions = joinList(
      ds.map((d) => {
        const key = `act_${d.action}`;
        const has = STRINGS.en[key] !== undefined;
        const value = (d.params && d.params.value) || "";
        const tag = STRINGS.en[`tag_${value}`] !== undefined ? t(`tag_${value}`) : value;
        return t(has ? key : "act_other", { action: d.action, value: tag });
      }),
    );
    const key = STRINGS.en[`rule_${rule}`] !== undefined ? `rule_${rule}` : "rule_other";
    const text = t(key, {
      actions,
      rule,
      risk: risk !== undefined && risk !== null ? Number(risk).toFixed(2) : "–",
      tier: (st.dialogue && st.dialogue.tier) || "",
      n: traj.consecutive_negative ?? "",
      emotion: emo(emotion),
      score: m.score !== null && m.score !== undefined ? m.score.toFixed(2) : "–",
    });
    const detail = [...new Set(ds.map((d) => d.reason))].join("\n");
    lines.push({ rule, text, detail, actions: ds.map((d) => d.action) });
  }
  return lines;
}

function severityBadge(sev) {
  const key = `sev_${sev}`;
  return `<span class="badge outline" data-severity="${esc(sev)}">${esc(STRINGS.en[key] !== undefined ? t(key) : sev)}</span>`;
}

export function alertTitle(a) {
  const d = a.details || {};
  if (a.kind === "negative_surge" && d.key !== undefined) {
    const scopeKey = `scope_${d.scope}`;
    return t("surge_title", {
      scope: STRINGS.en[scopeKey] !== undefined ? t(scopeKey) : d.scope,
      key: d.key,
      count: d.count,
      total: d.total,
      share: pct(d.share),
      baseline: pct(d.baseline_share),
    });
  }
  if (d.rule && STRINGS.en[`alert_title_${d.rule}`] !== undefined) return t(`alert_title_${d.rule}`);
  if (d.rule && STRINGS.en[`rule_${d.rule}`] !== undefined) {
    return t(`rule_${d.rule}`, { actions: t("act_alert"), risk: d.risk !== undefined ? Number(d.risk).toFixed(2) : "–", tier: "", n: "", emotion: "", score: "–", rule: d.rule });
  }
  return a.title;
}

function emotionBadge(e) {
  return `<span class="badge" style="background:${EMOTION_COLORS[e] || "#777"}" data-emotion="${esc(e)}">${esc(emo(e))}</span>`;
}
function polarityBadge(p) {
  return `<span class="badge outline" style="border-color:${POLARITY_COLORS[p] || "#777"};color:${POLARITY_COLORS[p] || "#777"}">${esc(t(p))}</span>`;
}

function destroyCharts() {
  while (charts.length) charts.pop().destroy();
  if (liveSource) {
    liveSource.close();
    liveSource = null;
  }
}

function chart(canvas, config) {
  const c = new Chart(canvas, config);
  charts.push(c);
  canvas.dataset.points = String(config.data.datasets.reduce((n, d) => n + d.data.filter((v) => v).length, 0));
  canvas.dataset.rendered = "true";
  return c;
}

// -- pages -------------------------------------------------------------------------------

const state = { days: 30, granularity: "day" };
// Each navigation gets a number; a page whose data arrives after the user moved on
// must not draw over the newer page.
let routeSeq = 0;
class Stale extends Error {}
async function load(promise, seq) {
  const out = await promise;
  if (seq !== routeSeq) throw new Stale();
  return out;
}
// what the agent-quality pages (quality.js) use from here
const qctx = { api, esc, load, chart, fmtTime, lang: () => lang };

async function pageOverview(main, seq) {
  const q = `days=${state.days}&granularity=${state.granularity}`;
  const [data, convs] = await load(Promise.all([
    api(`/v1/analytics/overview?${q}`),
    api("/v1/conversations?kind=conversation&status=open&sort=risk&limit=10"),
  ]), seq);
  const k = data.kpis;
  const top = topNonNeutral(data.emotion_mix || {});
  const dayOpts = [7, 30, 90, 365, 0]
    .map((d) => `<option value="${d}" ${d === state.days ? "selected" : ""}>${d ? t("last_days", { n: d }) : t("all_time")}</option>`)
    .join("");
  const granOpts = ["hour", "day", "week"]
    .map((g) => `<option value="${g}" ${g === state.granularity ? "selected" : ""}>${t(g)}</option>`)
    .join("");
  main.innerHTML = `
    <div class="toolbar">
      <h1>${t("overview")}</h1>
      <label>${t("period")} <select id="days">${dayOpts}</select></label>
      <label>${t("granularity")} <select id="gran">${granOpts}</select></label>
    </div>
    <div class="kpis">
      ${kpi("messages", k.messages, t("messages"), t("messages_tip"))}
      ${kpi("conversations", k.conversations, t("conversations"), t("conversations_tip"))}
      ${kpi("satisfaction", pct(k.satisfaction), t("mean_sentiment"), t("mean_sentiment_tip"), k.messages)}
      ${kpi("share_negative", pct(k.share_negative), t("share_negative"), t("share_negative_tip"), k.messages, "neg")}
      ${kpi("top_emotion", top ? `${emotionBadge(top)} <small>${pct(data.emotion_mix[top])}</small>` : "–", t("top_emotion_nn"), t("top_emotion_tip"), k.messages)}
      ${kpi("open_alerts", `<a href="#/alerts">${k.open_alerts}</a>`, t("open_alerts"), t("open_alerts_tip"))}
    </div>
    ${k.messages ? "" : `<p class="empty">${t("no_data")}</p>`}
    <div class="grid2">
      <section class="card wide"><h2>${t("trend_title")}</h2><div class="chartbox"><canvas id="chart-trend"></canvas></div></section>
      <section class="card"><h2>${t("emotion_mix")}</h2><div class="chartbox"><canvas id="chart-emotions"></canvas></div></section>
      <section class="card"><h2>${t("by_channel")}</h2><div class="chartbox"><canvas id="chart-channels"></canvas></div></section>
      <section class="card"><h2>${t("by_category")}</h2>${groupTable(data.by_category, t("category"))}</section>
      <section class="card wide"><h2>${t("risk_queue")} <small><a href="#/queue">${t("see_queue")} (${t("total_n", { n: convs.total })})</a></small></h2>${convTable(convs.items)}</section>
    </div>`;
  main.querySelector("#days").onchange = (e) => { state.days = Number(e.target.value); route(); };
  main.querySelector("#gran").onchange = (e) => { state.granularity = e.target.value; route(); };
  const labels = data.trend.map((p) => {
    const d = new Date(p.bucket);
    return state.granularity === "hour" ? d.toISOString().slice(5, 13).replace("T", " ") + "h" : d.toISOString().slice(0, 10);
  });
  chart(main.querySelector("#chart-trend"), {
    type: "line",
    data: {
      labels,
      datasets: [
        { label: t("mean_sentiment"), data: data.trend.map((p) => p.satisfaction), borderColor: "#0072B2", backgroundColor: "#0072B2", yAxisID: "y", tension: 0.2 },
        { label: t("share_negative"), data: data.trend.map((p) => p.share_negative), borderColor: "#D55E00", backgroundColor: "#D55E00", yAxisID: "y", borderDash: [5, 3], tension: 0.2 },
        { type: "bar", label: t("n"), data: data.trend.map((p) => p.n), backgroundColor: "rgba(120,120,120,0.25)", yAxisID: "y1" },
      ],
    },
    options: {
      maintainAspectRatio: false,
      scales: {
        y: { min: 0, max: 1, ticks: { callback: (v) => `${Math.round(v * 100)}%` } },
        y1: { position: "right", grid: { drawOnChartArea: false }, beginAtZero: true },
      },
    },
  });
  chart(main.querySelector("#chart-emotions"), {
    type: "doughnut",
    data: {
      labels: EMOTIONS.map(emo),
      datasets: [{ data: EMOTIONS.map((e) => data.emotion_mix[e] || 0), backgroundColor: EMOTIONS.map((e) => EMOTION_COLORS[e]) }],
    },
    options: { maintainAspectRatio: false, plugins: { legend: { position: "right" }, tooltip: { callbacks: { label: (c) => `${c.label}: ${pct(c.raw)}` } } } },
  });
  chart(main.querySelector("#chart-channels"), {
    type: "bar",
    data: {
      labels: data.by_channel.map((g) => `${g.key ?? "–"} (${t("n_of", { n: g.n })})`),
      datasets: [
        { label: t("share_negative"), data: data.by_channel.map((g) => g.share_negative), backgroundColor: "#D55E00" },
        { label: t("share_positive"), data: data.by_channel.map((g) => g.share_positive), backgroundColor: "#009E73" },
      ],
    },
    options: {
      maintainAspectRatio: false,
      scales: { y: { min: 0, max: 1, ticks: { callback: (v) => `${Math.round(v * 100)}%` } } },
      plugins: { tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${pct(c.raw)} (${t("of_messages", { n: data.by_channel[c.dataIndex].n })})` } } },
    },
  });
}

function groupTable(groups, keyLabel, link) {
  if (!groups.length) return `<p class="empty">–</p>`;
  return `<table><thead><tr><th>${keyLabel}</th><th>${t("n")}</th><th><abbr title="${esc(t("mean_sentiment_tip"))}">${t("mean_sentiment")}</abbr></th><th><abbr title="${esc(t("share_negative_tip"))}">${t("share_negative")}</abbr></th></tr></thead><tbody>
    ${groups
      .map(
        (g) => `<tr><td>${link ? link(g.key) : esc(g.key ?? "–")}</td><td>${g.n}</td><td>${pct(g.satisfaction)}</td>
        <td><div class="bar"><span style="width:${(100 * g.share_negative).toFixed(1)}%"></span></div>${pct(g.share_negative)}</td></tr>`,
      )
      .join("")}</tbody></table>`;
}

function convTable(items) {
  if (!items.length) return `<p class="empty">–</p>`;
  return `<table class="convs stack"><thead><tr><th>${t("conversation")}</th><th>${t("channel")}</th><th>${t("product")}</th><th>${t("emotion")}</th><th>${t("risk")}</th><th>${t("updated")}</th></tr></thead><tbody>
    ${items
      .map((c) => {
        const s = c.state || {};
        const risk = s.risk && typeof s.risk === "object" ? s.risk.value : s.risk;
        return `<tr data-conversation-id="${esc(c.id)}"><td data-label="${t("conversation")}"><a class="conv-link" href="#/conversation/${esc(c.id)}">${esc(c.id.slice(0, 8))}</a> (${c.message_count})</td>
          <td data-label="${t("channel")}">${esc(c.channel ?? "–")}</td><td data-label="${t("product")}">${esc(c.product_id ?? "–")}</td><td data-label="${t("emotion")}">${s.last_emotion ? emotionBadge(s.last_emotion) : "–"}</td>
          <td data-label="${t("risk")}">${risk !== undefined && risk !== null ? riskBar(risk) : "–"}${s.escalated ? ` <span class="flag">${t("escalated")}</span>` : ""}</td>
          <td data-label="${t("updated")}">${fmtTime(c.updated_at)}</td></tr>`;
      })
      .join("")}</tbody></table>`;
}

function riskBar(r) {
  const color = r >= 0.7 ? "#D55E00" : r >= 0.4 ? "#E69F00" : "#009E73";
  return `<span class="risk" title="${t("risk")} ${r.toFixed(2)}"><span style="width:${(100 * r).toFixed(0)}%;background:${color}"></span></span> ${r.toFixed(2)}`;
}

const QUEUE_FILTERS = ["q", "channel", "product_id", "agent_id", "language", "escalated"];

async function pageQueue(main, params, seq) {
  const qs = new URLSearchParams({ kind: "conversation", status: params.get("status") || "open", sort: "risk", limit: "100" });
  for (const f of QUEUE_FILTERS) if (params.get(f)) qs.set(f, params.get(f));
  const [page, channels] = await load(Promise.all([
    api(`/v1/conversations?${qs}`),
    api(`/v1/analytics/breakdown?by=channel&days=0`),
  ]), seq);
  const v = (f) => esc(params.get(f) || "");
  const chanOpts = [`<option value="">${t("all")}</option>`, ...channels.groups.filter((g) => g.key).map((g) => `<option ${g.key === params.get("channel") ? "selected" : ""}>${esc(g.key)}</option>`)].join("");
  const langOpts = ["", "zh", "en", "other"].map((l) => `<option value="${l}" ${l === (params.get("language") || "") ? "selected" : ""}>${l ? t(`lang_${l}`) : t("all")}</option>`).join("");
  const statusOpts = ["open", "resolved", "closed"].map((st) => `<option value="${st}" ${st === qs.get("status") ? "selected" : ""}>${t(`status_${st}`)}</option>`).join("");
  main.innerHTML = `
    <div class="toolbar"><h1>${t("risk_queue_short")}</h1><span class="n-note">${t("total_n", { n: page.total })}</span></div>
    <form id="queue-filters" class="toolbar filters">
      <label>${t("search")} <input name="q" value="${v("q")}" placeholder="${esc(t("search_hint"))}"></label>
      <label>${t("status")} <select name="status">${statusOpts}</select></label>
      <label>${t("channel")} <select name="channel">${chanOpts}</select></label>
      <label>${t("product")} <input name="product_id" value="${v("product_id")}" size="12"></label>
      <label>${t("agent")} <input name="agent_id" value="${v("agent_id")}" size="10"></label>
      <label>${t("language_filter")} <select name="language">${langOpts}</select></label>
      <label><input type="checkbox" name="escalated" value="true" ${params.get("escalated") === "true" ? "checked" : ""}> ${t("escalated_only")}</label>
      <button type="submit">${t("apply")}</button>
    </form>
    <section class="card">${page.items.length ? queueTable(page.items) : `<p class="empty">${t("queue_empty")}</p>`}</section>`;
  main.querySelector("#queue-filters").onsubmit = (ev) => {
    ev.preventDefault();
    const out = new URLSearchParams();
    for (const [k, val] of new FormData(ev.target)) if (val) out.set(k, val);
    location.hash = `#/queue?${out}`;
  };
  main.querySelectorAll("form.assign").forEach((form) => {
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      const agent = form.querySelector("input").value.trim();
      if (!agent) return;
      await api(`/v1/conversations/${encodeURIComponent(form.dataset.id)}`, { method: "PATCH", body: JSON.stringify({ agent_id: agent }) });
      route();
    };
  });
  main.querySelectorAll("button[data-status]").forEach((b) => {
    b.onclick = async () => {
      await api(`/v1/conversations/${encodeURIComponent(b.dataset.id)}`, { method: "PATCH", body: JSON.stringify({ status: b.dataset.status }) });
      route();
    };
  });
}

function queueTable(items) {
  return `<table class="queue stack"><thead><tr><th>${t("risk")}</th><th>${t("conversation")}</th><th>${t("customer")}</th><th>${t("channel")}</th><th>${t("product")}</th><th>${t("emotion")}</th><th>${t("agent")}</th><th>${t("updated")}</th><th></th></tr></thead><tbody>
    ${items
      .map((c) => {
        const s = c.state || {};
        const actions = c.status === "open"
          ? `<button type="button" data-status="resolved" data-id="${esc(c.id)}">${t("resolve")}</button> <button type="button" class="secondary" data-status="closed" data-id="${esc(c.id)}">${t("close_conv")}</button>`
          : `<button type="button" class="secondary" data-status="open" data-id="${esc(c.id)}">${t("reopen")}</button>`;
        return `<tr data-conversation-id="${esc(c.id)}" data-risk="${c.risk ?? ""}">
          <td data-label="${t("risk")}">${c.risk !== null && c.risk !== undefined ? riskBar(c.risk) : "–"}${s.escalated ? ` <span class="flag">${t("escalated")}</span>` : ""}</td>
          <td data-label="${t("conversation")}"><a class="conv-link" href="#/conversation/${esc(c.id)}">${esc(c.id.slice(0, 8))}</a> (${c.message_count})</td>
          <td data-label="${t("customer")}">${esc(c.customer_id ?? "–")}</td>
          <td data-label="${t("channel")}">${esc(c.channel ?? "–")}</td><td data-label="${t("product")}">${esc(c.product_id ?? "–")}</td>
          <td data-label="${t("emotion")}">${s.last_emotion ? emotionBadge(s.last_emotion) : "–"}</td>
          <td data-label="${t("agent")}"><form class="assign" data-id="${esc(c.id)}"><input name="agent" value="${esc(c.agent_id ?? "")}" placeholder="${esc(t("assign_to"))}" size="10"> <button type="submit">${t("assign")}</button></form></td>
          <td data-label="${t("updated")}">${fmtTime(c.updated_at)}</td>
          <td>${actions}</td></tr>`;
      })
      .join("")}</tbody></table>`;
}

async function pageLive(main) {
  main.innerHTML = `
    <div class="toolbar"><h1>${t("live_title")}</h1><span id="live-status" class="status">…</span></div>
    <section class="card"><table class="live stack"><thead><tr><th></th><th>${t("conversation")}</th><th>${t("channel")}</th>
      <th>${t("customer")}/${t("agent")}</th><th></th><th>${t("emotion")}</th><th>${t("polarity")}</th><th>${t("risk")}</th></tr></thead>
      <tbody id="live-rows"><tr class="placeholder"><td colspan="8">${t("waiting")}</td></tr></tbody></table></section>`;
  const rows = main.querySelector("#live-rows");
  const status = main.querySelector("#live-status");
  const seen = new Set();
  liveSource = new EventSource("/v1/analytics/live/stream");
  liveSource.addEventListener("ready", () => { status.textContent = t("connected"); status.className = "status ok"; });
  liveSource.onerror = () => { status.textContent = t("disconnected"); status.className = "status bad"; };
  liveSource.addEventListener("message", (ev) => {
    const m = JSON.parse(ev.data);
    if (seen.has(m.id)) return;
    seen.add(m.id);
    rows.querySelector(".placeholder")?.remove();
    const tr = el(`<tr class="live-row ${m.polarity === "negative" ? "negrow" : ""}" data-message-id="${esc(m.id)}">
      <td>${fmtTime(m.created_at)}</td>
      <td><a href="#/conversation/${esc(m.conversation_id)}">${esc(m.conversation_id.slice(0, 8))}</a>${m.kind === "review" ? ` <span class="badge outline kind-review" data-kind="review">${t("review")}</span>` : ""}<span class="narrow-only"> · ${esc(m.channel ?? "–")} · ${esc(t("role_" + m.role))}</span></td>
      <td class="wide-only">${esc(m.channel ?? "–")}</td><td class="wide-only">${esc(t("role_" + m.role))}</td><td class="text">${evidenceText(m)}</td>
      <td>${emotionBadge(m.emotion)}<span class="narrow-only"> ${polarityBadge(m.polarity)}</span></td><td class="wide-only">${polarityBadge(m.polarity)}</td>
      <td data-label="${t("risk")}">${m.risk !== null && m.risk !== undefined ? riskBar(m.risk) : "–"}${m.escalate ? ` <span class="flag">${t("escalate")}</span>` : ""}</td></tr>`);
    rows.prepend(tr);
    while (rows.children.length > 200) rows.lastElementChild.remove();
  });
}

async function pageConversation(main, id, seq) {
  const c = await load(api(`/v1/conversations/${encodeURIComponent(id)}`), seq);
  const s = c.state || {};
  const risk = s.risk && typeof s.risk === "object" ? s.risk.value : s.risk;
  main.innerHTML = `
    <div class="toolbar"><h1>${t(c.kind === "review" ? "review" : "conversation")} <code>${esc(c.id.slice(0, 12))}</code></h1>${c.kind === "review" ? ` <span class="badge outline" data-kind="review">${t("reviews_recent")}</span>` : ""}</div>
    <div class="kpis">
      <div class="kpi"><div class="v">${esc(c.channel ?? "–")}</div><div class="l">${t("channel")}</div></div>
      <div class="kpi"><div class="v">${esc(c.customer_id ?? "–")}</div><div class="l">${t("customer")}</div></div>
      <div class="kpi"><div class="v">${esc(c.product_id ?? "–")}</div><div class="l">${t("product")}</div></div>
      <div class="kpi"><div class="v">${esc(c.agent_id ?? "–")}</div><div class="l">${t("agent")}</div></div>
      <div class="kpi" data-kpi="risk" title="${esc(t("risk_tip"))}"><div class="v">${risk !== undefined && risk !== null ? riskBar(risk) : "–"}</div><div class="l"><abbr title="${esc(t("risk_tip"))}">${t("risk")}</abbr>${s.escalated ? ` · <span class="flag">${t("escalated")}</span>` : ""}</div></div>
      <div class="kpi" data-kpi="predicted_satisfaction" title="${esc(t("predicted_satisfaction_tip"))}"><div class="v">${s.satisfaction !== undefined && s.satisfaction !== null ? `${Number(s.satisfaction).toFixed(1)} / 5` : "–"}</div><div class="l"><abbr title="${esc(t("predicted_satisfaction_tip"))}">${t("predicted_satisfaction")}</abbr></div></div>
      ${conversationQualityKpi(qctx, c.quality)}
    </div>
    <p class="trend" data-trend="${esc((s.trajectory && s.trajectory.trend) || "")}">${t("trend")}: <b>${esc(trendText(s.trajectory))}</b></p>
    <section class="card"><h2>${t("timeline_title")}</h2><div class="chartbox short"><canvas id="chart-timeline"></canvas></div></section>
    <section class="turns">${c.messages.map(turnHtml).join("")}</section>`;
  // x: every turn in order; the customer's sentiment score (0..1) and risk per
  // customer turn; agent turns are shaded columns.
  const msgs = c.messages;
  const custRisk = (m) => {
    const r = m.state && m.state.risk;
    return r && typeof r === "object" ? r.value : r ?? null;
  };
  chart(main.querySelector("#chart-timeline"), {
    type: "line",
    data: {
      labels: msgs.map((m) => `${t("turn")} ${m.seq}`),
      datasets: [
        {
          label: t("score"),
          data: msgs.map((m) => (m.role === "customer" ? m.score : null)),
          spanGaps: true,
          borderColor: "#0072B2",
          pointBackgroundColor: msgs.map((m) => EMOTION_COLORS[m.emotion] || "#777"),
          pointRadius: msgs.map((m) => (m.role === "customer" ? 7 : 0)),
          tension: 0.2,
        },
        {
          label: t("risk"),
          data: msgs.map((m) => (m.role === "customer" ? custRisk(m) : null)),
          spanGaps: true,
          borderColor: "#D55E00",
          borderDash: [5, 3],
          pointRadius: msgs.map((m) => (m.role === "customer" ? 3 : 0)),
          tension: 0.2,
        },
        {
          type: "bar",
          label: t("agent_turn"),
          data: msgs.map((m) => (m.role === "agent" ? 1 : null)),
          backgroundColor: "rgba(0,114,178,0.10)",
          barPercentage: 1,
          categoryPercentage: 1,
        },
      ],
    },
    options: {
      maintainAspectRatio: false,
      scales: { y: { min: 0, max: 1 } },
      plugins: {
        tooltip: {
          filter: (ctx) => ctx.dataset.type !== "bar",
          callbacks: { afterLabel: (ctx) => (ctx.datasetIndex === 0 ? emo(msgs[ctx.dataIndex].emotion) : "") },
        },
      },
    },
  });
  main.querySelectorAll("form.correct").forEach((form) => {
    form.onsubmit = async (ev) => {
      ev.preventDefault();
      const out = form.querySelector(".result");
      const body = { message_id: form.dataset.messageId };
      const pol = form.querySelector("[name=polarity]").value;
      const emoVal = form.querySelector("[name=emotion]").value;
      if (pol) body.polarity = pol;
      if (emoVal) body.emotion = emoVal;
      try {
        const fb = await api("/v1/feedback", { method: "POST", body: JSON.stringify(body) });
        const fresh = await api(`/v1/conversations/${encodeURIComponent(id)}`);
        const m = fresh.messages.find((x) => x.id === form.dataset.messageId);
        const box = form.closest("article.turn").querySelector(".corrections");
        if (m && box) box.outerHTML = correctionsHtml(m);
        out.textContent = t("saved", { id: fb.id });
        out.className = "result ok";
      } catch (err) {
        out.textContent = `${t("error")}: ${err.message}`;
        out.className = "result bad";
      }
    };
  });
}

// A label in its language: polarity names and emotion names.
const labelName = (task, label) => (label ? (task === "emotion" ? emo(label) : t(label)) : "–");

// Who corrected which label of a message, when, old -> new (the latest correction holds).
function correctionsHtml(m) {
  const items = m.corrections || [];
  if (!items.length) return `<div class="corrections" data-corrections="0"></div>`;
  const conflicts = m.conflicts || [];
  const lines = items.map((c) => `<li data-feedback-id="${c.feedback_id}" data-task="${esc(c.task)}">${t("correction_line", {
    who: esc(c.author || "–"), when: esc(fmtTime(c.created_at)), task: t(c.task),
    old: esc(labelName(c.task, c.previous)), new: esc(labelName(c.task, c.label)),
  })}</li>`).join("");
  const conflict = conflicts.length
    ? `<p class="conflict" data-conflict="${esc(conflicts.join(" "))}">${t("correction_conflict", { tasks: conflicts.map((k) => t(k)).join(t("list_sep")) })}</p>`
    : "";
  return `<div class="corrections" data-corrections="${items.length}"><b>${t("corrected")}</b><ul>${lines}</ul>${conflict}</div>`;
}

// A message's text with its stored evidence highlighted: the (at most three)
// spans that pushed most towards its polarity (background, in the polarity's
// colour) and towards its emotion (underline, in the emotion's colour), each
// with a tooltip; then its aspects with their opinions. Offsets index the text.
const EVIDENCE_SHOWN = 3;

function evidenceText(m) {
  const ev = m.evidence;
  const text = String(m.text ?? "");
  if (!ev) return esc(text);
  const spans = [];
  for (const task of ["polarity", "emotion"]) {
    const label = ev[task] && ev[task].label;
    const towards = ((ev[task] && ev[task].spans) || []).filter((s) => s.weight > 0 && s.start >= 0 && s.end <= text.length && s.end > s.start);
    // Nothing to mark for a neutral reading: its spans say what kept it neutral.
    if (label === "neutral") continue;
    for (const s of towards.slice(0, EVIDENCE_SHOWN)) spans.push({ ...s, task, label });
  }
  const cuts = [...new Set([0, text.length, ...spans.flatMap((s) => [s.start, s.end])])].sort((a, b) => a - b);
  let html = "";
  for (let i = 0; i + 1 < cuts.length; i++) {
    const [a, b] = [cuts[i], cuts[i + 1]];
    const over = spans.filter((s) => s.start <= a && s.end >= b);
    if (!over.length) { html += esc(text.slice(a, b)); continue; }
    const pol = over.find((s) => s.task === "polarity");
    const emotion = over.find((s) => s.task === "emotion");
    const tip = over
      .map((s) => t("evidence_towards", {
        task: t(s.task),
        label: s.task === "emotion" ? emo(s.label) : t(s.label),
        w: "+" + Number(s.weight).toFixed(2),
      }))
      .join("\n");
    const cls = ["ev", pol ? `ev-${esc(pol.label)}` : "", emotion ? "ev-emotion" : ""].join(" ").trim();
    const style = emotion ? ` style="text-decoration-color:${EMOTION_COLORS[emotion.label] || "#777"}"` : "";
    html += `<mark class="${cls}" data-task="${over.map((s) => s.task).join(" ")}"${style} title="${esc(tip)}">${esc(text.slice(a, b))}</mark>`;
  }
  return html;
}

function aspectsHtml(m) {
  const ev = m.evidence;
  if (!ev || !(ev.aspects || []).length) return "";
  const chips = ev.aspects.map((a) => {
    const name = (a.name && a.name[lang]) || a.aspect;
    const ops = (a.opinions || []).map((o) => `${o.text}${o.negated ? ` (${t("negated")})` : ""}`).join(", ");
    const tip = t("aspect_tip", { aspect: name, polarity: t(a.polarity), opinions: ops || "–" });
    return `<span class="badge outline aspect-chip" data-aspect="${esc(a.aspect)}" data-polarity="${esc(a.polarity)}" title="${esc(tip)}" style="border-color:${POLARITY_COLORS[a.polarity] || "#777"};color:${POLARITY_COLORS[a.polarity] || "#777"}">${esc(name)} · ${esc(t(a.polarity))}${a.negated ? ` · ${t("negated")}` : ""}</span>`;
  });
  const note = ev.note ? ` <span class="ev-note" title="${esc(ev.note)}">${t("evidence_mixed")}</span>` : "";
  return `<p class="aspects-line"><span class="muted">${t("aspects")}:</span> ${chips.join(" ")}${note}</p>`;
}

function turnHtml(m) {
  const st = m.state || {};
  const decisions = decisionLines(st.decisions, st, m)
    .map((d) => `<li data-rule="${esc(d.rule)}">${esc(d.text)}<details><summary>${t("details")}</summary><code>${esc(d.rule)}: ${esc(d.actions.join(", "))}\n${esc(d.detail)}</code></details></li>`)
    .join("");
  const suggestions = (st.suggestions || []).map((s) => `<li>${esc(typeof s === "string" ? s : s.text || JSON.stringify(s))}</li>`).join("");
  const isCustomer = m.role === "customer";
  const polOpts = ["", "negative", "neutral", "positive"].map((p) => `<option value="${p}">${p ? t(p) : "—"}</option>`).join("");
  const emoOpts = ["", ...EMOTIONS].map((e) => `<option value="${e}">${e ? emo(e) : "—"}</option>`).join("");
  return `<article class="turn ${esc(m.role)}" data-message-id="${esc(m.id)}">
    <header><span class="who">${t("turn")} ${m.seq} · ${esc(t("role_" + m.role))}</span> ${emotionBadge(m.emotion)} ${polarityBadge(m.polarity)}
      <span class="score">${m.score !== null ? m.score.toFixed(2) : ""}</span> <time>${fmtTime(m.sent_at || m.created_at)}</time></header>
    <p class="text">${evidenceText(m)}</p>
    ${aspectsHtml(m)}
    ${correctionsHtml(m)}
    ${m.role === "agent" ? scorecardHtml(qctx, m.scorecard) : ""}
    ${isCustomer && decisions ? `<div class="decisions"><h3>${t("decisions")}</h3><ul>${decisions}</ul></div>` : ""}
    ${isCustomer && suggestions ? `<div class="suggestions"><h3>${t("suggestions")}</h3><ul>${suggestions}</ul></div>` : ""}
    <form class="correct" data-message-id="${esc(m.id)}"><span>${t("correct")}:</span>
      <label>${t("polarity")} <select name="polarity">${polOpts}</select></label>
      <label>${t("emotion")} <select name="emotion">${emoOpts}</select></label>
      <button type="submit">${t("save")}</button><span class="result"></span></form>
  </article>`;
}

async function pageProducts(main, params, seq) {
  const category = params.get("category") || "";
  const product = params.get("product") || "";
  const scope = new URLSearchParams({ days: String(state.days) });
  if (category) scope.set("category", category);
  if (product) scope.set("product_id", product);
  const [cats, prods, aspects, topics] = await load(Promise.all([
    api(`/v1/analytics/breakdown?by=category&days=${state.days}`),
    api(`/v1/analytics/breakdown?by=product_id&days=${state.days}${category ? `&category=${encodeURIComponent(category)}` : ""}`),
    api(`/v1/analytics/aspects?${scope}`),
    api(`/v1/analytics/topics?${scope}`),
  ]), seq);
  const catOpts = [`<option value="">${t("all")}</option>`, ...cats.groups.filter((g) => g.key).map((g) => `<option ${g.key === category ? "selected" : ""}>${esc(g.key)}</option>`)].join("");
  const prodOpts = [`<option value="">${t("all")}</option>`, ...prods.groups.filter((g) => g.key).map((g) => `<option ${g.key === product ? "selected" : ""}>${esc(g.key)}</option>`)].join("");
  const a = aspects.aspects;
  main.innerHTML = `
    <div class="toolbar"><h1>${t("products")}</h1>
      <label>${t("category")} <select id="cat">${catOpts}</select></label>
      <label>${t("product")} <select id="prod">${prodOpts}</select></label></div>
    <div class="grid2">
      <section class="card wide"><h2>${t("aspects_title")} <small>${t("texts_read", { n: aspects.texts })}</small></h2>
        ${a.length ? `<div class="chartbox" style="height:${Math.max(160, 34 * a.length + 60)}px"><canvas id="chart-aspects"></canvas></div>` : `<p class="empty">${t("aspects_none")}</p>`}
        <table class="aspects"><tbody>${a
          .map((x) => `<tr data-aspect="${esc(x.aspect)}"><th>${esc(x.name[lang] || x.aspect)}</th><td>${x.n}</td>
            <td class="pos">${x.positive_examples.map((e) => `<q>${esc(e)}</q>`).join(" ")}</td>
            <td class="negx">${x.negative_examples.map((e) => `<q>${esc(e)}</q>`).join(" ")}</td></tr>`)
          .join("")}</tbody></table></section>
      <section class="card"><h2>${t("topics_title")} <small>${t("texts_read", { n: topics.texts })}</small></h2>
        ${topics.topics.length ? `<ol class="topics">${topics.topics
          .map((tp) => `<li><b>${esc(tp.label)}</b> <span class="count">${tp.size} (${pct(tp.share)})</span>
            <ul>${tp.examples.map((e) => `<li>${esc(e)}</li>`).join("")}</ul></li>`)
          .join("")}</ol>` : `<p class="empty">${t("topics_none")}</p>`}</section>
      <section class="card"><h2>${t("products_table")}</h2>${groupTable(prods.groups, t("product"), (k) =>
        k ? `<a href="#/products?category=${encodeURIComponent(category)}&product=${encodeURIComponent(k)}">${esc(k)}</a>` : "–")}</section>
    </div>`;
  main.querySelector("#cat").onchange = (e) => { location.hash = `#/products?category=${encodeURIComponent(e.target.value)}`; };
  main.querySelector("#prod").onchange = (e) => {
    location.hash = `#/products?category=${encodeURIComponent(category)}&product=${encodeURIComponent(e.target.value)}`;
  };
  if (a.length) {
    chart(main.querySelector("#chart-aspects"), {
      type: "bar",
      data: {
        labels: a.map((x) => x.name[lang] || x.aspect),
        datasets: ["positive", "neutral", "negative"].map((p) => ({ label: t(p), data: a.map((x) => x[p]), backgroundColor: POLARITY_COLORS[p] })),
      },
      options: { indexAxis: "y", maintainAspectRatio: false, scales: { x: { stacked: true }, y: { stacked: true } } },
    });
  }
}

async function pageAlerts(main, params, seq) {
  const tab = params.get("tab") || "open";
  const all = await load(api("/v1/alerts?limit=500"), seq);
  const items = all.filter((a) => (tab === "open" ? !a.acknowledged_at : a.acknowledged_at));
  main.innerHTML = `
    <div class="toolbar"><h1>${t("alerts")}</h1>
      <a class="tab ${tab === "open" ? "active" : ""}" href="#/alerts?tab=open">${t("open")} (${all.filter((a) => !a.acknowledged_at).length})</a>
      <a class="tab ${tab === "ack" ? "active" : ""}" href="#/alerts?tab=ack">${t("acknowledged")} (${all.filter((a) => a.acknowledged_at).length})</a>
      <button id="scan">${t("scan_surges")}</button><span id="scan-result"></span></div>
    <section class="alerts">${items.length ? items.map(alertHtml).join("") : `<p class="empty">${t("no_alerts")}</p>`}</section>`;
  const scanned = params.get("scanned");
  if (scanned !== null) main.querySelector("#scan-result").textContent = Number(scanned) ? t("scan_done", { n: scanned }) : t("scan_none");
  main.querySelector("#scan").onclick = async () => {
    const r = await api("/v1/analytics/surges/scan", { method: "POST" });
    // the result stays on the page (in the address) after the list is redrawn
    location.hash = `#/alerts?tab=${tab}&scanned=${r.surges.length}`;
  };
  main.querySelectorAll("button.ack").forEach((b) => {
    b.onclick = async () => {
      await api(`/v1/alerts/${b.dataset.id}/acknowledge`, { method: "POST" });
      route();
    };
  });
}

function alertHtml(a) {
  const d = a.details || {};
  const surge = a.kind === "negative_surge";
  return `<article class="alert sev-${esc(a.severity)}" data-alert-id="${a.id}">
    <header><b title="${esc(a.title)}">${esc(alertTitle(a))}</b> <span class="badge outline" data-kind="${esc(a.kind)}">${esc(STRINGS.en[`kind_${a.kind}`] !== undefined ? t(`kind_${a.kind}`) : a.kind)}</span> ${severityBadge(a.severity)}
      <time>${fmtTime(a.created_at)}</time>
      ${a.conversation_id ? `<a href="#/conversation/${esc(a.conversation_id)}">${t("conversation")} ${esc(a.conversation_id.slice(0, 8))}</a>` : ""}
      ${a.acknowledged_at ? "" : `<button class="ack" data-id="${a.id}">${t("acknowledge")}</button>`}</header>
    ${surge ? `<p class="evidence">${t("evidence")}: ${esc(STRINGS.en[`scope_${d.scope}`] !== undefined ? t(`scope_${d.scope}`) : d.scope)} <b>${esc(d.key)}</b>, ${fmtTime(d.bucket)} — ${d.count}/${d.total} ${t("negative")} (${pct(d.share)}),
      ${t("baseline")} ${pct(d.baseline_share)}, p = ${Number(d.p_value).toExponential(1)}</p>
      ${(d.examples || []).length ? `<ul class="examples">${d.examples.map((e) => `<li>${esc(e)}</li>`).join("")}</ul>` : ""}`
      : d.reason ? `<details class="evidence"><summary>${t("details")}</summary><code>${esc(d.reason)}</code></details>` : ""}
  </article>`;
}

// -- review queue (active learning) ------------------------------------------------------

//: Keyboard: polarity 1/2/3, emotion keys, Enter saves, Space or "x" skips, "z" goes back.
export const REVIEW_KEYS = {
  polarity: { 1: "negative", 2: "neutral", 3: "positive" },
  emotion: { a: "anger", d: "disgust", f: "fear", j: "joy", s: "sadness", u: "surprise", n: "neutral" },
};

async function pageReview(main, params, seq) {
  const qs = new URLSearchParams({ limit: "100", window: params.get("window") || "150" });
  if (params.get("language")) qs.set("language", params.get("language"));
  const q = await load(api(`/v1/review-queue?${qs}`), seq);
  const items = q.items;
  let pos = 0;
  let saved = 0;
  let choice = {};
  const langOpts = ["", "zh", "en", "other"].map((l) => `<option value="${l}" ${l === (params.get("language") || "") ? "selected" : ""}>${l ? t(`lang_${l}`) : t("all")}</option>`).join("");
  const checks = q.label_check.map((c) => `<li data-task="${esc(c.task)}" data-status="${esc(c.status)}">${t(c.task)}: ${c.status === "checked" ? t("check_done", { checked: c.checked, flagged: c.flagged }) : t("check_skipped")}${c.not_checked ? ` ${t("check_not_checked", { n: c.not_checked })}` : ""}${c.reason ? ` <small>(${esc(c.reason)})</small>` : ""}</li>`).join("");
  const keyHelp = [
    ...Object.entries(REVIEW_KEYS.polarity).map(([k, v]) => `<kbd>${k}</kbd> ${t(v)}`),
    ...Object.entries(REVIEW_KEYS.emotion).map(([k, v]) => `<kbd>${k}</kbd> ${emo(v)}`),
    `<kbd>${t("key_enter")}</kbd> ${t("review_save")}`, `<kbd>${t("key_space")}</kbd>/<kbd>x</kbd> ${t("review_skip")}`, `<kbd>z</kbd> ${t("review_back")}`,
  ].join(" · ");
  main.innerHTML = `
    <div class="toolbar"><h1>${t("review_title")}</h1>
      <label>${t("language_filter")} <select id="review-lang">${langOpts}</select></label>
      <span class="hint">${t("review_counts", { n: q.total, c: q.candidates })}</span></div>
    <section class="card review-card" id="review-card" tabindex="0"></section>
    <p class="keys">${keyHelp}</p>
    <section class="card"><h2>${t("review_next")}</h2><table class="review-list"><thead><tr><th>#</th><th>${t("review_priority")}</th><th>${t("review_text")}</th><th>${t("review_why")}</th></tr></thead><tbody id="review-rows"></tbody></table></section>
    <section class="card"><h2>${t("label_check")}</h2><ul class="label-check">${checks}</ul><p class="hint">${esc(q.tiers)}</p></section>`;
  main.querySelector("#review-lang").onchange = (e) => {
    location.hash = `#/review${e.target.value ? `?language=${e.target.value}` : ""}`;
  };
  const card = main.querySelector("#review-card");
  const reasonText = (r) => `${t(`reason_${r.code}`)} ${(100 * r.value).toFixed(0)}%`;
  const render = () => {
    if (pos >= items.length) {
      card.innerHTML = `<p class="empty" id="review-done">${t("review_done", { n: saved })}</p>`;
      card.dataset.messageId = "";
    } else {
      const it = items[pos];
      const issue = it.correction
        ? `<p class="issue" data-kind="label_issue">${t("review_issue", { task: t(it.correction.task), given: esc(labelName(it.correction.task, it.correction.label)), suggested: esc(labelName(it.correction.task, it.correction.suggested)) })}</p>`
        : "";
      card.dataset.messageId = it.message_id;
      card.innerHTML = `<header><span class="hint">${t("review_position", { i: pos + 1, n: items.length })} · ${t("review_priority")} ${(100 * it.priority).toFixed(0)}%</span>
          ${it.product ? `<span class="badge outline">${esc(it.product)}</span>` : ""}
          <a href="#/conversation/${esc(it.conversation_id)}">${t("conversation")} ${esc(it.conversation_id.slice(0, 8))}</a></header>
        <p class="text review-text">${esc(it.text)}</p>
        <p>${t("review_model_says")}: ${polarityBadge(it.polarity)} ${emotionBadge(it.emotion)}</p>
        ${issue}
        <ul class="reasons">${it.reasons.map((r) => `<li data-reason="${esc(r.code)}" title="${esc(r.detail)}">${esc(reasonText(r))} <small>${esc(r.detail)}</small></li>`).join("")}</ul>
        <div class="choice">
          ${Object.entries(REVIEW_KEYS.polarity).map(([k, v]) => `<button type="button" class="pick ${choice.polarity === v ? "on" : ""}" data-task="polarity" data-label="${v}"><kbd>${k}</kbd> ${t(v)}</button>`).join("")}
          <span class="sep"></span>
          ${Object.entries(REVIEW_KEYS.emotion).map(([k, v]) => `<button type="button" class="pick ${choice.emotion === v ? "on" : ""}" data-task="emotion" data-label="${v}"><kbd>${k}</kbd> ${emo(v)}</button>`).join("")}
        </div>
        <div class="actions"><button type="button" id="review-save">${t("review_save")}</button> <button type="button" id="review-skip">${t("review_skip")}</button> <span class="result" id="review-result"></span></div>`;
      card.querySelectorAll("button.pick").forEach((b) => { b.onclick = () => pick(b.dataset.task, b.dataset.label); });
      card.querySelector("#review-save").onclick = save;
      card.querySelector("#review-skip").onclick = skip;
    }
    main.querySelector("#review-rows").innerHTML = items.slice(pos, pos + 15).map((it, j) => `<tr data-message-id="${esc(it.message_id)}" class="${j === 0 ? "current" : ""}"><td>${pos + j + 1}</td><td>${(100 * it.priority).toFixed(0)}%</td><td class="text">${esc(it.text.slice(0, 80))}</td><td>${it.reasons.map((r) => `<span class="badge outline" data-reason="${esc(r.code)}">${esc(t(`reason_${r.code}`))}</span>`).join(" ")}</td></tr>`).join("");
  };
  const pick = (task, label) => { choice = { ...choice, [task]: choice[task] === label ? undefined : label }; render(); };
  const skip = () => { if (pos < items.length) { pos += 1; choice = {}; render(); } };
  async function save() {
    if (pos >= items.length) return;
    const body = { message_id: items[pos].message_id };
    if (choice.polarity) body.polarity = choice.polarity;
    if (choice.emotion) body.emotion = choice.emotion;
    const out = card.querySelector("#review-result");
    if (!body.polarity && !body.emotion) {
      out.textContent = t("review_pick_first");
      out.className = "result bad";
      return;
    }
    try {
      await api("/v1/feedback", { method: "POST", body: JSON.stringify(body) });
      saved += 1;
      pos += 1;
      choice = {};
      render();
    } catch (err) {
      out.textContent = `${t("error")}: ${err.message}`;
      out.className = "result bad";
    }
  }
  const onKey = (ev) => {
    if (!document.body.contains(card)) { document.removeEventListener("keydown", onKey); return; }
    if (ev.target.closest && ev.target.closest("input, select, textarea")) return;
    const k = ev.key;
    if (REVIEW_KEYS.polarity[k]) pick("polarity", REVIEW_KEYS.polarity[k]);
    else if (REVIEW_KEYS.emotion[k.toLowerCase()]) pick("emotion", REVIEW_KEYS.emotion[k.toLowerCase()]);
    else if (k === "Enter") save();
    else if (k === " " || k === "x") skip();
    else if (k === "z" && pos > 0) { pos -= 1; choice = {}; render(); }
    else return;
    ev.preventDefault();
  };
  document.addEventListener("keydown", onKey);
  render();
}

// -- shell ---------------------------------------------------------------------------------

function renderNav() {
  const nav = document.querySelector("#nav");
  const cur = (location.hash || "#/overview").split(/[/?]/)[1];
  nav.innerHTML = `
    <a class="brand" href="#/overview">${t("brand")}</a>
    ${["overview", "queue", "live", "products", "alerts", "review"].map((p) => `<a class="${cur === p ? "active" : ""}" href="#/${p}" data-nav="${p}">${t(p === "review" ? "review_nav" : p)}</a>`).join("")}
    ${["agents", "practice"].map((p) => `<a class="${cur === p ? "active" : ""}" href="#/${p}" data-nav="${p}">${QSTR[lang][p]}</a>`).join("")}
    <span class="spacer"></span>
    <button id="lang" type="button">${t("language")}</button>
    <a href="/logout" id="logout">${t("logout")}</a>`;
  nav.querySelector("#lang").onclick = () => {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem("ed_lang", lang);
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    route();
  };
}

async function route() {
  const seq = ++routeSeq;
  destroyCharts();
  renderNav();
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  const main = document.querySelector("#main");
  const hash = location.hash || "#/overview";
  const [path, query] = hash.slice(2).split("?");
  const params = new URLSearchParams(query || "");
  const [page, arg] = path.split("/");
  main.dataset.page = page;
  main.dataset.ready = "false";
  try {
    if (page === "live") await pageLive(main);
    else if (page === "queue") await pageQueue(main, params, seq);
    else if (page === "conversation") await pageConversation(main, decodeURIComponent(arg || ""), seq);
    else if (page === "products") await pageProducts(main, params, seq);
    else if (page === "alerts") await pageAlerts(main, params, seq);
    else if (page === "review") await pageReview(main, params, seq);
    else if (page === "agents") await pageAgents(main, decodeURIComponent(arg || ""), seq, qctx);
    else if (page === "practice") await pagePractice(main, seq, qctx);
    else await pageOverview(main, seq);
  } catch (err) {
    if (err instanceof Stale || seq !== routeSeq) return;
    if (err.message !== "unauthenticated") main.innerHTML = `<p class="error">${t("error")}: ${esc(err.message)}</p>`;
  }
  if (seq === routeSeq) main.dataset.ready = "true";
}

function loginPage() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  const box = document.querySelector("#login");
  const render = () => {
    box.innerHTML = `<h1>${t("brand")}</h1><h2>${t("login_title")}</h2>
      <form id="login-form"><label>${t("api_key")} <input type="password" name="api_key" id="api_key" autocomplete="current-password" required></label>
      <button type="submit">${t("sign_in")}</button></form><p class="hint">${t("login_hint")}</p><p class="result bad" id="login-error"></p>
      <button type="button" id="lang">${t("language")}</button>`;
    box.querySelector("#lang").onclick = () => { lang = lang === "zh" ? "en" : "zh"; localStorage.setItem("ed_lang", lang); render(); };
    box.querySelector("#login-form").onsubmit = async (ev) => {
      ev.preventDefault();
      const resp = await fetch("/login", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ api_key: box.querySelector("#api_key").value }),
      });
      if (resp.ok) window.location.href = "/dashboard";
      else {
        const msg = resp.status === 401 ? t("login_bad_key") : resp.status === 429 ? t("login_too_many") : `HTTP ${resp.status}`;
        box.querySelector("#login-error").textContent = `${t("login_failed")}: ${msg}`;
      }
    };
  };
  render();
}

if (document.body.dataset.page === "login") loginPage();
else {
  window.addEventListener("hashchange", route);
  route();
}
