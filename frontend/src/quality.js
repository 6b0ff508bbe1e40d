// Agent quality pages (issue 12): scorecards next to agent replies, the Agents page,
// the Practice page. Kept in its own module; main.js passes its helpers in `ctx`.

export const QSTR = {
  en: {
    agents: "Agents",
    practice: "Practice",
    agent: "Agent",
    replies_scored: "Replies scored",
    conversations: "Conversations",
    qa_score: "Quality score",
    weakest: "Weakest criteria",
    practice_sessions: "Practice sessions",
    trend: "Score by day",
    criteria: "Criteria",
    pass_rate: "Pass rate",
    passed: "pass",
    failed: "fail",
    na: "N/A",
    worst: "Replies to coach",
    best: "Best replies",
    no_agents: "No scored agent replies yet.",
    answered: "answers turn {n}",
    scorecard: "Scorecard",
    conversation_score: "Conversation quality",
    scenario: "Scenario",
    language_label: "Language",
    difficulty: "Difficulty",
    agent_id: "Agent id",
    start: "Start",
    send: "Send",
    your_reply: "Your reply",
    customer_says: "Customer",
    you: "You",
    anger: "Anger",
    outcome: "Outcome",
    outcome_in_progress: "in progress",
    outcome_resolved: "resolved",
    outcome_escalated: "escalated",
    outcome_left: "the customer left",
    outcome_unresolved: "unresolved",
    emotion_curve: "Emotion curve (anger)",
    practise_next: "Practise next",
    try_scenario: "try the scenario",
    easy: "easy",
    normal: "normal",
    hard: "hard",
    sc_late_delivery: "Late delivery",
    sc_broken_item: "Broken item",
    sc_refund_refused: "Refund refused",
    sc_wrong_size: "Wrong size",
    sc_vip_leaving: "VIP threatening to leave",
    sc_question_only: "A question only",
    cr_greeting: "Greeting",
    cr_empathy: "Acknowledges the emotion",
    cr_apology: "Apologises for the fault",
    cr_next_step: "Concrete next step",
    cr_timeframe: "Concrete time",
    cr_answers_question: "Answers the question",
    cr_no_blame: "No blame or dismissal",
    cr_politeness: "Polite register",
    cr_closing: "Closing",
    cr_response_time: "Response time",
  },
  zh: {
    agents: "客服",
    practice: "陪练",
    agent: "客服",
    replies_scored: "已评分回复",
    conversations: "会话",
    qa_score: "质检得分",
    weakest: "最弱项",
    practice_sessions: "陪练次数",
    trend: "每日得分",
    criteria: "评分项",
    pass_rate: "通过率",
    passed: "通过",
    failed: "未通过",
    na: "不适用",
    worst: "待辅导的回复",
    best: "优秀回复",
    no_agents: "还没有评分过的客服回复。",
    answered: "回复第 {n} 轮",
    scorecard: "评分卡",
    conversation_score: "会话质检得分",
    scenario: "场景",
    language_label: "语言",
    difficulty: "难度",
    agent_id: "客服工号",
    start: "开始",
    send: "发送",
    your_reply: "您的回复",
    customer_says: "顾客",
    you: "您",
    anger: "怒气",
    outcome: "结果",
    outcome_in_progress: "进行中",
    outcome_resolved: "已解决",
    outcome_escalated: "已升级",
    outcome_left: "顾客离开",
    outcome_unresolved: "未解决",
    emotion_curve: "情绪曲线（怒气）",
    practise_next: "下一步练习",
    try_scenario: "建议场景",
    easy: "简单",
    normal: "普通",
    hard: "困难",
    sc_late_delivery: "快递迟迟不到",
    sc_broken_item: "商品破损",
    sc_refund_refused: "退款被拒",
    sc_wrong_size: "尺码不对",
    sc_vip_leaving: "老客户扬言不再购买",
    sc_question_only: "只是咨询",
    cr_greeting: "问候",
    cr_empathy: "回应情绪",
    cr_apology: "为过错致歉",
    cr_next_step: "具体的下一步",
    cr_timeframe: "具体时间",
    cr_answers_question: "回答了问题",
    cr_no_blame: "不推诿不敷衍",
    cr_politeness: "礼貌用语",
    cr_closing: "结束语",
    cr_response_time: "响应时间",
  },
};

