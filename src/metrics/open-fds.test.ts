import assert from "node:assert/strict";
import { closeSync, openSync, readdirSync } from "node:fs";
import { describe, it } from "node:test";
import { OpenFds } from "./open-fds.ts";

/** Calls read() until `done` holds for its answer (each call starts the next refresh). */
async function readUntil(fds: OpenFds, done: (r: { openFds: number; maxFds: number }) => boolean) {
  for (let i = 0; i < 200; i++) {
    const r = fds.read();
    if (done(r)) return r;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.fail(`no matching count after 200 reads: ${JSON.stringify(fds.read())}`);
}

describe("OpenFds", { skip: process.platform !== "linux" && "Linux only (/proc)" }, () => {
  it("counts this process's descriptors off the event loop, one refresh behind, and reads the soft limit", async () => {
    const fds = new OpenFds();
    const first = await readUntil(fds, (r) => r.openFds > 0);
    assert.ok(first.maxFds >= first.openFds, JSON.stringify(first));
    const opened = Array.from({ length: 100 }, () => openSync("/dev/null", "r"));
    try {
      const now = readdirSync("/proc/self/fd").length - 1;
      const after = await readUntil(fds, (r) => r.openFds >= first.openFds + 100);
      assert.ok(Math.abs(after.openFds - now) <= 2, `${after.openFds} counted, ${now} listed`);
    } finally {
      for (const fd of opened) closeSync(fd);
    }
    await readUntil(fds, (r) => r.openFds < first.openFds + 50);
  });

  it("never answers a count without its limit (both are set together, after both reads)", async () => {
    for (let round = 0; round < 20; round++) {
      const fds = new OpenFds();
      for (let i = 0; i < 50; i++) {
        const r = fds.read();
        if (r.openFds >= 0) assert.ok(r.maxFds >= r.openFds, JSON.stringify(r));
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  });
});
