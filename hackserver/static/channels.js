// Live updates for the built-in channels: messages and the sprint's phase arrive over a websocket,
// and what is typed in the bot or team channel goes out over it. Every text is set as text, never HTML.
"use strict";
const boot = JSON.parse(document.getElementById("state").textContent);
const words = boot.words;
const phaseName = (name) => boot.phases[name] || name.replaceAll("_", " ");
const list = document.getElementById("messages");
const composer = document.getElementById("composer");
// en-GB: day before month and a 24-hour clock, as the event's organisers write their times.
const locale = boot.lang === "en" ? "en-GB" : boot.lang;
let state = boot.state;
let loadedAt = Date.now();
let socket = null;

const localTime = (iso) => new Date(iso).toLocaleString(locale, {
  timeZone: boot.timezone, weekday: "short", hour: "2-digit", minute: "2-digit", timeZoneName: "short",
});

// Chat texts mark commands with `backticks`; show them as code, never as HTML.
function withCode(text) {
  const parts = text.split("`");
  const out = document.createDocumentFragment();
  parts.forEach((part, i) => {
    if (i % 2 === 1 && i < parts.length - 1) {
      const code = document.createElement("code");
      code.textContent = part;
      out.append(code);
    } else {
      out.append(i % 2 === 1 ? "`" + part : part);
    }
  });
  return out;
}
const lastId = () => Number(list.lastElementChild?.dataset.id || 0);

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.append(withCode(text));
  return el;
}

// The bot's answer: a title, a text, fields as a small table, links as buttons (http(s) or ours only).
function replyElement(reply) {
  const box = element("div", reply.ok === false ? "reply refused" : "reply");
  if (reply.title) box.append(element("p", "title", reply.title));
  if (reply.text) box.append(element("p", "text", reply.text));
  if (reply.fields && reply.fields.length) {
    const table = element("table", "fields");
    for (const [name, value] of reply.fields) {
      const row = table.insertRow();
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = name;
      row.append(th, element("td", "text", value));
    }
    box.append(table);
  }
  const links = (reply.links || []).filter(([, url]) => /^(https?:\/\/|\/)/.test(url));
  if (links.length) {
    const p = element("p", "links");
    for (const [label, url] of links) {
      const a = document.createElement("a");
      a.className = "button";
      a.href = url;
      a.rel = "noopener noreferrer";
      a.textContent = label;
      p.append(a);
    }
    box.append(p);
  }
  return box;
}

function addMessage(m) {
  if (m.id <= lastId()) return;
  const li = document.createElement("li");
  li.dataset.id = m.id;
  const time = document.createElement("time");
  time.dateTime = m.posted_at;
  time.textContent = localTime(m.posted_at);
  const author = document.createElement("strong");
  author.textContent = m.author;
  li.append(time, author, " ");
  if (m.reply) {
    li.className = "from-bot";
    li.append(replyElement(m.reply));
  } else {
    li.append(element("span", "text", (m.translations && m.translations[boot.lang]) || m.text));
  }
  list.append(li);
  document.getElementById("empty").hidden = true;
  li.scrollIntoView({ block: "nearest" });
}

function markUnread(channel) {
  const item = document.querySelector(`#channels li[data-channel="${CSS.escape(channel)}"] .unread`);
  if (item) item.hidden = false;
}

function countdown() {
  const phase = document.getElementById("phase");
  phase.textContent = phaseName(state.phase);
  const out = document.getElementById("countdown");
  if (!state.next) { out.textContent = ""; return; }
  const eventNow = new Date(state.now).getTime() + (Date.now() - loadedAt) * state.speed;
  let s = Math.max(0, Math.round((new Date(state.next.at).getTime() - eventNow) / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60); s %= 60;
  out.textContent = `· ${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")} ${words.next} ${phaseName(state.next.phase)}`;
}

function problem(text) {
  const out = document.getElementById("problem");
  if (out) out.textContent = text;
}

function connect() {
  document.getElementById("connection").textContent = words.connecting;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = new URLSearchParams({ channel: boot.channel, after: lastId(), lang: boot.lang });
  const ws = new WebSocket(`${scheme}://${location.host}/ws/channels?${query}`);
  ws.onopen = () => { socket = ws; document.getElementById("connection").textContent = words.live; };
  ws.onmessage = (e) => {
    const data = JSON.parse(e.data);
    if (data.type === "message") {
      if (data.channel === boot.channel) addMessage(data.message); else markUnread(data.channel);
    }
    if (data.type === "phase") { state = data; loadedAt = Date.now(); countdown(); }
    if (data.type === "error") problem(data.message || data.error);
  };
  ws.onclose = () => {
    socket = null;
    document.getElementById("connection").textContent = words.offline;
    setTimeout(connect, 2000);
  };
}

if (composer) {
  composer.addEventListener("submit", (e) => {
    const input = composer.elements.text;
    const text = input.value.trim();
    if (!socket || socket.readyState !== WebSocket.OPEN) return;  // the form posts it instead
    e.preventDefault();
    if (!text) return;
    problem("");
    socket.send(JSON.stringify({ type: "say", channel: boot.channel, text }));
    input.value = "";
    input.focus();
  });
}
const link = document.getElementById("personal-link");
if (link) link.addEventListener("focus", () => link.select());

for (const t of list.querySelectorAll("time")) t.textContent = localTime(t.dateTime);
for (const t of document.querySelectorAll("#messages .text, #empty")) t.replaceChildren(withCode(t.textContent));
countdown();
setInterval(countdown, 1000);
connect();
if (composer) composer.elements.text.focus();
