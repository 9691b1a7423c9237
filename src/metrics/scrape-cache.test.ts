import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ScrapeCache } from "./scrape-cache.ts";

describe("ScrapeCache", () => {
  it("renders once per interval and serves the same body inside it", async () => {
    let clock = 1000;
    let n = 0;
    const cache = new ScrapeCache(
      () => Promise.resolve(`body ${++n}`),
      500,
      () => clock,
    );
    assert.equal(cache.fresh(), undefined);
    assert.equal(await cache.get(), "body 1");
    clock += 499;
    assert.equal(cache.fresh(), "body 1");
    assert.equal(await cache.get(), "body 1");
    clock += 1;
    assert.equal(cache.fresh(), undefined);
    assert.equal(await cache.get(), "body 2");
    assert.equal(cache.renders, 2);
  });

  it("shares one render among callers that arrive while it runs, even with interval 0", async () => {
    let n = 0;
    let release: (() => void) | undefined;
    const cache = new ScrapeCache(
      () => new Promise<string>((resolve) => (release = () => resolve(`body ${++n}`))),
      0,
    );
    const all = Promise.all([cache.get(), cache.get(), cache.get()]);
    release?.();
    assert.deepEqual(await all, ["body 1", "body 1", "body 1"]);
    assert.equal(cache.renders, 1);
    const next = cache.get();
    release?.();
    assert.equal(await next, "body 2");
  });

  it("a failed render is not cached and the next caller renders again", async () => {
    let fail = true;
    const cache = new ScrapeCache(
      () => (fail ? Promise.reject(new Error("boom")) : Promise.resolve("ok")),
      1000,
    );
    await assert.rejects(cache.get(), /boom/);
    fail = false;
    assert.equal(await cache.get(), "ok");
  });
});