const SCENARIOS = ["late_delivery", "broken_item", "refund_refused", "wrong_size", "vip_leaving", "question_only"];

function q(ctx, key, vars = {}) {
  let s = QSTR[ctx.lang()][key] ?? QSTR.en[key] ?? key;
  for (const [k, v] of Object.entries(vars)) s = s.replace(`{${k}}`, v);
  return s;
}

function scoreBadge(score) {
  if (score === null || score === undefined) return `<span class="qa-score">–</span>`;
  const cls = score >= 80 ? "good" : score >= 50 ? "mid" : "bad";
  return `<span class="qa-score ${cls}" data-qa-score="${score}">${Number(score).toFixed(0)}</span>`;
}

// The scorecard shown next to an agent reply on the conversation page.
export function scorecardHtml(ctx, card) {
  if (!card) return "";
  const { esc } = ctx;
  const items = (card.criteria || [])
    .filter((c) => c.verdict !== "na")
    .map((c) => {
      const ev = c.evidence ? ` <q>${esc(c.evidence.text)}</q>` : "";
      const mark = c.verdict === "pass" ? "✓" : "✗";
      return `<li class="qa-${c.verdict}" data-criterion="${esc(c.criterion)}" data-verdict="${c.verdict}">${mark} ${esc(q(ctx, "cr_" + c.criterion))}${c.verdict === "fail" ? ev : ""}</li>`;
    })
    .join("");
  const answered = card.answered && card.answered.turn ? `<span class="hint">${esc(q(ctx, "answered", { n: card.answered.turn }))}</span>` : "";
  return `<aside class="scorecard" data-score="${card.score ?? ""}"><h3>${q(ctx, "scorecard")} ${scoreBadge(card.score)} ${answered}</h3><ul>${items}</ul></aside>`;
}

export function conversationQualityKpi(ctx, quality) {
  if (!quality || !quality.replies) return "";
  return `<div class="kpi" data-kpi="qa"><div class="v">${scoreBadge(quality.score)}</div><div class="l">${q(ctx, "conversation_score")} (${quality.replies})</div></div>`;
}

export async function pageAgents(main, agentId, seq, ctx) {
  const { api, esc, load } = ctx;
  if (agentId) return pageAgent(main, agentId, seq, ctx);
  const data = await load(api("/v1/agents?days=30"), seq);
  const rows = data.agents
    .map(
      (a) => `<tr data-agent="${esc(a.agent_id)}"><td><a href="#/agents/${encodeURIComponent(a.agent_id)}">${esc(a.agent_id)}</a></td>
      <td>${a.replies}</td><td>${a.conversations}</td><td>${scoreBadge(a.score)}</td>
      <td>${a.weakest.map((c) => esc(q(ctx, "cr_" + c))).join(", ") || "–"}</td><td>${a.practice.sessions}</td></tr>`,
    )
    .join("");
  main.innerHTML = `<div class="toolbar"><h1>${q(ctx, "agents")}</h1></div>
    <section class="card">${rows ? `<table class="agents"><thead><tr><th>${q(ctx, "agent")}</th><th>${q(ctx, "replies_scored")}</th><th>${q(ctx, "conversations")}</th><th>${q(ctx, "qa_score")}</th><th>${q(ctx, "weakest")}</th><th>${q(ctx, "practice_sessions")}</th></tr></thead><tbody>${rows}</tbody></table>` : `<p class="hint">${q(ctx, "no_agents")}</p>`}</section>`;
}

