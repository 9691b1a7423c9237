import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { GatewayChild } from "./helpers/gateway-child.ts";

const root = fileURLToPath(new URL("../", import.meta.url));

/** Runs a command to completion; its output on failure. */
async function run(command: string, args: readonly string[], cwd: string): Promise<string> {
  const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  assert.equal(code, 0, `${command} ${args.join(" ")} in ${cwd}:\n${out}`);
  return out;
}

/**
 * The SDK as a package another project installs: built (scripts/build-client-package.ts), packed with
 * `npm pack`, installed from the tarball into a fresh project offline (no registry), type-checked there and
 * run: the package README's snippet, as written but for the gateway's port.
 */
describe("the SDK package (clients/typescript): npm pack, npm install ./tarball, import", () => {
  let tmp: string;
  let gateway: GatewayChild;
  let app: string;
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "tickwire-client-package-"));
    gateway = await GatewayChild.embedded(["--demo-rate", "500"]);
    const pkg = join(tmp, "pkg");
    mkdirSync(pkg);
    await run(
      process.execPath,
      ["--import", "tsx", join(root, "scripts/build-client-package.ts"), pkg],
      root,
    );
    await run("npm", ["pack", "--pack-destination", tmp], pkg);
    // Node 20 needs ws (an optional peer): packed from this project's copy, as `npm i ws` would fetch it.
    await run("npm", ["pack", join(root, "node_modules/ws"), "--pack-destination", tmp], tmp);
    app = join(tmp, "app");
    mkdirSync(app);
    writeFileSync(
      join(app, "package.json"),
      JSON.stringify({ name: "app", version: "1.0.0", private: true }),
    );
    const tarballs = readdirSync(tmp).filter((f) => f.endsWith(".tgz"));
    assert.deepEqual(tarballs.sort(), ["tickwire-client-0.1.0.tgz", "ws-8.23.0.tgz"]);
    await run(
      "npm",
      ["install", "--offline", "--no-audit", "--no-fund", ...tarballs.map((t) => join(tmp, t))],
      app,
    );
  });
  after(async () => {
    await gateway?.stop();
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });

  it("the tarball holds the built module, its types and the README, and declares no runtime dependency", () => {
    const installed = join(app, "node_modules/@tickwire/client");
    const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8")) as Record<
      string,
      unknown
    >;
    assert.equal(manifest["version"], "0.1.0");
    assert.equal(manifest["dependencies"], undefined, "msgpackr is bundled");
    for (const file of ["dist/index.js", "dist/index.d.ts", "dist/types/client/index.d.ts", "README.md"]) {
      assert.ok(readFileSync(join(installed, file), "utf8").length > 0, file);
    }
  });

  it("its types check in a strict TypeScript project", async () => {
    writeFileSync(
      join(app, "check.mts"),
      [
        'import { connect, RequestRefusedError, type ClientOptions } from "@tickwire/client";',
        'const options: ClientOptions = { heartbeatMs: 1000, encoding: "json" };',
        'const client = connect("ws://127.0.0.1:9000/v1/stream", options);',
        'const sub = await client.subscribe(["xnas.AAPL.quote"]);',
        "for await (const ev of sub) {",
        '  if (ev.e === "quote") { const bid: number = ev.bp; void bid; }',
        "}",
        "const refused: unknown = RequestRefusedError;",
        "void refused;",
        "",
      ].join("\n"),
    );
    // A browser-side project: DOM types, no Node types (the SDK's declarations must not need them).
    const compilerOptions = {
      noEmit: true,
      strict: true,
      exactOptionalPropertyTypes: true,
      target: "es2022",
      module: "nodenext",
      moduleResolution: "nodenext",
      lib: ["es2023", "dom"],
      types: [],
    };
    writeFileSync(join(app, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["check.mts"] }));
    await run(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], app);
  });

  for (const [readmePath, marker] of [
    ["clients/typescript/README.md", "# @tickwire/client"],
    ["README.md", "pages use callbacks:"],
  ] as const) {
    it(`the js snippet of ${readmePath} runs in the fresh project and streams quotes`, async () => {
      await runSnippet(readmePath, marker);
    });
  }

  async function runSnippet(readmePath: string, marker: string): Promise<void> {
    const readme = readFileSync(join(root, readmePath), "utf8");
    const snippet = /```js\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf(marker)))?.[1] ?? "";
    assert.ok(snippet.includes('from "@tickwire/client"'), "the README has a js snippet using the package");
    assert.ok(snippet.includes("127.0.0.1:9000"), "the snippet names the README's gateway address");
    writeFileSync(join(app, "app.mjs"), snippet.replaceAll("127.0.0.1:9000", `127.0.0.1:${gateway.port}`));
    const child = spawn(process.execPath, ["app.mjs"], { cwd: app, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      const lines = (): string[] => stdout.split("\n").filter((l) => l.startsWith("xnas.AAPL.quote "));
      const deadline = Date.now() + 20_000;
      while (lines().length < 3 && Date.now() < deadline && child.exitCode === null) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(lines().length >= 3, `stdout:\n${stdout}\nstderr:\n${stderr}`);
    } finally {
      child.kill();
      await exited;
    }
  }
});
