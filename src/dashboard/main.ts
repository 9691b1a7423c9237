/**
 * The live dashboard served at `/`: a watchlist, a grid of bid/ask/last with flashes, change, update
 * rate and a sparkline per symbol, connection state, latency and loss counters. It uses the SDK from
 * `./client.js` (bundled with the import left external, see src/web/bundle.ts), so reconnects,
 * resubscribes and gap handling are the SDK's.
 */
import {
  connect,
  patternMatches,
  RequestRefusedError,
  type StateChange,
  type Subscription,
} from "../client/index.ts";
import { Grid } from "./grid.ts";

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const grid = new Grid($<HTMLTableSectionElement>("rows"));
const connEl = $("conn");
const feedEl = $("feed");
const messageEl = $("message");
const maxHzEl = $<HTMLSelectElement>("maxhz");
const DEFAULT_WATCHLIST = ["xnas.*.quote", "xnas.*.trade", "binance.*.quote", "binance.*.trade"];

/**
 * A gateway running --auth jwt: open the page as `/#token=…`. The fragment never reaches a server or a
 * proxy log (unlike a query string), and it is removed from the address bar and history at once; the
 * token stays in this page's memory only. The SDK sends it as the first message (`auth`).
 */
function tokenFromFragment(): string | undefined {
  const token = new URLSearchParams(location.hash.slice(1)).get("token") ?? "";
  if (token === "") return undefined;
  history.replaceState(null, "", location.pathname + location.search);
  return token;
}
const token = tokenFromFragment();
const client = connect(
  `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/stream`,
  token === undefined ? {} : { token },
);
/** Watched pattern → its subscription (undefined while being (re)subscribed). */
const watched = new Map<string, Subscription | undefined>();
let maxHz: number | undefined;
let events = 0;
let latenciesMs: number[] = [];
/** Lag shown in red above this, ms (the gateway's --max-lag-ms default). */
const LAG_HIGH_MS = 1000;
/** This page's own backlog, ms: the round trip of the last ping request, or the age of one unanswered. */
let pageLag: { sentAt: number | undefined; rttMs: number | undefined } = {
  sentAt: undefined,
  rttMs: undefined,
};

client.on("state", showState);
client.on("error", (error) => showMessage(error.message));
client.on("event", (event) => {
  events++;
  if (latenciesMs.length < 5000) latenciesMs.push(Date.now() - event.te / 1000);
});
client.on("quote", (q) => grid.quote(q));
client.on("trade", (t) => grid.trade(t));
// A dead feed must not look like a quiet market (issue 10 §2): prices are greyed out while it is down.
client.on("feed", ({ state }) => showFeed(state));
client.on("state", () => showFeed(client.feed));

function showFeed(state: "up" | "down"): void {
  document.body.dataset["feed"] = state;
  feedEl.hidden = state === "up";
}

function showState(change: StateChange): void {
  connEl.dataset["state"] = change.state;
  switch (change.state) {
    case "open":
      connEl.textContent = "live";
      return;
    case "connecting":
      connEl.textContent = "connecting…";
      return;
    case "reconnecting": {
      const d = change.disconnect;
      const why = d === undefined ? "" : d.cause === "watchdog" ? "silent connection" : `closed ${d.code}`;
      connEl.textContent = `reconnecting in ${((change.delayMs ?? 0) / 1000).toFixed(1)} s (${why}, attempt ${change.attempt})`;
      return;
    }
    case "closed":
      connEl.textContent = "closed";
      return;
  }
}

function showMessage(text: string | undefined): void {
  messageEl.hidden = text === undefined;
  messageEl.textContent = text ?? "";
}

/** Symbols become every topic of that symbol on every venue; anything with a dot is a pattern. */
function toPatterns(input: string): string[] {
  return input
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((s) => (s.includes(".") || s === ">" ? s : `*.${s}.>`));
}

async function watch(pattern: string): Promise<void> {
  if (watched.has(pattern)) return;
  watched.set(pattern, undefined);
  renderChips();
  try {
    const sub = await subscribeWithRate(pattern);
    if (!watched.has(pattern)) {
      await sub.unsubscribe(); // removed while subscribing
      return;
    }
    watched.set(pattern, sub);
    // For tests and the curious: how many watch requests have completed, and the rate in force.
    document.body.dataset["subscribed"] = String(Number(document.body.dataset["subscribed"] ?? 0) + 1);
    maxHzEl.dataset["applied"] = String(sub.maxHz ?? maxHz ?? "");
    if (sub.errors.length > 0) {
      showMessage(sub.errors.map((e) => `${e.topic}: ${e.msg} (${e.code})`).join("; "));
      watched.delete(pattern);
      renderChips();
    }
  } catch (error) {
    watched.delete(pattern);
    renderChips();
    showMessage(`cannot watch ${pattern}: ${(error as Error).message}`);
  }
}

