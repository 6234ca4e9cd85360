// Live updates for the built-in channels: messages and the sprint's phase arrive over a websocket,
// and what is typed in the bot or team channel goes out over it. Only the server's own rendering of a
// message is set as HTML; every other text is set as text.
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

const lastId = () => Number(list.lastElementChild?.dataset.id || 0);

// The server renders each message (its markup as HTML, everything else escaped); we add its local time.
function addMessage(m, html) {
  if (m.id <= lastId()) return;
  list.insertAdjacentHTML("beforeend", html);
  const li = list.lastElementChild;
  const time = li.querySelector("time");
  time.textContent = localTime(time.dateTime);
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
      if (data.channel === boot.channel) addMessage(data.message, data.html); else markUnread(data.channel);
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
countdown();
setInterval(countdown, 1000);
connect();
if (composer) composer.elements.text.focus();
