import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Flag, SequenceTracker, addSequenceCounts, emptySequenceCounts } from "./sequence.ts";

describe("SequenceTracker", () => {
  it("consecutive sequence numbers per topic are no gap; the first event of a topic sets its baseline", () => {
    const t = new SequenceTracker();
    for (const q of [41, 42, 43]) t.observe("a", q, 0, 0);
    for (const q of [1, 2]) t.observe("b", q, 0, 0);
    assert.deepEqual(t.counts, { ...emptySequenceCounts(), events: 5 });
  });

  it("a jump counts one gap and the updates it skipped", () => {
    const t = new SequenceTracker();
    for (const q of [1, 2, 6, 7, 9]) t.observe("a", q, 0, 0);
    assert.equal(t.counts.gaps, 2);
    assert.equal(t.counts.missedUpdates, 3 + 1);
  });

  it("a CONFLATED event with q − n = previous is no gap; its n counts as conflated updates", () => {
    const t = new SequenceTracker();
    t.observe("a", 10, 0, 0);
    t.observe("a", 15, Flag.CONFLATED, 5); // stands for 11..15
    t.observe("a", 16, 0, 0);
    assert.equal(t.counts.gaps, 0);
    assert.equal(t.counts.conflatedEvents, 1);
    assert.equal(t.counts.conflatedUpdates, 5);
    assert.equal(t.counts.events, 3);
  });

  it("a CONFLATED event that starts after previous + 1 is a gap of the difference", () => {
    const t = new SequenceTracker();
    t.observe("a", 10, 0, 0);
    t.observe("a", 20, Flag.CONFLATED, 3); // stands for 18..20: 11..17 lost
    assert.equal(t.counts.gaps, 1);
    assert.equal(t.counts.missedUpdates, 7);
  });

  it("snapshots set the baseline and are not live events; q 0 (from history) is a baseline too", () => {
    const t = new SequenceTracker();
    t.observe("a", 7, Flag.SNAPSHOT, 0);
    t.observe("a", 8, 0, 0);
    t.observe("b", 0, Flag.SNAPSHOT, 0);
    t.observe("b", 1, 0, 0);
    assert.equal(t.counts.snapshots, 2);
    assert.equal(t.counts.events, 2);
    assert.equal(t.counts.gaps, 0);
  });

  it("repeated or older sequence numbers are duplicates, not gaps, and do not move the baseline", () => {
    const t = new SequenceTracker();
    for (const q of [5, 6, 6, 4, 7]) t.observe("a", q, 0, 0);
    assert.equal(t.counts.duplicates, 2);
    assert.equal(t.counts.gaps, 0);
  });

  it("events without a sequence (q < 0) are counted and never make gaps", () => {
    const t = new SequenceTracker();
    for (let i = 0; i < 3; i++) t.observe("a", -1, 0, 0);
    assert.equal(t.counts.events, 3);
    assert.equal(t.counts.gaps, 0);
  });

  it("reset forgets baselines (a reconnect starts over) but keeps the counts", () => {
    const t = new SequenceTracker();
    t.observe("a", 1, 0, 0);
    t.reset();
    t.observe("a", 50, 0, 0);
    assert.equal(t.counts.gaps, 0);
    assert.equal(t.counts.events, 2);
    const sum = emptySequenceCounts();
    addSequenceCounts(sum, t.counts);
    addSequenceCounts(sum, t.counts);
    assert.equal(sum.events, 4);
  });
});
