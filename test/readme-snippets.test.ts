import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { chromium, type Browser, type Page } from "playwright-core";
import { mintTestToken } from "../src/auth/index.ts";
import { GatewayChild } from "./helpers/gateway-child.ts";
import { findChromium } from "./helpers/chromium.ts";

/**
 * The README's JavaScript and HTML snippets run as written against a live gateway (embedded mode, demo feed);
 * the one change is the gateway's address (`127.0.0.1:9000`, or `wss://md.example.com` for the getToken one),
 * here the test gateway's free port. The getToken snippet, a fragment, gets the SDK's import before it and a
 * subscribe after it. The TLS (`ts`) snippet runs in test/tls-clients.test.ts, against a test CA.
 */
const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");

/** The first ```js block after `marker` in the README. */
function snippetAfter(marker: string): string {
  const start = readme.indexOf(marker);
  assert.ok(start >= 0, `README has "${marker}"`);
  const code = /```js\n([\s\S]*?)```/.exec(readme.slice(start))?.[1];
  assert.ok(code !== undefined, `a js block after "${marker}"`);
  assert.ok(code.includes("127.0.0.1:9000"), "the snippet names the README's gateway address");
  return code;
}

/** The first fenced block of `language` after `marker` in the README. */
function blockAfter(marker: string, language: string): string {
  const start = readme.indexOf(marker);
  assert.ok(start >= 0, `README has "${marker}"`);
  const code = new RegExp("```" + language + "\\n([\\s\\S]*?)```").exec(readme.slice(start))?.[1];
  assert.ok(code !== undefined, `a ${language} block after "${marker}"`);
  return code;
}

/** Console lines of `page`, as text, collected as they come. */
function consoleLines(page: Page): string[] {
  const lines: string[] = [];
  page.on("console", (message) => lines.push(message.text()));
  return lines;
}

