/**
 * A minimal live-prices page served at `/`, so a new user sees prices right after `npm start`. No
 * framework, no CDN (works offline); JSON subprotocol so the browser needs no msgpack decoder. DOM
 * writes are batched per animation frame. The full dashboard replaces this (issue 5).
 */
export const LIVE_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>tickwire — live prices</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; background: #0f1115; color: #d8dee9; }
  h1 { font-size: 1.2rem; margin: 0 0 .8rem; }
  form { display: flex; gap: .5rem; margin-bottom: .8rem; }
  input { flex: 1; max-width: 32rem; padding: .35rem .5rem; background: #1a1e26; color: inherit; border: 1px solid #333a47; border-radius: 4px; }
  button { padding: .35rem .8rem; background: #2e3440; color: inherit; border: 1px solid #4c566a; border-radius: 4px; cursor: pointer; }
  #state { font-size: .85rem; color: #8fbcbb; margin-bottom: .6rem; }
  table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { padding: .2rem .8rem; text-align: right; border-bottom: 1px solid #232833; }
  th:first-child, td:first-child { text-align: left; }
  .up { color: #a3be8c; } .down { color: #bf616a; }
</style>
</head>
<body>
<h1>tickwire — live prices</h1>
<form id="f"><input id="topics" value="xnas.*.quote xnas.*.trade binance.*.quote binance.*.trade" aria-label="topics">
<button>Subscribe</button></form>
<div id="state">connecting…</div>
<table><thead><tr><th>symbol</th><th>bid</th><th>ask</th><th>last</th><th>size</th><th>updates</th><th>seq gaps</th></tr></thead>
<tbody id="rows"></tbody></table>
<script type="module">
const rows = new Map(), dirty = new Set();
const tbody = document.getElementById("rows"), state = document.getElementById("state");
let ws, nextId = 1, events = 0;
function row(key) {
  let r = rows.get(key);
  if (!r) {
    const tr = document.createElement("tr");
    tr.innerHTML = "<td></td><td></td><td></td><td></td><td></td><td></td><td></td>";
    tr.cells[0].textContent = key;
    r = { tr, bid: NaN, ask: NaN, last: NaN, size: NaN, n: 0, gaps: 0, seq: {}, dir: "" };
    rows.set(key, r);
    const after = [...rows.keys()].sort().find((k) => k > key);
    tbody.insertBefore(tr, after ? rows.get(after).tr : null);
  }
  return r;
}
function onEvent(ev) {
  if (ev.e !== "quote" && ev.e !== "trade") return;
  events++;
  const key = ev.t.split(".").slice(0, 2).join(".");
  const r = row(key);
  if (r.seq[ev.e] !== undefined && ev.q !== r.seq[ev.e] + 1) r.gaps++;
  r.seq[ev.e] = ev.q;
  if (ev.e === "quote") { r.bid = ev.bp; r.ask = ev.ap; }
  else { r.dir = ev.p > r.last ? "up" : ev.p < r.last ? "down" : r.dir; r.last = ev.p; r.size = ev.z; }
  r.n++;
  dirty.add(r);
}
function render() {
  for (const r of dirty) {
    const c = r.tr.cells;
    c[1].textContent = fmt(r.bid); c[2].textContent = fmt(r.ask); c[3].textContent = fmt(r.last);
    c[3].className = r.dir; c[4].textContent = isNaN(r.size) ? "" : r.size; c[5].textContent = r.n; c[6].textContent = r.gaps;
  }
  dirty.clear();
  requestAnimationFrame(render);
}
const fmt = (v) => (isNaN(v) ? "" : v.toLocaleString(undefined, { maximumFractionDigits: 4 }));
function subscribe() {
  const topics = document.getElementById("topics").value.split(/\\s+/).filter(Boolean);
  ws.send(JSON.stringify({ method: "subscribe", id: nextId++, params: { topics, snapshot: true } }));
}
function connect() {
  ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/v1/stream", "tickwire.v1.json");
  ws.onopen = () => { state.textContent = "connected"; subscribe(); };
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    for (const ev of Array.isArray(msg) ? msg : [msg]) {
      if (ev.error) state.textContent = "error " + ev.error.code + ": " + ev.error.msg;
      else if (ev.result && ev.result.errors && ev.result.errors.length) state.textContent = ev.result.errors.map((e) => e.topic + ": " + e.msg).join("; ");
      else onEvent(ev);
    }
  };
  ws.onclose = (e) => {
    let wait = 1000;
    try { wait = JSON.parse(e.reason).retryAfterMs ?? wait; } catch {}
    state.textContent = "disconnected (" + e.code + "), retrying in " + wait + " ms";
    setTimeout(connect, wait);
  };
}
document.getElementById("f").onsubmit = (e) => { e.preventDefault(); if (ws.readyState === 1) subscribe(); };
setInterval(() => { if (ws.readyState === 1) state.textContent = "connected — " + events + " events/s"; events = 0; }, 1000);
connect();
requestAnimationFrame(render);
</script>
</body>
</html>
`;
