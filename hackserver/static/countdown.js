// Counts down the time left shown on a private page. The server decides every save by its own
// clock; this only keeps the number moving between page loads.
(() => {
  const left = document.getElementById("left");
  if (!left) return;
  const deadline = Date.parse(left.dataset.deadline);
  const serverNow = Date.parse(left.dataset.now);
  const speed = Number(left.dataset.speed) || 1;
  const loaded = Date.now();
  const pad = (n) => String(n).padStart(2, "0");
  const tick = () => {
    const now = serverNow + (Date.now() - loaded) * speed;
    let s = Math.max(0, Math.floor((deadline - now) / 1000));
    const d = Math.floor(s / 86400); s %= 86400;
    const text = (d ? `${d} d ` : "") + `${pad(Math.floor(s / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
    if (left.textContent !== text) left.textContent = text;
  };
  setInterval(tick, 1000);
})();
