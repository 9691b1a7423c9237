import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { TempDir } from "../src/auth/auth.test-support.ts";
import { mintTestToken, type Grants } from "../src/auth/index.ts";
import { CliProcess } from "./helpers/process.ts";
import { eventually, natsSubscriptionsOfGateway, quote, startStack, type Stack } from "./helpers/stack.ts";

// Issue 13 §5 and §10: the Python client refreshes its token on the open connection (`auth` again, protocol
// v1.10), as the SDK does: automatically from get_token before exp, or when told with refresh_token(token).
// Tokens are minted by this test (src/auth mintTestToken) and handed to the Python process over its stdin
// whenever it asks for one ("token?" on stdout), so the Python side needs no JWT library.

const CLIENT = fileURLToPath(new URL("../clients/python/", import.meta.url));

const SCRIPT = `
import asyncio, os, sys, time
from tickwire_client import Authenticated, DataEvent, Disconnected, TickwireClient, TickwireError

async def ask_token():
    print("token?", flush=True)
    return (await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)).strip()

async def auto():
    first_exp = None
    auths = 0
    async with TickwireClient(os.environ["TW_URL"], ["xnas.AAPL.quote"], get_token=ask_token,
                              refresh_before_expiry_s=2.0) as client:
        async for event in client:
            if isinstance(event, Authenticated):
                auths += 1
                first_exp = first_exp or event.exp
                print("auth", event.cause, event.sub, event.exp, flush=True)
            elif isinstance(event, Disconnected):
                print("disconnected", event.code, event.reason, flush=True)
                return
            elif isinstance(event, DataEvent) and not event.snapshot and auths >= 3 and time.time() > first_exp + 0.5:
                # Past the first token's exp (the gateway closes an unrefreshed connection within 100 ms).
                print("event after exp", event.fields["bp"], "reconnects", client.stats.reconnects, flush=True)
                return

async def manual():
    first = await ask_token()
    async with TickwireClient(os.environ["TW_URL"], ["xnas.AAPL.quote", "xnas.MSFT.quote"], token=first) as client:
        async for event in client:
            if isinstance(event, Authenticated) and event.cause == "connect":
                print("auth connect", event.sub, sorted(event.grants["topics"]), flush=True)
                # Both subscribes are answered once a ping is (requests are answered in order).
                await client.ping()
                narrower = await client.refresh_token(await ask_token())
                print("refreshed removed", list(narrower.removed), "patterns", list(client.patterns), flush=True)
                try:
                    await client.refresh_token(await ask_token())
                except TickwireError as error:
                    print("refused", error.code, str(error), flush=True)
                print("ready", flush=True)
            elif isinstance(event, DataEvent) and not event.snapshot:
                print("event", event.topic, flush=True)
                return

asyncio.run(auto() if sys.argv[1] == "auto" else manual())
`;

/** The Python client as a real process; each "token?" it prints is answered with `next()`'s token. */
function python(mode: "auto" | "manual", url: string, next: () => Promise<string>): CliProcess {
  const child = spawn("/usr/bin/python3", ["-c", SCRIPT, mode], {
    env: { ...process.env, PYTHONPATH: CLIENT, PYTHONDONTWRITEBYTECODE: "1", TW_URL: url },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const py = new CliProcess(child);
  createInterface({ input: child.stdout }).on("line", (line) => {
    if (line === "token?") void next().then((token) => child.stdin.write(`${token}\n`));
  });
  return py;
}

describe("Python client token refresh on an open connection (--auth jwt)", () => {
  const secret = Buffer.from(randomBytes(32).toString("hex"));
  const dir = new TempDir();
  const secretFile = dir.file("jwt.secret", secret);
  let stack: Stack;
  before(async () => {
    stack = await startStack({ auth: { mode: "jwt", jwtSecretFile: secretFile, jwtClockToleranceMs: 0 } });
  });
  after(async () => {
    await stack.close();
    dir.remove();
  });

  const mint = (sub: string, grants: Grants, ttlMs = 3_600_000): Promise<string> =>
    mintTestToken({ secret, sub, grants, ttlMs });

  it("get_token: refreshed before exp on the same connection (no reconnect); events flow past the first exp", async () => {
    let minted = 0;
    // 3 s tokens refreshed 2 s before exp: a refresh about 1 s after each auth.
    const py = python("auto", stack.wsUrl, () => {
      minted++;
      return mint("py-refresher", { topics: ["xnas.>"] }, 3000);
    });
    try {
      await eventually(
        async () => {
          if (py.child.exitCode === null) await stack.publishAndFlush("xnas.AAPL.quote", quote(300));
          return py.child.exitCode !== null;
        },
        `the Python client to exit (stdout: ${py.stdout}, stderr: ${py.stderr})`,
        20_000,
      );
      assert.deepEqual(await py.exit(), { code: 0, signal: null }, py.stderr);
      assert.doesNotMatch(py.stdout, /disconnected/);
      assert.match(py.stdout, /^event after exp 300 reconnects 0$/m);
      const auths = py.stdout.split("\n").filter((l) => l.startsWith("auth "));
      assert.match(auths[0] ?? "", /^auth connect py-refresher \d+$/);
      assert.ok(auths.length >= 3, py.stdout);
      for (const line of auths.slice(1)) assert.match(line, /^auth refresh py-refresher \d+$/);
      assert.ok(minted >= 3);
    } finally {
      py.child.kill();
      await py.exited;
    }
  });

  it("refresh_token(token): narrower grants drop a pattern at once; another sub is refused, the connection stays", async () => {
    const tokens = [
      mint("py-manual", { topics: ["xnas.>"] }),
      mint("py-manual", { topics: ["xnas.AAPL.quote"] }),
      mint("someone-else", { topics: ["xnas.>"] }),
    ];
    const py = python("manual", stack.wsUrl, () => tokens.shift() ?? Promise.resolve("no-more-tokens"));
    try {
      await eventually(() => py.stdout.includes("ready\n"), `refreshes done (stderr: ${py.stderr})`, 15_000);
      assert.match(py.stdout, /^auth connect py-manual \['xnas\.>'\]$/m);
      assert.match(
        py.stdout,
        /^refreshed removed \['xnas\.MSFT\.quote'\] patterns \['xnas\.AAPL\.quote'\]$/m,
      );
      assert.match(py.stdout, /^refused 4001 auth refused with 4001 UNAUTHORISED: .*sub differs/m);
      // The gateway dropped the removed pattern's NATS interest; the connection still delivers.
      await eventually(
        async () => !(await natsSubscriptionsOfGateway(stack.nats)).includes("md.xnas.MSFT.quote"),
        "the removed pattern's interest to go",
      );
      await eventually(
        async () => {
          if (py.child.exitCode === null) await stack.publishAndFlush("xnas.AAPL.quote", quote(301));
          return py.child.exitCode !== null;
        },
        `the Python client to exit (stderr: ${py.stderr})`,
        15_000,
      );
      assert.deepEqual(await py.exit(), { code: 0, signal: null }, py.stderr);
      assert.match(py.stdout, /^event xnas\.AAPL\.quote$/m);
    } finally {
      py.child.kill();
      await py.exited;
    }
  });
});
