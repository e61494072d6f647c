// Operator page: live calls and transcripts from /operator/ws, actions, history.
// Plain JS, no build step. Text from calls is only ever set with textContent.
"use strict";

const $ = (id) => document.getElementById(id);
const ENDED_KEPT = 20;
const state = { calls: new Map(), selected: null, intents: [], listener: null, record: null };

// -- helpers -----------------------------------------------------------------------------
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node[k] = v;
  }
  for (const child of children) node.append(child);
  return node;
}

async function api(path, options = {}) {
  const response = await fetch(`/operator/api${path}`, { credentials: "same-origin", ...options });
  if (response.status === 401) {
    location.href = "/operator/login";
    throw new Error("logged out");
  }
  const json = (response.headers.get("content-type") || "").includes("json");
  const body = json ? await response.json() : await response.text();
  if (!response.ok) throw new Error((body && body.detail) || body || response.statusText);
  return body;
}

const post = (path, data) => api(path, {
  method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data || {}),
});

function clock(seconds) {
  if (seconds == null || Number.isNaN(seconds)) return "";
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function callDuration(call) {
  return call.status === "live" ? Date.now() / 1000 - call.started_wall : call.duration_s;
}

// -- live events -------------------------------------------------------------------------
function newCall(ev) {
  return {
    call_id: ev.call_id, transport: ev.transport, caller: ev.caller, callee: ev.callee,
    language: ev.language, started_wall: ev.wall_time, status: "live", end_reason: null,
    duration_s: null, intent: null, intent_confidence: null, sentiment: null,
    last_latency_s: null, turns: 0, transfer_reason: null, transferred_to: null, last_error: null,
    lines: [],
  };
}

function onEvent(ev) {
  if (ev.type === "snapshot") {
    state.calls = new Map(ev.calls.map((c) => [c.call_id, c]));
    renderRows();
    if (state.selected) renderCall();
    return;
  }
  if (ev.type === "call_started") {
    state.calls.set(ev.call_id, newCall(ev));
    renderRow(state.calls.get(ev.call_id));
    $("live-count").textContent = liveCount();
    return;
  }
  const call = state.calls.get(ev.call_id);
  if (!call) return;
  switch (ev.type) {
    case "caller_turn":
      call.turns = Math.max(call.turns, ev.turn);
      call.language = ev.language;
      addLine(call, { turn: ev.turn, speaker: "caller", text: ev.transcript,
                      language: ev.language, wall_time: ev.wall_time, intent: null });
      break;
    case "intent": {
      call.intent = ev.intent;
      call.intent_confidence = ev.confidence;
      call.sentiment = ev.sentiment || call.sentiment;
      const line = [...call.lines].reverse().find((l) => l.speaker === "caller" && l.turn === ev.turn);
      if (line) {
        line.intent = ev.intent;
        if (state.selected === call.call_id) refreshLine(call, line);
      }
      break;
    }
    case "bot_reply":
      addLine(call, { turn: ev.turn, speaker: "bot", text: ev.text, language: ev.language,
                      wall_time: ev.wall_time });
      break;
    case "turn_latency": call.last_latency_s = ev.total_s; break;
    case "language_switched": call.language = ev.to_language; break;
    case "transfer_requested": call.transfer_reason = ev.reason; break;
    case "call_transferred": call.transferred_to = ev.target; break;
    case "error":
      call.last_error = ev.message;
      if (state.selected === call.call_id) $("call-message").textContent = `error: ${ev.message}`;
      break;
    case "call_ended":
      call.status = "ended";
      call.end_reason = ev.reason;
      call.duration_s = ev.duration_s;
      forgetOldEnded();
      $("live-count").textContent = liveCount();
      if (state.selected === call.call_id) renderCallHeader();
      setTimeout(() => searchHistory(), 700); // the record is written as the call ends
      break;
    default:
      return;
  }
  renderRow(call);
}

function liveCount() {
  return [...state.calls.values()].filter((c) => c.status === "live").length;
}

function forgetOldEnded() {
  const ended = [...state.calls.values()].filter((c) => c.status === "ended");
  for (const c of ended.slice(0, Math.max(0, ended.length - ENDED_KEPT))) {
    state.calls.delete(c.call_id);
    document.querySelector(`tr[data-call-id="${CSS.escape(c.call_id)}"]`)?.remove();
  }
}

function addLine(call, line) {
  call.lines.push(line);
  if (state.selected === call.call_id) {
    $("transcript").append(lineNode(call.call_id, line));
    $("transcript").lastChild.scrollIntoView({ block: "nearest" });
  }
}

// -- the live list -----------------------------------------------------------------------
function rowCells(call) {
  const conf = call.intent_confidence != null ? ` ${call.intent_confidence.toFixed(2)}` : "";
  return [
    call.caller || call.transport, call.language, clock(callDuration(call)),
    call.intent ? call.intent + conf : "", call.sentiment || "",
    call.last_latency_s != null ? `${call.last_latency_s.toFixed(2)} s` : "",
    call.status !== "live" ? `ended (${call.end_reason})`
      : call.transferred_to ? `transferred → ${call.transferred_to}`
        : call.transfer_reason ? `transferring (${call.transfer_reason})` : "live",
  ];
}

function renderRow(call) {
  let tr = document.querySelector(`tr[data-call-id="${CSS.escape(call.call_id)}"]`);
  if (!tr) {
    tr = el("tr", { dataset: { callId: call.call_id }, onclick: () => selectCall(call.call_id) });
    for (let i = 0; i < 7; i++) tr.append(el("td"));
    $("live-rows").prepend(tr);
  }
  rowCells(call).forEach((text, i) => { tr.cells[i].textContent = text; });
  tr.classList.toggle("ended", call.status !== "live");
  tr.classList.toggle("selected", call.call_id === state.selected);
}

function renderRows() {
  $("live-rows").replaceChildren();
  for (const call of state.calls.values()) renderRow(call);
  $("live-count").textContent = liveCount();
}

setInterval(() => {
  for (const call of state.calls.values()) {
    if (call.status !== "live") continue;
    const tr = document.querySelector(`tr[data-call-id="${CSS.escape(call.call_id)}"]`);
    if (tr) tr.cells[2].textContent = clock(callDuration(call));
  }
}, 1000);

// -- one call: transcript and actions ----------------------------------------------------
function selectCall(callId) {
  if (state.listener && state.selected !== callId) stopListening();
  state.selected = callId;
  document.querySelectorAll("#live-rows tr").forEach((tr) =>
    tr.classList.toggle("selected", tr.dataset.callId === callId));
  $("call").hidden = false;
  const error = state.calls.get(callId)?.last_error;
  $("call-message").textContent = error ? `error: ${error}` : "";
  renderCall();
}

function renderCallHeader() {
  const call = state.calls.get(state.selected);
  if (!call) return;
  $("call-title").textContent = `${call.caller || call.transport} · ${call.call_id}`;
  const live = call.status === "live";
  $("call-status").textContent = live ? "live" : `ended: ${call.end_reason}`;
  $("call-status").className = `badge ${live ? "live" : "ended"}`;
  for (const id of ["hangup", "takeover", "listen"]) $(id).disabled = !live && id !== "listen";
  if (!live && state.listener) stopListening();
  $("listen").disabled = !live && !state.listener;
}

function renderCall() {
  const call = state.calls.get(state.selected);
  if (!call) { $("call").hidden = true; return; }
  renderCallHeader();
  $("transcript").replaceChildren(...call.lines.map((line) => lineNode(call.call_id, line)));
}

function lineNode(callId, line) {
  const who = line.speaker === "caller" ? "Caller" : "Agent";
  const li = el("li", { className: line.speaker, dataset: { turn: line.turn, speaker: line.speaker } },
    el("span", { className: "who",
                 textContent: [who, `turn ${line.turn}`, line.language].filter(Boolean).join(" · ") }),
    el("span", { className: "text", textContent: line.text }));
  if (line.speaker === "caller") li.append(intentFixer(callId, line));
  return li;
}

function refreshLine(call, line) {
  const items = $("transcript").querySelectorAll(`li.caller[data-turn="${line.turn}"]`);
  if (items.length) items[items.length - 1].replaceWith(lineNode(call.call_id, line));
}

function intentFixer(callId, line) {
  const select = el("select", { title: "correct the intent of this turn" },
    ...state.intents.map((i) => el("option", { value: i, textContent: i, selected: i === line.intent })));
  const note = el("span", { className: "muted" });
  const button = el("button", {
    textContent: "Correct", type: "button",
    onclick: async () => {
      note.textContent = " saving…";
      try {
        await post(`/calls/${encodeURIComponent(callId)}/turns/${line.turn}/intent`, { intent: select.value });
        note.textContent = ` ✓ corrected to ${select.value}`;
      } catch (e) {
        note.textContent = ` ✗ ${e.message}`;
      }
    },
  });
  return el("div", { className: "fix" },
    el("span", { className: "muted", textContent: `intent ${line.intent || "…"} → ` }), select, " ",
    button, note);
}

async function callAction(action, done) {
  const callId = state.selected;
  try {
    await post(`/calls/${encodeURIComponent(callId)}/${action}`);
    $("call-message").textContent = done;
  } catch (e) {
    $("call-message").textContent = `${action} failed: ${e.message}`;
  }
}

$("hangup").addEventListener("click", () => {
  if (confirm("Hang up this call?")) callAction("hangup", "hang-up sent");
});
$("takeover").addEventListener("click", () =>
  callAction("takeover", "transfer to the operator line requested"));

// -- listen-in ---------------------------------------------------------------------------
function stopListening() {
  state.listener?.stop();
  state.listener = null;
  $("listen").textContent = "Listen in";
}

$("listen").addEventListener("click", () => {
  if (state.listener) { stopListening(); return; }
  const info = $("listen-info");
  state.listener = new Listener(state.selected, (stats) => {
    info.textContent = stats.closed ? "listen-in ended"
      : `caller ${stats.caller.toFixed(1)} s · agent ${stats.bot.toFixed(1)} s`;
    info.dataset.caller = stats.caller.toFixed(2);
    info.dataset.bot = stats.bot.toFixed(2);
    if (stats.closed) stopListening();
  });
  $("listen").textContent = "Stop listening";
});

// -- history -----------------------------------------------------------------------------
async function searchHistory() {
  const q = $("history-q").value.trim();
  try {
    const rows = await api(`/history?limit=50${q ? `&search=${encodeURIComponent(q)}` : ""}`);
    $("history-message").textContent = rows.length ? "" : "no recorded calls match";
    $("history-rows").replaceChildren(...rows.map(historyRow));
  } catch (e) {
    $("history-message").textContent = e.message;
  }
}

function historyRow(call) {
  const started = new Date(call.started_at).toLocaleString();
  const ended = call.status === "live" ? "live" : `${call.status}: ${call.end_reason || ""}`;
  return el("tr", { dataset: { callId: call.id }, onclick: () => openRecord(call.id) },
    ...[started, call.caller || call.transport, call.language || "", call.turn_count,
        clock(call.duration_s), ended]
      .map((text) => el("td", { textContent: String(text ?? "") })));
}

async function openRecord(callId) {
  const record = await api(`/history/${encodeURIComponent(callId)}`);
  state.record = record;
  $("record").hidden = false;
  $("record-title").textContent = `${record.caller || record.transport} · ${record.id}`;
  $("record-turns").replaceChildren(...recordLines(record).map((line) => lineNode(record.id, line)));
}

// A recorded turn → the caller's line and the agent's answer, at their times in the call.
// An operator's correction (newest first in `feedback`) replaces the model's intent.
function recordLines(record) {
  const corrected = new Map();
  for (const f of record.feedback || []) if (!corrected.has(f.turn)) corrected.set(f.turn, f.corrected_intent);
  const start = Date.parse(record.started_at) / 1000;
  const lines = [];
  for (const t of record.turns) {
    const at = Date.parse(t.at) / 1000 - start;
    if (t.transcript) {
      lines.push({ turn: t.turn, speaker: "caller", text: t.transcript, language: t.language,
                   intent: corrected.get(t.turn) || t.intent, at });
    }
    if (t.reply_text) {
      const heard = t.interrupted && t.heard_text != null ? ` [interrupted; heard: ${t.heard_text}]` : "";
      lines.push({ turn: t.turn, speaker: "bot", text: t.reply_text + heard,
                   language: t.reply_language || t.language, at: at + (t.latency_total_s || 0) });
    }
  }
  return lines;
}

$("replay").addEventListener("click", async () => {
  const record = state.record;
  if (!record) return;
  const speed = Number($("replay-speed").value);
  const list = $("record-turns");
  list.replaceChildren();
  let previous = null;
  for (const line of recordLines(record)) {
    // the call's own pauses, sped up, at most 3 s of waiting between two lines
    const gap = previous == null ? 0 : Math.min(3, Math.max(0, line.at - previous) / speed);
    previous = line.at;
    await new Promise((resolve) => setTimeout(resolve, gap * 1000));
    if (state.record !== record) return;
    list.append(lineNode(record.id, line));
  }
});

$("history-search").addEventListener("submit", (e) => { e.preventDefault(); searchHistory(); });

// -- start -------------------------------------------------------------------------------
function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/operator/ws`);
  ws.onopen = () => { $("connection").textContent = "live"; $("connection").className = "badge live"; };
  ws.onmessage = (m) => onEvent(JSON.parse(m.data));
  ws.onclose = (e) => {
    $("connection").textContent = "disconnected";
    $("connection").className = "badge ended";
    if (e.code === 1008) location.href = "/operator/login";
    else setTimeout(connect, 1000);
  };
}

(async () => {
  const [me, intents] = await Promise.all([api("/me"), api("/intents")]);
  $("user").textContent = me.user;
  state.intents = intents;
  connect();
  searchHistory();
})();