/**
 * Subscribes with the selected maxHz. A gateway without maxHz support (protocol v1.1) refuses the
 * parameter with 4000: say so, fall back to unlimited, and keep the watchlist live.
 */
async function subscribeWithRate(pattern: string): Promise<Subscription> {
  if (maxHz === undefined) return client.subscribe([pattern]);
  try {
    return await client.subscribe([pattern], { maxHz });
  } catch (error) {
    if (!(error instanceof RequestRefusedError)) throw error;
    showMessage(
      `max rate not applied — the gateway refused maxHz: ${error.protocolCode} ${error.serverMessage}`,
    );
    maxHz = undefined;
    maxHzEl.value = "";
    return client.subscribe([pattern]);
  }
}

async function unwatch(pattern: string): Promise<void> {
  const sub = watched.get(pattern);
  watched.delete(pattern);
  renderChips();
  const patterns = [...watched.keys()].map((p) => p.split("."));
  grid.prune((key) =>
    ["quote", "trade"].some((type) => patterns.some((p) => patternMatches(p, `${key}.${type}`.split(".")))),
  );
  await sub?.unsubscribe();
}

function renderChips(): void {
  const chips = $("chips");
  chips.replaceChildren(
    ...[...watched.keys()].map((pattern) => {
      const chip = document.createElement("span");
      chip.className = "chip";
      chip.dataset["pattern"] = pattern;
      chip.textContent = pattern;
      const remove = document.createElement("button");
      remove.textContent = "×";
      remove.title = `stop watching ${pattern}`;
      remove.onclick = () => void unwatch(pattern).catch((e: unknown) => showMessage(String(e)));
      chip.append(remove);
      return chip;
    }),
  );
}

$<HTMLFormElement>("watch").onsubmit = (event) => {
  event.preventDefault();
  const input = $<HTMLInputElement>("symbols");
  showMessage(undefined);
  for (const pattern of toPatterns(input.value)) void watch(pattern);
  input.value = "";
};

maxHzEl.onchange = () => {
  showMessage(undefined);
  maxHz = maxHzEl.value === "" ? undefined : Number(maxHzEl.value);
  // Re-add every pattern with the new rate (an unsubscribe first, so the gateway sees fresh params).
  for (const pattern of [...watched.keys()]) {
    const sub = watched.get(pattern);
    watched.delete(pattern);
    void (sub?.unsubscribe() ?? Promise.resolve()).then(() => watch(pattern));
  }
};

setInterval(() => {
  grid.sample();
  const s = client.stats;
  $("rate").textContent = String(events);
  events = 0;
  if (latenciesMs.length > 0) {
    const sorted = latenciesMs.sort((a, b) => a - b);
    $("lat-p50").textContent = `${(sorted[sorted.length >> 1] as number).toFixed(1)} ms`;
    $("lat-max").textContent = `${(sorted.at(-1) as number).toFixed(1)} ms`;
    latenciesMs = [];
  }
  $("gaps").textContent = String(s.gaps);
  $("missed").textContent = String(s.missedUpdates);
  $("conflated").textContent = String(s.conflatedEvents);
  $("server-dropped").textContent = s.server === undefined ? "–" : String(s.server.dropped);
  $("reconnects").textContent = String(s.reconnects);
  showLag();
}, 1000);

/**
 * Lag beside latency: the gateway's probe (`client.lagMs`, heartbeat `lag`) and this page's own round
 * trip, whichever is larger. The browser answers the gateway's pings on its network thread, before this
 * script has handled the frames queued ahead of them; a ping request is answered through this script, so
 * its round trip counts the page's own backlog too.
 */
function showLag(): void {
  const now = performance.now();
  const pending = pageLag.sentAt === undefined ? undefined : now - pageLag.sentAt;
  const ownMs = Math.max(pageLag.rttMs ?? 0, pending ?? 0);
  const probeMs = client.lagMs;
  const el = $("lag");
  el.dataset["probe"] = probeMs === undefined ? "" : String(probeMs);
  if (probeMs === undefined && pageLag.rttMs === undefined && pending === undefined) {
    el.textContent = "–";
    el.dataset["high"] = "false";
  } else {
    const lagMs = Math.round(Math.max(probeMs ?? 0, ownMs));
    el.textContent = `${lagMs} ms`;
    el.dataset["high"] = String(lagMs > LAG_HIGH_MS);
  }
  if (pageLag.sentAt === undefined && client.state === "open") {
    const sent = (pageLag.sentAt = now);
    client.ping().then(
      () => (pageLag = { sentAt: undefined, rttMs: performance.now() - sent }),
      () => (pageLag = { sentAt: undefined, rttMs: undefined }),
    );
  }
}

function frame(now: number): void {
  grid.render(now);
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);

const initial = new URLSearchParams(location.search).get("watch");
for (const pattern of initial === null ? DEFAULT_WATCHLIST : toPatterns(initial)) void watch(pattern);
