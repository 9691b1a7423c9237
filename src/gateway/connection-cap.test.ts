import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CAP_NOTICE_INTERVAL_MS,
  ConnectionCap,
  openFileLimit,
  resolveMaxConnections,
} from "./connection-cap.ts";

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            20000                20000                files
Max locked memory         8388608              8388608              bytes
`;

describe("connection cap", () => {
  it("reads the soft open-file limit like ulimit -n", () => {
    assert.equal(openFileLimit(LIMITS), 20000);
    assert.equal(
      openFileLimit(LIMITS.replace("20000                20000", "unlimited unlimited")),
      undefined,
    );
    assert.equal(openFileLimit(""), undefined);
    assert.equal(typeof openFileLimit(), "number", "this machine's /proc/self/limits is readable");
  });

  it("auto (0) keeps a reserve below the descriptor limit; a configured cap is used as given", () => {
    assert.equal(resolveMaxConnections(0, 20000), 19000);
    assert.equal(resolveMaxConnections(0, 1024), 960);
    assert.equal(resolveMaxConnections(0, 10), 1);
    assert.equal(resolveMaxConnections(50, 20000), 50);
    assert.equal(resolveMaxConnections(0, undefined), 10_000);
  });

  it("reports refusals at most once per interval, with the count since the last report", () => {
    let clock = 0;
    const cap = new ConnectionCap(2, () => clock);
    cap.open = 2;
    assert.equal(cap.full, true);
    assert.deepEqual(cap.refuse(), { open: 2, max: 2, refused: 1 });
    assert.equal(cap.refuse(), undefined);
    assert.equal(cap.refuse(), undefined);
    clock += CAP_NOTICE_INTERVAL_MS;
    assert.deepEqual(cap.refuse(), { open: 2, max: 2, refused: 3 });
  });
});
