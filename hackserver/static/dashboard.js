// The organisers' dashboard: a websocket pushes the whole state once, then only what changed, a few
// times a second at most; this script puts it into the page, touching only the parts that changed.
// Every text from the server goes in through textContent, never HTML. The frames carry each text in
// every language of the event; the page says which is its own, and gives this script its words.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const words = JSON.parse($("words").textContent);
  const T = words.t; // the page's words, by name (the catalogue's page.dashboard.*)
  // A text of a frame in the page's language (each is there in every language of the event).
  const pick = (texts) => (texts ? texts[words.lang] ?? Object.values(texts)[0] ?? "" : "");
  // A text with {placeholders} filled in, as the server's catalogue writes them.
  const fill = (template, values) => template.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
  const feed = new Map(); // entry number -> entry
  let history = null; // the charts' points, from /dashboard/history
  let asked = 0; // when history was last asked for (ms)
  const plots = new Map(); // chart key -> uPlot
  let state = null; // the whole state as last shown
  let next = null; // {phase, at (ms), speed, offset (server event time - local time, ms)}
  const FEED_SHOWN = 50;
  // The charts' time axis, at the event's clock and in its zone, as the lists below write their times.
  const zone = $("chart-span").dataset.zone;
  const span = new Intl.DateTimeFormat(words.locale, { timeZone: zone, weekday: "short", hour: "2-digit", minute: "2-digit" });
  const clock = new Intl.DateTimeFormat(words.locale, { timeZone: zone, hour: "2-digit", minute: "2-digit" });
  const day = new Intl.DateTimeFormat(words.locale, { timeZone: zone, weekday: "short", day: "numeric", month: "short" });
  const number = new Intl.NumberFormat(words.locale, { maximumFractionDigits: 1 });
  const DELIVERY = ["pending", "sending", "delivered", "dead", "rate_limited"].map((key) => [key, T[`delivery_${key}`]]);

  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function phase(name) { return words.phases[name] ?? String(name); }

  function replaceList(list, items, empty, make) {
    list.replaceChildren(...(items.length ? items.map(make) : [element("li", empty, "calm")]));
  }

  function rows(table, items, make) {
    table.tBodies[0].replaceChildren(...items.map((item) => {
      const row = document.createElement("tr");
      make(item).forEach((cell, i) => {
        const td = element(i === 0 ? "th" : "td", String(cell));
        if (i === 0) td.scope = "row";
        row.append(td);
      });
      return row;
    }));
  }

  // The server writes each instant in the event's time zone, which the section's heading names.
  function time(iso, local) {
    const node = element("time", local);
    node.dateTime = iso;
    return node;
  }

  // A "snapshot" frame holds the whole state; a "change" frame only the parts that differ from the
  // frame before (of the counts, only those that moved).
  function show(frame) {
    if (frame.type === "snapshot") state = frame;
    else for (const [key, value] of Object.entries(frame)) state[key] = key === "counts" ? { ...state.counts, ...value } : value;
    const has = (key) => key in frame;
    if (has("phase") || has("next") || has("now") || has("speed")) sprint(state);
    if (has("counts")) counts(frame.counts);
    if (has("alerts")) alerts(state.alerts);
    if (has("team_sizes")) rows($("sizes"), state.team_sizes, (pair) => pair);
    if (has("delivery")) delivery(state.delivery);
    if (has("schedule")) schedule(state.schedule);
    if (frame.feed.length) addFeed(frame.feed);
    follow(frame);
  }

  function sprint(s) {
    $("phase").textContent = phase(s.phase);
    next = s.next && {
      phase: s.next.phase,
      at: Date.parse(s.next.at),
      speed: s.speed,
      offset: Date.parse(s.now) - Date.now(),
      base: Date.now(),
    };
    countdown();
  }

  function counts(changed) {
    for (const [key, value] of Object.entries(changed)) {
      const node = document.querySelector(`[data-count="${key}"]`);
      if (node && node.textContent !== String(value)) node.textContent = String(value);
    }
  }

  function alerts(items) {
    replaceList($("alerts"), items, T.nothing_now, (a) => {
      const li = element("li", "", `alert ${a.level}`);
      li.append(element("strong", pick(a.text)));
      if (a.names.length) li.append(`: ${a.names.join(", ")}` + (a.more ? ` ${pick(a.more)}` : ""));
      return li;
    });
  }

  function delivery(d) {
    const limited = d.rate_limited || {};
    // A column per platform, a row per state, as the page first shows it.
    const head = element("tr");
    head.append(element("th", T.messages), ...d.platforms.map((p) => element("th", p.platform)));
    for (const th of head.children) th.scope = "col";
    $("platforms").tHead.replaceChildren(head);
    rows($("platforms"), DELIVERY, ([key, label]) => [label, ...d.platforms.map((p) => (key === "rate_limited" ? limited[p.platform] || 0 : p[key]))]);
    $("queued").textContent = String(d.queued);
    $("dead-count").textContent = String(d.dead_count);
    replaceList($("dead"), d.dead, T.none, (dead) => {
      const li = document.createElement("li");
      const form = element("form");
      form.method = "post";
      form.action = `/dashboard/actions/retry/${encodeURIComponent(dead.id)}?lang=${encodeURIComponent(words.lang)}`;
      form.dataset.action = "";
      const button = element("button", T.retry);
      button.type = "submit";
      button.setAttribute("aria-label", fill(T.retry_label, { id: dead.id }));
      form.append(element("span", `#${dead.id} ${dead.platform} ${dead.channel}: ${dead.error}`), " ", button);
      li.append(form);
      return li;
    });
  }

  function schedule(items) {
    replaceList($("schedule"), items, T.none_left, (a) => {
      const li = document.createElement("li");
      li.append(time(a.at, pick(a.local)), " ", element("span", pick(a.when), "when"), " ", element("span", pick(a.text), "text"));
      return li;
    });
  }

  function addFeed(entries) {
    for (const entry of entries) feed.set(entry.n, entry);
    const newest = [...feed.keys()].sort((a, b) => b - a);
    for (const n of newest.slice(FEED_SHOWN)) feed.delete(n);
    replaceList($("feed"), newest.slice(0, FEED_SHOWN).map((n) => feed.get(n)), T.nothing_yet, (f) => {
      const li = document.createElement("li");
      li.dataset.n = f.n;
      li.append(time(f.at, pick(f.local)), " ", element("span", pick(f.text), "text"));
      return li;
    });
  }

  // The charts are read again from the database when a number they show moved, at most every
  // few seconds: only the database knows what every process saw, and when.
  const CHARTED = ["registrations", "in_teams", "teams", "submissions_final"];
  let due = null;
  function follow(frame) {
    if (due || !(frame.delivery || CHARTED.some((key) => key in (frame.counts || {})))) return;
    due = setTimeout(() => { due = null; load(); }, Math.max(0, asked + 3000 - Date.now()));
  }

  async function load() {
    asked = Date.now();
    try {
      const response = await fetch("/dashboard/history", { credentials: "same-origin" });
      if (!response.ok) return;
      history = await response.json();
      draw();
    } catch {
      // the websocket says when the server is away; the next frame asks again
    }
  }

  function colours() {
    const css = getComputedStyle(document.documentElement);
    return [0, 1, 2, 3].map((k) => css.getPropertyValue(`--k${k}`).trim());
  }

  // Each series has its own colour and its own dash, and each chart its table for screen readers.
  function draw() {
    if (!history) return;
    const at = (seconds) => span.format(new Date(seconds * 1000));
    const times = history.times;
    $("chart-span").textContent = `· ${at(times[0] - history.step)} – ${at(times[times.length - 1])}`;
    const palette = colours(), dashes = [[], [8, 4], [2, 3], [12, 3, 2, 3]];
    for (const figure of document.querySelectorAll("figure[data-chart]")) {
      const keys = [...figure.querySelectorAll("th[data-series]")].map((th) => th.dataset.series);
      const labels = [...figure.querySelectorAll("th[data-series]")].map((th) => th.textContent);
      const data = [times, ...keys.map((key) => history[key])];
      rows(figure.querySelector("details table"), times.map((t, i) => i), (i) => [at(times[i]), ...keys.map((key) => (history[key][i] == null ? "–" : number.format(history[key][i])))]);
      const box = figure.querySelector(".plot");
      const text = getComputedStyle(box).color, grid = getComputedStyle(document.documentElement).getPropertyValue("--muted").trim() + "55";
      const plot = plots.get(figure.dataset.chart);
      if (plot) { plot.setData(data); continue; }
      plots.set(figure.dataset.chart, new uPlot({
        width: Math.max(200, box.clientWidth), height: 180,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), zone),
        legend: { show: keys.length > 1, live: false },
        cursor: { show: false },
        // Ticks in the page's language: the time of day, with the date where a day begins.
        axes: [
          { stroke: text, grid: { stroke: grid }, space: 70, values: (u, ticks) => ticks.map((tick, i) => ticked(tick, ticks[i - 1])) },
          { stroke: text, grid: { stroke: grid }, values: (u, ticks) => ticks.map((tick) => number.format(tick)) },
        ],
        // From the first registration, however few points there are yet (a lone point is shown as a dot).
        scales: { x: { time: true, range: () => [history.times[0] - history.step, history.times[history.times.length - 1]] }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
        series: [{}, ...keys.map((key, k) => ({ label: labels[k], stroke: palette[k % 4], width: 2.5, dash: dashes[k % 4], points: { show: (u) => u.data[0].length < 3, size: 7 }, spanGaps: key === "help_wait_s" }))],
      }, data, box));
    }
  }

  function ticked(seconds, before) {
    const at = new Date(seconds * 1000);
    const first = before === undefined || day.format(new Date(before * 1000)) !== day.format(at);
    return first ? `${day.format(at)}\n${clock.format(at)}` : clock.format(at);
  }

  // The lines take the scheme's colours when drawn: a change of scheme draws them again.
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
    for (const plot of plots.values()) plot.destroy();
    plots.clear();
    draw();
  });

  window.addEventListener("resize", () => {
    for (const figure of document.querySelectorAll("figure[data-chart]")) {
      const plot = plots.get(figure.dataset.chart);
      if (plot) plot.setSize({ width: Math.max(200, figure.querySelector(".plot").clientWidth), height: 180 });
    }
  });

  function countdown() {
    const node = $("countdown");
    if (!next) { node.textContent = ""; return; }
    const eventNow = next.base + next.offset + (Date.now() - next.base) * next.speed;
    const left = Math.max(0, Math.round((next.at - eventNow) / 1000));
    const h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
    const two = (n) => String(n).padStart(2, "0");
    node.textContent = fill(T.countdown, { phase: phase(next.phase), left: fill(T.left, { h, m: two(m), s: two(s) }) });
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws/dashboard`);
    ws.onopen = () => { $("live").textContent = T.live; $("live").className = "live on"; };
    ws.onmessage = (message) => {
      const frame = JSON.parse(message.data);
      if (frame.type === "history") addFeed(frame.feed);
      else if (frame.type === "snapshot" || (frame.type === "change" && state)) show(frame);
    };
    ws.onclose = () => {
      $("live").textContent = T.disconnected;
      $("live").className = "live off";
      setTimeout(connect, 2000);
    };
  }

  async function act(form, event) {
    event.preventDefault();
    const result = $("result");
    result.textContent = "…";
    try {
      const response = await fetch(form.action, {
        method: "POST",
        headers: { accept: "application/json" },
        body: new URLSearchParams(new FormData(form)),
        credentials: "same-origin",
      });
      const body = await response.json();
      result.textContent = body.message || body.error || response.statusText;
      result.className = response.ok ? "result ok" : "result refused";
      if (response.ok && form.id === "announce") { form.reset(); $("preview").hidden = true; }
    } catch (error) {
      result.textContent = fill(T.unreachable, { error });
      result.className = "result refused";
    }
  }

  document.addEventListener("submit", (event) => {
    if (event.target instanceof HTMLFormElement && "action" in event.target.dataset) act(event.target, event);
  });
  $("preview-button").addEventListener("click", () => {
    const select = $("announce-target");
    $("preview-text").textContent = $("announce-text").value.trim() || T.empty;
    $("preview-target").textContent = fill(T.goes_to, { target: select.options[select.selectedIndex].text });
    $("preview").hidden = false;
  });
  setInterval(countdown, 1000);
  load();
  connect();
})();
