import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { setup, quote } from "./hub.test-support.ts";

describe("Hub: last-value cache memory", () => {
  it("a quiet topic's cached value stops pinning the encoder's slab after the next sweep", () => {
    const { hub } = setup();
    const quiet = quote("xnas.QUIET.quote");
    hub.publish(hub.topic("xnas.QUIET.quote"), quiet);
    assert.equal(hub.topic("xnas.QUIET.quote").last?.isView, true, "cached as published: a view of the slab");
    for (let i = 0; i < 4096; i++) hub.publish(hub.topic("xnas.BUSY.quote"), quote("xnas.BUSY.quote"));
    const cached = hub.topic("xnas.QUIET.quote").last;
    assert.equal(cached?.isView, false, "own exact-size bytes after the sweep");
    assert.deepEqual(Buffer.from(cached.msgpack), Buffer.from(quiet.msgpack));
    assert.deepEqual(cached.event, quiet.event);
    assert.equal(cached.msgpack.buffer.byteLength, quiet.msgpack.byteLength);
  });
});
