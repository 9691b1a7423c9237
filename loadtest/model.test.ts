import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  inShare,
  modelOf,
  planOf,
  subscribersPerTopic,
  symbolName,
  topicNames,
  type WorkloadModel,
} from "./model.ts";
import { validateOptions } from "./options.ts";

/** The default options' model: 100 topics (`xload.S0000.quote` …), 10 per client, no skew. */
const base: WorkloadModel = modelOf(validateOptions({}));

describe("workload model", () => {
  it("the reference workload gives every one of 100 topics exactly 100 of 1000 clients", () => {
    assert.equal(topicNames(base).length, 100);
    assert.equal(topicNames(base)[0], "xload.S0000.quote");
    const subs = subscribersPerTopic(base, 1000);
    assert.ok(subs.every((n) => n === 100));
  });

  it("each client gets distinct topics, and the same plan every time", () => {
    for (const model of [base, { ...base, skew: 1.1 }, { ...base, types: ["trade", "quote"] as const }]) {
      for (let i = 0; i < 50; i++) {
        const plan = planOf(model, i);
        assert.equal(new Set(plan.patterns).size, plan.patterns.length);
        assert.equal(plan.patterns.length, 10);
        assert.deepEqual(planOf(model, i), plan);
      }
    }
  });

  it("skew makes the first symbols hot and leaves a long tail", () => {
    const subs = subscribersPerTopic({ ...base, symbols: 1000, skew: 1 }, 2000);
    const head = subs.slice(0, 10).reduce((a, b) => a + b, 0);
    const tail = subs.slice(500).reduce((a, b) => a + b, 0);
    assert.ok(subs[0]! > subs[100]! * 5, `S0000 ${subs[0]} vs S0100 ${subs[100]}`);
    assert.ok(head > 2000 && tail > 0, `head ${head}, tail ${tail}`);
  });

  it("wildcard clients subscribe to <venue>.<symbol>.> and receive every type of those symbols", () => {
    const model = { ...base, types: ["trade", "quote"] as const, wildcardShare: 1 };
    const plan = planOf(model, 3);
    assert.ok(plan.wildcard);
    assert.match(plan.patterns[0]!, /^xload\.S\d{4}\.>$/);
    const subs = subscribersPerTopic(model, 1);
    assert.equal(
      subs.reduce((a, b) => a + b, 0),
      20,
      "10 symbol wildcards × 2 types",
    );
  });

  it("shares pick about that fraction of clients, deterministically", () => {
    const picked = Array.from({ length: 10_000 }, (_, i) => inShare(i, 0.25)).filter(Boolean).length;
    assert.ok(Math.abs(picked - 2500) <= 2, `${picked}`);
    assert.equal(inShare(5, 0), false);
    assert.equal(inShare(5, 1), true);
    const maxHz = Array.from({ length: 100 }, (_, i) => planOf({ ...base, maxHzShare: 0.1 }, i).maxHz);
    const asking = maxHz.filter((v) => v === 10).length;
    assert.ok(Math.abs(asking - 10) <= 2, `${asking} of 100 ask for maxHz`);
  });

  it("symbol names are padded to sort in popularity order", () => {
    assert.equal(symbolName(7, 100), "S0007");
    assert.equal(symbolName(12345, 100_000), "S12345");
  });
});