async function pageAgent(main, agentId, seq, ctx) {
  const { api, esc, load, chart } = ctx;
  const a = await load(api(`/v1/agents/${encodeURIComponent(agentId)}`), seq);
  const crit = Object.entries(a.criteria || {})
    .sort((x, y) => (x[1].pass_rate ?? 2) - (y[1].pass_rate ?? 2))
    .map(([name, c]) => `<tr data-criterion="${esc(name)}"><td>${esc(q(ctx, "cr_" + name))}</td><td>${c.pass_rate === null ? "–" : `${(100 * c.pass_rate).toFixed(0)}%`}</td><td>${c.pass}</td><td>${c.fail}</td><td>${c.na}</td></tr>`)
    .join("");
  const example = (r) => `<li>${scoreBadge(r.score)} <a href="#/conversation/${encodeURIComponent(r.conversation_id)}">${esc(r.text)}</a>${r.failed.length ? ` <span class="hint">✗ ${r.failed.map((c) => esc(q(ctx, "cr_" + c))).join(", ")}</span>` : ""}</li>`;
  const sessions = (a.practice.recent || []).map((p) => `<li>${esc(q(ctx, "sc_" + p.scenario))} · ${esc(q(ctx, "outcome_" + p.outcome))} · ${scoreBadge(p.score)}</li>`).join("");
  main.innerHTML = `<div class="toolbar"><h1>${q(ctx, "agent")} <code>${esc(a.agent_id)}</code></h1></div>
    <div class="kpis">
      <div class="kpi" data-kpi="qa_score"><div class="v">${scoreBadge(a.score)}</div><div class="l">${q(ctx, "qa_score")}</div></div>
      <div class="kpi"><div class="v">${a.replies}</div><div class="l">${q(ctx, "replies_scored")}</div></div>
      <div class="kpi"><div class="v">${a.conversations}</div><div class="l">${q(ctx, "conversations")}</div></div>
      <div class="kpi"><div class="v">${a.practice.sessions}</div><div class="l">${q(ctx, "practice_sessions")}</div></div>
    </div>
    <section class="card"><h2>${q(ctx, "trend")}</h2><div class="chartbox short"><canvas id="chart-agent-trend"></canvas></div></section>
    <section class="card"><h2>${q(ctx, "criteria")}</h2><table class="criteria"><thead><tr><th></th><th>${q(ctx, "pass_rate")}</th><th>${q(ctx, "passed")}</th><th>${q(ctx, "failed")}</th><th>${q(ctx, "na")}</th></tr></thead><tbody>${crit}</tbody></table></section>
    <section class="card"><h2>${q(ctx, "worst")}</h2><ul class="examples worst">${(a.examples.worst || []).map(example).join("")}</ul>
      <h2>${q(ctx, "best")}</h2><ul class="examples best">${(a.examples.best || []).map(example).join("")}</ul></section>
    <section class="card"><h2>${q(ctx, "practice_sessions")}</h2><ul>${sessions || "<li>–</li>"}</ul></section>`;
  chart(main.querySelector("#chart-agent-trend"), {
    type: "line",
    data: { labels: a.trend.map((d) => d.day), datasets: [{ label: q(ctx, "qa_score"), data: a.trend.map((d) => d.score), borderColor: "#0072B2", tension: 0.2 }] },
    options: { maintainAspectRatio: false, scales: { y: { min: 0, max: 100 } } },
  });
}

function angerBar(x) {
  const color = x >= 0.7 ? "#D55E00" : x >= 0.4 ? "#E69F00" : "#009E73";
  return `<span class="risk" title="${x.toFixed(2)}"><span style="width:${(100 * x).toFixed(0)}%;background:${color}"></span></span> ${x.toFixed(2)}`;
}

