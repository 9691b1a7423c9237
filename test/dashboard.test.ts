import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { chromium, type Browser, type Page } from "playwright-core";
import { GatewayChild } from "./helpers/gateway-child.ts";
import { TcpProxy } from "./helpers/tcp-proxy.ts";
import { findChromium } from "./helpers/chromium.ts";
import { eventually, quote, startStack } from "./helpers/stack.ts";

const ARTIFACTS = new URL("./artifacts/", import.meta.url);

/** Text of a grid cell: column 1 bid, 2 ask, 3 last. */
const cell = (page: Page, key: string, column: number): Promise<string> =>
  page.locator(`tr[data-key="${key}"] td`).nth(column).innerText();

/** Waits until a cell shows a price different from `before` (prices moving live). */
async function priceChanges(page: Page, key: string, column: number, before: string): Promise<void> {
  // Page functions are passed as text: this file is type-checked without the DOM library.
  const current = `document.querySelector('tr[data-key="${key}"]')?.children[${column}]?.textContent ?? ""`;
  await page.waitForFunction(`(${current}) !== "" && (${current}) !== ${JSON.stringify(before)}`, undefined, {
    timeout: 20_000,
  });
}

describe("dashboard in headless Chromium (gateway in embedded mode with the demo feed)", () => {
  let browser: Browser;
  let gateway: GatewayChild;
  let proxy: TcpProxy;
  before(async () => {
    browser = await chromium.launch({
      executablePath: findChromium(),
      // Root in CI containers: Chromium's sandbox needs user namespaces it may not have.
      args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
    });
    gateway = await GatewayChild.embedded(["--demo-rate", "400", "--retry-after-ms", "300"]);
    proxy = await TcpProxy.start(gateway.port);
  });
  after(async () => {
    await browser.close();
    await gateway.stop();
    await proxy.close();
  });

  it("loads from the gateway, shows live prices for symbols typed in, reacts to a gateway restart", async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    // An empty watchlist, so that what shows up comes from the UI.
    await page.goto(`${proxy.httpUrl}/?watch=`);
    assert.equal(await page.title(), "tickwire — live dashboard");
    await page.locator('#conn[data-state="open"]').waitFor();

    await page.locator("#symbols").fill("AAPL");
    await page.locator("#symbols").press("Enter");
    await page.locator('.chip[data-pattern="*.AAPL.>"]').waitFor();
    await page.locator('tr[data-key="xnas.AAPL"]').waitFor();
    await priceChanges(page, "xnas.AAPL", 1, "");
    await priceChanges(page, "xnas.AAPL", 1, await cell(page, "xnas.AAPL", 1));
    assert.match(await cell(page, "xnas.AAPL", 1), /^\d{1,3}(,\d{3})*\.\d{2}$/);

    // maxHz: applied by the gateway (protocol v1.2); the selector shows the rate in force.
    const completed = Number(await page.locator("body").getAttribute("data-subscribed"));
    await page.locator("#maxhz").selectOption("5");
    await page.waitForFunction(`Number(document.body.dataset.subscribed) > ${completed}`, undefined, {
      timeout: 10_000,
    });
    assert.equal(await page.locator("#message").isVisible(), false, "no refusal shown");
    assert.equal(await page.locator("#maxhz").getAttribute("data-applied"), "5");
    await priceChanges(page, "xnas.AAPL", 1, await cell(page, "xnas.AAPL", 1));

    // The gateway restarts (behind a stable address): the indicator shows it, then prices flow again.
    await gateway.stop();
    await page.locator('#conn[data-state="reconnecting"]').waitFor();
    assert.match(await page.locator("#conn").innerText(), /reconnecting in \d+\.\d s/);
    await gateway.restart();
    proxy.targetPort = gateway.port;
    await page.locator('#conn[data-state="open"]').waitFor({ timeout: 20_000 });
    await priceChanges(page, "xnas.AAPL", 1, await cell(page, "xnas.AAPL", 1));
    await page.waitForFunction(`document.getElementById("reconnects").textContent === "1"`);

    // A fuller watchlist for the screenshot (the README shows it).
    await page.locator("#maxhz").selectOption("");
    await page.locator("#symbols").fill("xnas.*.quote xnas.*.trade binance.*.quote binance.*.trade");
    await page.locator("#symbols").press("Enter");
    await page.waitForFunction(`document.querySelectorAll("#rows tr").length >= 20`, undefined, {
      timeout: 20_000,
    });
    await page.waitForTimeout(4000); // let sparklines gather a few points: cosmetic, asserts nothing
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL("dashboard.png", ARTIFACTS).pathname });
    assert.deepEqual(pageErrors, []);
    await page.close();
  });

  it("the default watchlist's subscribes, sent back to back, show no gap on first load (issue 10 §0)", async () => {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    // The default watchlist: one subscribe per pattern, in flight together, racing the demo feed.
    await page.goto(`${proxy.httpUrl}/`);
    await page.locator('#conn[data-state="open"]').waitFor();
    await page.waitForFunction(`document.querySelectorAll("#rows tr").length >= 5`, undefined, {
      timeout: 20_000,
    });
    const rows = await page.locator("#rows tr").count();
    for (let i = 0; i < Math.min(rows, 5); i++) {
      const key = (await page.locator("#rows tr").nth(i).getAttribute("data-key")) ?? "";
      await priceChanges(page, key, 1, await cell(page, key, 1));
    }
    // A duplicate or backwards q at the snapshot seam is counted by the SDK as a gap and shown here.
    assert.equal(await page.locator("#gaps").innerText(), "0");
    assert.equal(await page.locator("#missed").innerText(), "0");
    assert.deepEqual(pageErrors, []);
    await page.close();
  });

  it("shows lag beside latency: the gateway's probe figure once heartbeats arrive, red when the page's own backlog passes 1000 ms", async () => {
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(`${proxy.httpUrl}/?watch=xnas.*.quote`);
    await page.locator('#conn[data-state="open"]').waitFor();
    // The gateway runs its lag probes by default: heartbeats carry lag, which the page shows in ms.
    await page.waitForFunction(`/^\\d+$/.test(document.getElementById("lag").dataset.probe)`, undefined, {
      timeout: 20_000,
    });
    await page.waitForFunction(`/^\\d+ ms$/.test(document.getElementById("lag").textContent)`, undefined, {
      timeout: 20_000,
    });
    const shown = Number((await page.locator("#lag").innerText()).replace(" ms", ""));
    assert.equal(await page.locator("#lag").getAttribute("data-high"), String(shown > 1000));

    // The page's script falls behind (blocked 1.2 s at a time): Chromium still answers the gateway's
    // pings, but the page's own request round trip counts the backlog, and the figure turns red.
    await page.evaluate(`window.busy = setInterval(() => {
      const until = performance.now() + 1200;
      while (performance.now() < until) {}
    }, 10)`);
    await page.waitForFunction(`document.getElementById("lag").dataset.high === "true"`, undefined, {
      timeout: 30_000,
    });
    assert.ok(Number((await page.locator("#lag").innerText()).replace(" ms", "")) > 1000);
    await page.evaluate(`clearInterval(window.busy)`);
    assert.deepEqual(pageErrors, []);
    await page.close();
  });

  it("serves the SDK as one ES module that a page can import", async () => {
    const page = await browser.newPage();
    await page.goto(`${proxy.httpUrl}/?watch=`);
    const exported = await page.evaluate<string[]>(`import("/client.js").then((sdk) => Object.keys(sdk))`);
    for (const name of ["connect", "RequestRefusedError", "ErrorCode", "EventFlag"])
      assert.ok(exported.includes(name), name);
    const response = await page.request.get(`${proxy.httpUrl}/client.js`);
    assert.match(response.headers()["content-type"] ?? "", /^text\/javascript/);
    await page.close();
  });
});

