import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { chromium, type Browser } from "playwright-core";
import { findChromium } from "./helpers/chromium.ts";
import { GatewayChild } from "./helpers/gateway-child.ts";
import { makeTestCertificates, type TestCertificates } from "./helpers/tls.ts";

// Issue 13, tests: "the dashboard over https in Chromium". The gateway serves the page and the stream with a
// certificate from a throw-away CA. Chromium is told to accept exactly that certificate's key with
// --ignore-certificate-errors-spki-list (base64 SHA-256 of its SubjectPublicKeyInfo), which headless
// Chromium honours as a command-line flag; the alternative, importing the CA into an NSS database
// (~/.pki/nssdb, certutil from libnss3-tools), needs one more Debian package and writes into the home
// directory of whoever runs the tests. Any other certificate is still refused (checked below), so the page
// really is served over verified-by-pin TLS, not with certificate checks turned off.

const cellText = (key: string, column: number): string =>
  `document.querySelector('tr[data-key="${key}"]')?.children[${column}]?.textContent ?? ""`;

describe("dashboard over https in headless Chromium (gateway with --tls-cert/--tls-key)", () => {
  const dir = mkdtempSync(join(tmpdir(), "tickwire-dashboard-https-"));
  let certs: TestCertificates;
  let gateway: GatewayChild;
  let browser: Browser;
  before(async () => {
    certs = makeTestCertificates(dir);
    gateway = await GatewayChild.embedded([
      "--demo-rate",
      "400",
      "--tls-cert",
      certs.certPath,
      "--tls-key",
      certs.keyPath,
    ]);
  });
  after(async () => {
    await browser?.close();
    await gateway?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const launch = (spki: string | undefined): Promise<Browser> =>
    chromium.launch({
      executablePath: findChromium(),
      // Root in CI containers: Chromium's sandbox needs user namespaces it may not have.
      args: [
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        ...(spki === undefined ? [] : [`--ignore-certificate-errors-spki-list=${spki}`]),
      ],
    });

  it("the page loads over https and shows live prices over wss", async () => {
    browser = await launch(certs.spkiSha256);
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    const sockets: string[] = [];
    page.on("websocket", (ws) => sockets.push(ws.url()));
    const response = await page.goto(`https://127.0.0.1:${gateway.port}/?watch=xnas.AAPL.quote`);
    assert.equal(response?.status(), 200);
    assert.equal(await page.title(), "tickwire — live dashboard");
    assert.equal((await response?.securityDetails())?.subjectName, "localhost");
    await page.locator('#conn[data-state="open"]').waitFor({ timeout: 20_000 });
    await page.locator('tr[data-key="xnas.AAPL"]').waitFor({ timeout: 20_000 });
    // Prices moving: a bid shows, then a different one.
    const bid = cellText("xnas.AAPL", 1);
    await page.waitForFunction(`(${bid}) !== ""`, undefined, { timeout: 20_000 });
    const first = await page.locator('tr[data-key="xnas.AAPL"] td').nth(1).innerText();
    await page.waitForFunction(`(${bid}) !== "" && (${bid}) !== ${JSON.stringify(first)}`, undefined, {
      timeout: 20_000,
    });
    assert.deepEqual(sockets, [`wss://127.0.0.1:${gateway.port}/v1/stream`]);
    assert.deepEqual(pageErrors, []);
    await page.close();
  });

  it("without the pin Chromium refuses the certificate (the test above is not certificate checks turned off)", async () => {
    const strict = await launch(undefined);
    try {
      const page = await strict.newPage();
      await assert.rejects(page.goto(`https://127.0.0.1:${gateway.port}/`), /ERR_CERT_AUTHORITY_INVALID/);
    } finally {
      await strict.close();
    }
  });
});
