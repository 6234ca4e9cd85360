// Live updates for the built-in channels: messages and the sprint's phase arrive over a websocket.
"use strict";
const boot = JSON.parse(document.getElementById("state").textContent);
const list = document.getElementById("messages");
const words = {
  de: { next: "bis", connecting: "Verbindung wird aufgebaut…", live: "● live", offline: "Getrennt, neuer Versuch…" },
  en: { next: "until", connecting: "Connecting…", live: "● live", offline: "Disconnected, retrying…" },
}[boot.lang] || { next: "until", connecting: "Connecting…", live: "● live", offline: "Disconnected, retrying…" };
// en-GB: day before month and a 24-hour clock, as the event's organisers write their times.
const locale = boot.lang === "en" ? "en-GB" : boot.lang;
let state = boot.state;
let loadedAt = Date.now();

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

function addMessage(m) {
  if (m.id <= lastId()) return;
  const li = document.createElement("li");
  li.dataset.id = m.id;
  const time = document.createElement("time");
  time.dateTime = m.posted_at;
  time.textContent = localTime(m.posted_at);
  const author = document.createElement("strong");
  author.textContent = m.author;
  const text = document.createElement("span");
  text.className = "text";
  text.append(withCode((m.translations && m.translations[boot.lang]) || m.text));
  li.append(time, author, " ", text);
  list.append(li);
  document.getElementById("empty").hidden = true;
}

function countdown() {
  const phase = document.getElementById("phase");
  phase.textContent = state.phase.replaceAll("_", " ");
  const out = document.getElementById("countdown");
  if (!state.next) { out.textContent = ""; return; }
  const eventNow = new Date(state.now).getTime() + (Date.now() - loadedAt) * state.speed;
  let s = Math.max(0, Math.round((new Date(state.next.at).getTime() - eventNow) / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60); s %= 60;
  out.textContent = `· ${h}:${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")} ${words.next} ${state.next.phase.replaceAll("_", " ")}`;
}

function connect() {
  document.getElementById("connection").textContent = words.connecting;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws/channels?after=${lastId()}`);
  ws.onopen = () => { document.getElementById("connection").textContent = words.live; };
  ws.onmessage = (e) => {
    const data = JSON.parse(e.data);
    if (data.type === "message") addMessage(data.message);
    if (data.type === "phase") { state = data; loadedAt = Date.now(); countdown(); }
  };
  ws.onclose = () => { document.getElementById("connection").textContent = words.offline; setTimeout(connect, 2000); };
}

for (const t of list.querySelectorAll("time")) t.textContent = localTime(t.dateTime);
for (const t of list.querySelectorAll(".text")) t.replaceChildren(withCode(t.textContent));
countdown();
setInterval(countdown, 1000);
connect();