export async function pagePractice(main, seq, ctx) {
  const { api, esc, chart } = ctx;
  const opts = (vals, prefix = "") => vals.map((v) => `<option value="${v}">${esc(q(ctx, prefix + v))}</option>`).join("");
  main.innerHTML = `<div class="toolbar"><h1>${q(ctx, "practice")}</h1></div>
    <section class="card"><form id="practice-start" class="inline">
      <label>${q(ctx, "scenario")} <select name="scenario">${opts(SCENARIOS, "sc_")}</select></label>
      <label>${q(ctx, "language_label")} <select name="language"><option value="${ctx.lang()}">${ctx.lang()}</option><option value="${ctx.lang() === "zh" ? "en" : "zh"}">${ctx.lang() === "zh" ? "en" : "zh"}</option></select></label>
      <label>${q(ctx, "difficulty")} <select name="difficulty">${opts(["easy", "normal", "hard"])}</select></label>
      <label>${q(ctx, "agent_id")} <input name="agent_id" size="10"></label>
      <button type="submit">${q(ctx, "start")}</button><span class="result"></span></form></section>
    <section class="card" id="practice-chat" hidden><div class="transcript"></div>
      <form id="practice-reply" class="inline"><label>${q(ctx, "your_reply")} <input name="text" size="60" required></label><button type="submit">${q(ctx, "send")}</button><span class="result"></span></form></section>
    <section class="card" id="practice-report" hidden></section>`;
  const chat = main.querySelector("#practice-chat");
  const transcript = chat.querySelector(".transcript");
  const reportBox = main.querySelector("#practice-report");
  let current = null;
  const say = (who, text, extra = "") => transcript.insertAdjacentHTML("beforeend", `<p class="line ${who}"><b>${esc(q(ctx, who === "customer" ? "customer_says" : "you"))}:</b> ${esc(text)}${extra}</p>`);
  const showReport = (s) => {
    const r = s.report;
    const next = (r.practise_next || []).map((x) => `<li>${esc(x.advice)}${x.scenario ? ` (${q(ctx, "try_scenario")}: ${esc(q(ctx, "sc_" + x.scenario))})` : ""}</li>`).join("");
    reportBox.hidden = false;
    reportBox.innerHTML = `<h2>${q(ctx, "outcome")}: <span data-outcome="${esc(r.outcome)}">${esc(q(ctx, "outcome_" + r.outcome))}</span> · ${q(ctx, "qa_score")} ${scoreBadge(r.score)}</h2>
      <div class="chartbox short"><canvas id="chart-practice-curve"></canvas></div><h3>${q(ctx, "practise_next")}</h3><ul>${next}</ul>`;
    chart(reportBox.querySelector("#chart-practice-curve"), {
      type: "line",
      data: { labels: r.emotion_curve.map((_, i) => String(i)), datasets: [{ label: q(ctx, "emotion_curve"), data: r.emotion_curve, borderColor: "#D55E00", tension: 0.2 }] },
      options: { maintainAspectRatio: false, scales: { y: { min: 0, max: 1 } } },
    });
  };
  main.querySelector("#practice-start").onsubmit = async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const body = { scenario: f.scenario.value, language: f.language.value, difficulty: f.difficulty.value, seed: Math.floor(Math.random() * 1000) };
    if (f.agent_id.value.trim()) body.agent_id = f.agent_id.value.trim();
    try {
      current = await api("/v1/practice", { method: "POST", body: JSON.stringify(body) });
      transcript.innerHTML = "";
      reportBox.hidden = true;
      chat.hidden = false;
      say("customer", current.customer, ` <span class="anger">${q(ctx, "anger")} ${angerBar(current.report.emotion_curve[0])}</span>`);
    } catch (err) {
      f.querySelector(".result").textContent = err.message;
    }
  };
  main.querySelector("#practice-reply").onsubmit = async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const text = f.text.value.trim();
    if (!current || !text) return;
    try {
      const s = await api(`/v1/practice/${encodeURIComponent(current.id)}/replies`, { method: "POST", body: JSON.stringify({ text }) });
      const step = s.report.steps[s.report.steps.length - 1];
      say("you", text, scorecardHtml(ctx, step.scorecard));
      say("customer", s.customer, ` <span class="anger">${q(ctx, "anger")} ${angerBar(step.anger)}</span>`);
      f.text.value = "";
      current = s;
      if (s.outcome !== "in_progress") {
        f.querySelector("button").disabled = true;
        showReport(s);
      }
    } catch (err) {
      f.querySelector(".result").textContent = err.message;
    }
  };
}
