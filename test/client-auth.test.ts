import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { TempDir } from "../src/auth/auth.test-support.ts";
import { mintTestToken, type Grants } from "../src/auth/index.ts";
import { AuthRefusedError, connect, type AuthResult, type StateChange } from "../src/client/index.ts";
import { CliProcess } from "./helpers/process.ts";
import { eventually, quote, startStack, type Stack } from "./helpers/stack.ts";

// Issue 13 §10: the SDK's token / getToken, refresh before exp, no reconnect loop on a refused token;
// `tickwire token` and `tickwire tail --token-file` against a gateway running --auth jwt.

const secret = Buffer.from(randomBytes(32).toString("hex"));
const dir = new TempDir();
const secretFile = dir.file("jwt.secret", secret);
const GRANTS: Grants = { topics: ["xnas.>"] };

const token = (sub: string, ttlMs = 3_600_000): Promise<string> =>
  mintTestToken({ secret, sub, grants: GRANTS, ttlMs });

describe("clients with tokens against --auth jwt", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      auth: { mode: "jwt", jwtSecretFile: secretFile, jwtClockToleranceMs: 0 },
    });
  });
  after(async () => {
    await stack.close();
    dir.remove();
  });

  it("SDK with getToken: auth goes first, the subscription delivers, getToken is called once", async () => {
    let calls = 0;
    const client = connect(stack.wsUrl, {
      getToken: async () => {
        calls++;
        return token("sdk-user");
      },
    });
    const auths: AuthResult[] = [];
    client.on("auth", (a) => auths.push(a));
    try {
      const sub = await client.subscribe(["xnas.AAPL.quote", "xlon.VOD.quote"], { snapshot: false });
      assert.deepEqual(sub.subscribed, ["xnas.AAPL.quote"]);
      assert.deepEqual(
        sub.errors.map((e) => e.code),
        [4003],
      );
      const got = new Promise<void>((resolve) => client.on("quote", () => resolve()));
      await eventually(async () => {
        await stack.publishAndFlush("xnas.AAPL.quote", quote(100));
        return client.stats.eventsReceived > 0;
      }, "a quote through the SDK");
      await got;
      assert.equal(calls, 1);
      assert.equal(auths[0]?.sub, "sdk-user");
    } finally {
      await client.close();
    }
  });

  it("SDK refreshes before exp on the same connection (auth twice, no reconnect)", async () => {
    let calls = 0;
    const client = connect(stack.wsUrl, {
      // 2 s tokens refreshed 1.5 s before exp: the refresh comes about 0.5 s after each auth.
      getToken: async () => {
        calls++;
        return token("refresher", 2000);
      },
      refreshBeforeExpiryMs: 1500,
    });
    const states: StateChange[] = [];
    client.on("state", (s) => states.push(s));
    const auths: AuthResult[] = [];
    try {
      await new Promise<void>((resolve) =>
        client.on("auth", (a) => {
          auths.push(a);
          if (auths.length === 3) resolve();
        }),
      );
      assert.ok(calls >= 3);
      assert.equal(client.stats.reconnects, 0);
      assert.ok(!states.some((s) => s.state === "reconnecting"), JSON.stringify(states));
    } finally {
      await client.close();
    }
  });

  it("SDK with a refused fixed token stops with AuthRefusedError instead of reconnecting", async () => {
    const bad = await mintTestToken({ secret: randomBytes(32), sub: "x", grants: GRANTS });
    const client = connect(stack.wsUrl, { token: bad });
    const errors: Error[] = [];
    client.on("error", (e) => errors.push(e));
    const states: string[] = [];
    const closed = new Promise<void>((resolve) =>
      client.on("state", (s) => {
        states.push(s.state);
        if (s.state === "closed") resolve();
      }),
    );
    await assert.rejects(client.subscribe(["xnas.AAPL.quote"]));
    await closed;
    assert.ok(errors[0] instanceof AuthRefusedError, String(errors[0]));
    assert.equal(errors[0].reason, "bad_signature");
    assert.ok(!states.includes("reconnecting"), states.join(","));
  });

  it("SDK with getToken: a 4001 close (no token in time) reconnects with a token instead of stopping", async () => {
    // Since issue 10 the SDK stops on closes that recur (4001 among them); with a token source the token
    // keeper decides instead: a new token may help, so the client reconnects and authenticates.
    const quick = await startStack({
      auth: { mode: "jwt", jwtSecretFile: secretFile, authTimeoutMs: 300 },
    });
    let calls = 0;
    const client = connect(quick.wsUrl, {
      initialDelayMs: 50,
      getToken: async () => {
        calls++;
        // The first token comes after the gateway's auth timeout: that connection is closed with 4001.
        if (calls === 1) await new Promise((resolve) => setTimeout(resolve, 1000));
        return token("late");
      },
    });
    const states: StateChange[] = [];
    client.on("state", (s) => states.push(s));
    const errors: Error[] = [];
    client.on("error", (e) => errors.push(e));
    try {
      // Whichever comes first: the auth result, or the client stopping (the failure this test guards).
      const outcome = await new Promise<AuthResult | "closed">((resolve) => {
        client.on("auth", resolve);
        client.on("state", (s) => {
          if (s.state === "closed") resolve("closed");
        });
      });
      assert.notEqual(outcome, "closed", `client stopped: ${errors.map(String).join("; ")}`);
      assert.equal((outcome as AuthResult).sub, "late");
      assert.ok(
        states.some((s) => s.state === "reconnecting" && s.disconnect?.code === 4001),
        JSON.stringify(states),
      );
      assert.deepEqual(errors, []);
      assert.equal(client.state, "open");
    } finally {
      await client.close();
      await quick.close();
    }
  });

  it("SDK with a token against a gateway running --auth none carries on without one", async () => {
    const open = await startStack();
    const client = connect(open.wsUrl, { token: await token("anyone") });
    const errors: Error[] = [];
    client.on("error", (e) => errors.push(e));
    try {
      const sub = await client.subscribe(["xlon.VOD.quote"], { snapshot: false });
      assert.deepEqual(sub.subscribed, ["xlon.VOD.quote"]);
      assert.equal(client.state, "open");
      assert.deepEqual(errors, []);
    } finally {
      await client.close();
      await open.close();
    }
  });

  it("tickwire token mints a token that tickwire tail --token-file uses", async () => {
    const mint = CliProcess.run([
      "token",
      "--jwt-secret-file",
      secretFile,
      "--sub",
      "tail-user",
      "--topic",
      "xnas.>",
    ]);
    assert.deepEqual(await mint.exit(), { code: 0, signal: null }, mint.stderr);
    const minted = mint.stdout.trim();
    assert.match(minted, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    const tokenFile = dir.file("tail.token", minted + "\n");
    const tail = CliProcess.run([
      "tail",
      "xnas.MSFT.quote",
      "--url",
      stack.wsUrl,
      "--count",
      "1",
      "--token-file",
      tokenFile,
    ]);
    let price = 200;
    await eventually(
      async () => {
        if (tail.child.exitCode === null) await stack.publishAndFlush("xnas.MSFT.quote", quote(price++));
        return tail.child.exitCode !== null;
      },
      `tail to exit; stderr: ${tail.stderr}`,
      15_000,
    );
    assert.deepEqual(await tail.exit(), { code: 0, signal: null }, tail.stderr);
    assert.match(tail.stdout, /xnas\.MSFT\.quote/);
  });
});
