import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { sendToChild } from "./ipc.ts";

/** The state letter of /proc/<pid>/stat ("Z" once the process has exited and is not yet reaped). */
function stateOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}

describe("sendToChild", () => {
  it("a child that exited before the parent noticed: the failed write is reported, no error event", async () => {
    const child = spawn(process.execPath, ["-e", 'process.send("bye", () => process.exit(0))'], {
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    const errors: Error[] = [];
    child.on("error", (error) => errors.push(error));
    await new Promise<void>((resolve) => child.once("message", () => resolve()));
    // Block this thread until the child is a zombie: it has exited and closed its end of the channel,
    // but this process has not handled SIGCHLD yet, so `connected` is still true: the race found in CI.
    while (stateOf(child.pid!) !== "Z") Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    assert.equal(child.connected, true);
    const undelivered: Error[] = [];
    assert.equal(
      sendToChild(child, { t: "fleet" }, (error) => undelivered.push(error)),
      true,
    );
    await new Promise((resolve) => child.once("exit", resolve));
    await new Promise((resolve) => setImmediate(resolve)); // a callback queued with nextTick has run
    assert.deepEqual(errors, [], "no error event: with no listener it would end the process");
    // Usually the write fails at once with EPIPE, which is reported. Sometimes it is queued and no error
    // comes back for it (a CI run saw the callback pending after the child's exit): nothing to report
    // then, and still no error event, which is what keeps the supervisor alive.
    for (const error of undelivered) {
      assert.match((error as NodeJS.ErrnoException).code ?? "", /^(EPIPE|ECONNRESET)$/);
    }
    assert.equal(
      sendToChild(child, { t: "fleet" }, () => assert.fail("not sent at all")),
      false,
    );
  });
});