/** Polls until `done` holds; fails after `timeoutMs` with `what()` (called then, so it can show the state). */
async function until(done: () => boolean, what: () => string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    assert.ok(Date.now() < deadline, `${what()} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("README snippets (run as written against a gateway)", () => {
  let gateway: GatewayChild;
  let browser: Browser;
  let otherOrigin: Server;
  let otherOriginUrl: string;
  before(async () => {
    gateway = await GatewayChild.embedded(["--demo-rate", "2000"]);
    browser = await chromium.launch({
      executablePath: findChromium(),
      args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
    });
    otherOrigin = createServer((_, res) =>
      res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>another site</title>"),
    );
    await new Promise<void>((resolve) => otherOrigin.listen(0, "127.0.0.1", resolve));
    const address = otherOrigin.address();
    otherOriginUrl = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}/`;
  });
  after(async () => {
    await browser?.close();
    await gateway?.stop();
    await new Promise((resolve) => otherOrigin?.close(resolve));
  });

  const local = (code: string): string => code.replaceAll("127.0.0.1:9000", `127.0.0.1:${gateway.port}`);

  it("the browser snippet logs every event, batched arrays included", async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${gateway.httpUrl}/?watch=`);
      const logged: unknown[] = [];
      page.on("console", (message) => {
        const first = message.args()[0];
        // A message still being read when the page closes has nothing left to read: ignored.
        if (first !== undefined)
          void first.jsonValue().then(
            (value: unknown) => logged.push(value),
            () => 0,
          );
      });
      await page.evaluate(local(snippetAfter("**Browser**")));
      const events = (): Record<string, unknown>[] =>
        logged.filter((v): v is Record<string, unknown> => typeof v === "object" && v !== null && "e" in v);
      const deadline = Date.now() + 20_000;
      while (events().filter((e) => e["e"] === "quote").length < 50 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const quotes = events().filter((e) => e["e"] === "quote");
      assert.ok(quotes.length >= 50, `${quotes.length} quotes logged`);
      assert.ok(quotes.every((q) => String(q["t"]).startsWith("xnas.") && String(q["t"]).endsWith(".quote")));
      assert.equal(logged.filter(Array.isArray).length, 0, "arrays are logged event by event, not as arrays");
    } finally {
      await page.close();
    }
  });

  it("the <script type=module> snippet, in a page the gateway's origin serves, logs its states and quotes", async () => {
    const html = blockAfter("pages use callbacks:", "html");
    assert.ok(html.includes('<script type="module">') && html.includes('from "/client.js"'), html);
    const page = await browser.newPage();
    try {
      const lines = consoleLines(page);
      // The page is the snippet as written, in a document of the gateway's origin (its /client.js, shown as
      // text, runs nothing): `location.host`, /client.js and the WebSocket are the gateway's. A document the
      // test answered itself (page.route) would count as public and Chromium's local network access checks
      // would block its WebSocket to 127.0.0.1.
      await page.goto(`${gateway.httpUrl}/client.js`);
      await page.setContent(`<!doctype html>\n${html}`);
      const quotes = (): string[] => lines.filter((l) => /^xnas\.[^. ]+\.quote \d/.test(l));
      await until(
        () => quotes().length >= 10,
        () => `10 quotes logged (console: ${lines.slice(0, 10).join(" | ")})`,
      );
      assert.ok(
        lines.some((l) => l.startsWith("open")),
        `a state line: ${lines.slice(0, 5).join(" | ")}`,
      );
      assert.ok(!lines.some((l) => l.includes("undefined")), lines.slice(0, 20).join("\n"));
    } finally {
      await page.close();
    }
  });

  it("the getToken snippet, in a page whose site hands out tokens, authenticates and subscribes", async () => {
    const code = blockAfter("For a gateway running `--auth jwt`", "js");
    assert.ok(code.includes('fetch("/api/tickwire-token")') && code.includes("wss://md.example.com"), code);
    const secret = Buffer.from(randomBytes(32).toString("hex"));
    const dir = mkdtempSync(join(tmpdir(), "tickwire-readme-auth-"));
    const secretFile = join(dir, "jwt.secret");
    writeFileSync(secretFile, secret, { mode: 0o600 });
    const authGateway = await GatewayChild.embedded([
      "--demo-rate",
      "500",
      "--auth",
      "jwt",
      "--jwt-secret-file",
      secretFile,
    ]);
    let tokensServed = 0;
    // The site of the page: its own /api/tickwire-token, as the snippet assumes.
    const site = createServer((req, res) => {
      if (req.url === "/api/tickwire-token") {
        tokensServed++;
        void mintTestToken({ secret, sub: "readme", grants: { topics: ["xnas.>"] } }).then((token) =>
          res.writeHead(200, { "content-type": "text/plain" }).end(token),
        );
        return;
      }
      res
        .writeHead(200, { "content-type": "text/html" })
        .end(
          '<!doctype html>\n<script type="module">\n' +
            `import { connect } from ${JSON.stringify(`${authGateway.httpUrl}/client.js`)};\n` +
            code.replace("wss://md.example.com", `ws://127.0.0.1:${authGateway.port}`) +
            'client.subscribe(["xnas.*.quote"]).then((r) => console.log("subscribed", JSON.stringify(r)));\n' +
            'client.on("quote", (q) => console.log("quote", q.t));\n' +
            "</script>\n",
        );
    });
    await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", resolve));
    const address = site.address();
    const page = await browser.newPage();
    try {
      const lines = consoleLines(page);
      await page.goto(
        `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}/`,
      );
      await until(
        () => lines.filter((l) => l.startsWith("quote xnas.")).length >= 5,
        () => `5 quotes after auth (console: ${lines.slice(0, 10).join(" | ")})`,
      );
      assert.ok(
        lines.some((l) => l.startsWith("subscribed")),
        lines.slice(0, 10).join("\n"),
      );
      assert.ok(tokensServed >= 1, "the token came from the site's /api/tickwire-token");
      assert.ok(
        !lines.some((l) => l.includes("no longer entitled")),
        "a token covering the topics removed none",
      );
    } finally {
      await page.close();
      await new Promise((resolve) => site.close(resolve));
      await authGateway.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("/client.js can be imported by a page of another origin (CORS)", async () => {
    const page = await browser.newPage();
    try {
      await page.goto(otherOriginUrl);
      const exported = await page.evaluate<string[]>(
        `import(${JSON.stringify(`${gateway.httpUrl}/client.js`)}).then((sdk) => Object.keys(sdk))`,
      );
      assert.ok(exported.includes("connect"), exported.join(","));
      const response = await fetch(`${gateway.httpUrl}/client.js`);
      assert.equal(response.headers.get("access-control-allow-origin"), "*");
      assert.equal(response.headers.get("cache-control"), "no-cache");
      const dashboard = await fetch(`${gateway.httpUrl}/dashboard.js`);
      assert.equal(
        dashboard.headers.get("access-control-allow-origin"),
        null,
        "the dashboard stays same-origin",
      );
    } finally {
      await page.close();
    }
  });

  it("the Node snippet, saved as stream.mjs as the README says, prints trades", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tickwire-readme-node-"));
    try {
      // `npm i ws msgpackr`: the project's own copies.
      symlinkSync(new URL("../node_modules", import.meta.url).pathname, join(dir, "node_modules"));
      writeFileSync(join(dir, "stream.mjs"), local(snippetAfter("**Node**")));
      const child = spawn(process.execPath, ["stream.mjs"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
      const exited = new Promise((resolve) => child.once("exit", resolve));
      try {
        const trades = (): Record<string, unknown>[] =>
          stdout
            .split("\n")
            .filter((line) => line.startsWith("{"))
            .map((line) => JSON.parse(line) as Record<string, unknown>)
            .filter((e) => e["e"] === "trade");
        const deadline = Date.now() + 20_000;
        while (trades().length < 10 && Date.now() < deadline && child.exitCode === null) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.ok(trades().length >= 10, `stdout:\n${stdout.slice(0, 2000)}\nstderr:\n${stderr}`);
        assert.ok(trades().every((t) => /^binance\.[^.]+\.trade$/.test(String(t["t"]))));
      } finally {
        child.kill();
        await exited;
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
