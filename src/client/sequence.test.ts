import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SequenceTracker } from "./sequence.ts";

const T = "xnas.AAPL.quote";

describe("per-topic sequence tracking", () => {
  it("consecutive q is silent; the first event of a topic sets the baseline whatever its q", () => {
    const s = new SequenceTracker();
    assert.equal(s.observe({ t: T, q: 41 }), undefined);
    assert.equal(s.observe({ t: T, q: 42 }), undefined);
    assert.equal(s.observe({ t: "xnas.MSFT.quote", q: 7 }), undefined, "topics are independent");
  });

  it("a jump is a gap of kind missed, counting the lost updates", () => {
    const s = new SequenceTracker();
    s.observe({ t: T, q: 5 });
    assert.deepEqual(s.observe({ t: T, q: 9 }), {
      e: "gap",
      kind: "missed",
      t: T,
      prevQ: 5,
      q: 9,
      missed: 3,
    });
    assert.equal(s.observe({ t: T, q: 10 }), undefined, "the baseline moved");
  });

  it("a sequence that goes backwards is a gap with nothing counted as missed", () => {
    const s = new SequenceTracker();
    s.observe({ t: T, q: 5 });
    assert.deepEqual(s.observe({ t: T, q: 2 }), {
      e: "gap",
      kind: "missed",
      t: T,
      prevQ: 5,
      q: 2,
      missed: 0,
    });
  });

  it("a SNAPSHOT event resets the baseline without a notice, q 0 history snapshots included", () => {
    const s = new SequenceTracker();
    s.observe({ t: T, q: 5 });
    assert.equal(s.observe({ t: T, q: 90, f: 1 }), undefined);
    assert.equal(s.observe({ t: T, q: 91 }), undefined);
    const h = new SequenceTracker();
    assert.equal(h.observe({ t: T, q: 0, f: 1 }), undefined);
    assert.equal(h.observe({ t: T, q: 1 }), undefined);
  });

  it("a CONFLATED event with q - n = previous q is a conflated notice, not a loss", () => {
    const s = new SequenceTracker();
    s.observe({ t: T, q: 10 });
    assert.deepEqual(s.observe({ t: T, q: 14, f: 2, n: 4 }), {
      e: "gap",
      kind: "conflated",
      t: T,
      prevQ: 10,
      q: 14,
      missed: 3,
    });
  });

  it("a CONFLATED event that does not line up is a gap of kind missed", () => {
    const s = new SequenceTracker();
    s.observe({ t: T, q: 10 });
    assert.deepEqual(s.observe({ t: T, q: 20, f: 2, n: 4 }), {
      e: "gap",
      kind: "missed",
      t: T,
      prevQ: 10,
      q: 20,
      missed: 9,
    });
  });

  it("forget and reset start tracking afresh", () => {
    const s = new SequenceTracker();
    s.observe({ t: T, q: 5 });
    s.forget(T);
    assert.equal(s.observe({ t: T, q: 50 }), undefined);
    s.reset();
    assert.equal(s.lastQ(T), undefined);
    assert.equal(s.observe({ t: T, q: 1 }), undefined, "a restarted gateway numbers from 1");
    s.observe({ t: "xnas.MSFT.quote", q: 3 });
    s.forgetWhere((t) => t.startsWith("xnas.AAPL"));
    assert.equal(s.lastQ(T), undefined);
    assert.equal(s.lastQ("xnas.MSFT.quote"), 3);
  });
});
