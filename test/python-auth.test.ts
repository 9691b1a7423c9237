import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { TempDir } from "../src/auth/auth.test-support.ts";
import { mintTestToken } from "../src/auth/index.ts";
import { CliProcess } from "./helpers/process.ts";
import { eventually, natsSubscriptionsOfGateway, quote, startStack, type Stack } from "./helpers/stack.ts";

// Issue 13 §10: the Python client (clients/python) with a token against a gateway running --auth jwt.

const CLIENT = fileURLToPath(new URL("../clients/python/", import.meta.url));
const SCRIPT = `
import asyncio, os, sys
from tickwire_client import DataEvent, TickwireClient, TickwireError

async def main():
    calls = 0
    def get_token():
        nonlocal calls
        calls += 1
        return os.environ["TW_TOKEN"]
    kind = sys.argv[1]
    options = {"get_token": get_token} if kind == "get_token" else {"token": os.environ["TW_TOKEN"]}
    try:
        async with TickwireClient(os.environ["TW_URL"], ["xnas.AAPL.quote"], **options) as client:
            async for event in client:
                if isinstance(event, DataEvent):
                    print("event", event.topic, "get_token calls", calls, flush=True)
                    return
    except TickwireError as error:
        print("refused", error.code, flush=True)
        sys.exit(3)

asyncio.run(main())
`;

function python(kind: string, url: string, token: string): CliProcess {
  const env = {
    ...process.env,
    PYTHONPATH: CLIENT,
    PYTHONDONTWRITEBYTECODE: "1",
    TW_URL: url,
    TW_TOKEN: token,
  };
  return new CliProcess(
    spawn("/usr/bin/python3", ["-c", SCRIPT, kind], { env, stdio: ["ignore", "pipe", "pipe"] }),
  );
}

describe("Python client with a token against --auth jwt", () => {
  const secret = Buffer.from(randomBytes(32).toString("hex"));
  const dir = new TempDir();
  const secretFile = dir.file("jwt.secret", secret);
  let stack: Stack;
  before(async () => {
    stack = await startStack({ auth: { mode: "jwt", jwtSecretFile: secretFile } });
  });
  after(async () => {
    await stack.close();
    dir.remove();
  });

  it("get_token: auth first, the subscription delivers, get_token called once", async () => {
    const token = await mintTestToken({ secret, sub: "py", grants: { topics: ["xnas.>"] } });
    const py = python("get_token", stack.wsUrl, token);
    await eventually(
      async () => (await natsSubscriptionsOfGateway(stack.nats)).includes("md.xnas.AAPL.quote"),
      `the Python client's subscription (stderr: ${py.stderr})`,
      15_000,
    );
    await eventually(
      async () => {
        if (py.child.exitCode === null) await stack.publishAndFlush("xnas.AAPL.quote", quote(101));
        return py.child.exitCode !== null;
      },
      `the Python client to exit (stderr: ${py.stderr})`,
      15_000,
    );
    assert.deepEqual(await py.exit(), { code: 0, signal: null }, py.stderr);
    assert.match(py.stdout, /event xnas\.AAPL\.quote get_token calls 1/);
  });

  it("a token sent to a gateway running --auth none is not needed: the client carries on", async () => {
    const open = await startStack();
    try {
      const py = python("token", open.wsUrl, "not.needed.here");
      await eventually(
        async () => {
          if (py.child.exitCode === null) await open.publishAndFlush("xnas.AAPL.quote", quote(102));
          return py.child.exitCode !== null;
        },
        `the Python client to exit (stderr: ${py.stderr})`,
        15_000,
      );
      assert.deepEqual(await py.exit(), { code: 0, signal: null }, py.stderr);
      assert.match(py.stdout, /event xnas\.AAPL\.quote/);
    } finally {
      await open.close();
    }
  });

  it("a refused fixed token raises TickwireError 4001 instead of reconnecting in a loop", async () => {
    const bad = await mintTestToken({ secret: randomBytes(32), sub: "py", grants: { topics: ["xnas.>"] } });
    const py = python("token", stack.wsUrl, bad);
    assert.deepEqual(await py.exit(), { code: 3, signal: null }, py.stderr);
    assert.match(py.stdout, /refused 4001/);
  });
});