describe("dashboard and the feed state (issue 10 §2), headless Chromium", () => {
  it("greys prices out and says so while the gateway's feed is down, and not once it is back", async () => {
    const browser = await chromium.launch({
      executablePath: findChromium(),
      args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
    });
    const stack = await startStack({ nats: { reconnectWaitMs: 100 } });
    try {
      const page = await browser.newPage();
      await page.goto(`${stack.httpUrl}/?watch=xnas.AAPL.quote`);
      await page.locator('#conn[data-state="open"]').waitFor();
      await eventually(async () => {
        stack.publish("xnas.AAPL.quote", quote(101));
        return (await page.locator('tr[data-key="xnas.AAPL"]').count()) > 0;
      }, "the AAPL row");
      // The DOM's getComputedStyle, typed here (the test's own lib has no DOM).
      type Styled = { getComputedStyle(element: unknown): { opacity: string } };
      const opacity = (): Promise<string> =>
        page
          .locator('tr[data-key="xnas.AAPL"] td')
          .nth(1)
          .evaluate((td) => (globalThis as unknown as Styled).getComputedStyle(td).opacity);
      assert.equal(await opacity(), "1");
      assert.equal(await page.locator("#feed").isVisible(), false);

      await stack.nats.stop();
      await page.locator('body[data-feed="down"]').waitFor({ timeout: 15_000 });
      assert.equal(await page.locator("#feed").isVisible(), true);
      assert.equal(await opacity(), "0.45", "prices greyed out");

      await stack.nats.restart();
      await page.locator('body[data-feed="up"]').waitFor({ timeout: 20_000 });
      assert.equal(await page.locator("#feed").isVisible(), false);
      // The AAPL value is from before the outage until it updates: a second page (while the first keeps the
      // topic watched, so the gateway still holds its value: protocol v1.4) gets it as a STALE snapshot.
      const second = await browser.newPage();
      await second.goto(`${stack.httpUrl}/?watch=xnas.AAPL.quote`);
      await second.locator('tr[data-key="xnas.AAPL"].stale').waitFor();
      await eventually(
        async () => {
          stack.publish("xnas.AAPL.quote", quote(102));
          return (await second.locator('tr[data-key="xnas.AAPL"].stale').count()) === 0;
        },
        "a live value to clear the STALE row",
        15_000,
      );
      await second.close();
      await page.close();
    } finally {
      await browser.close();
      await stack.close();
    }
  });
});
