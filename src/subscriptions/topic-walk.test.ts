import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SubscriptionTable, type InterestListener } from "./subscription-table.ts";

const quiet: InterestListener = { patternActive() {}, patternIdle() {} };

function filled(count: number): SubscriptionTable<string> {
  const table = new SubscriptionTable<string>(quiet, 100);
  for (let i = 0; i < count; i++) table.topic(`v.S${i}.quote`);
  return table;
}

function walkOf(table: SubscriptionTable<string>, subscriber: string, pattern: string) {
  const result = table.add(subscriber, [pattern], true);
  assert.ok(result.ok);
  assert.deepEqual(result.entered, [], "a deferred wildcard enters nothing in the call");
  assert.equal(result.walks.length, 1);
  return result.walks[0]!;
}

describe("TopicWalk: a wildcard's existing topics entered in bounded steps (issue 11)", () => {
  it("enters at most max topics per step, each once, until every matching topic is entered", () => {
    const table = filled(1000);
    table.topic("w.S1.quote"); // not matched
    const walk = walkOf(table, "a", "v.>");
    assert.equal(table.topic("v.S999.quote").subscribers.has("a"), false, "nothing entered before a step");
    const entered = new Set<string>();
    let steps = 0;
    while (!walk.done) {
      const visited = walk.step(100, (topic) => entered.add(topic.name));
      assert.ok(visited <= 100, `a step visited ${visited}`);
      steps++;
    }
    assert.ok(steps >= 10, `${steps} steps`);
    assert.equal(entered.size, 1000);
    for (let i = 0; i < 1000; i++) assert.ok(table.topic(`v.S${i}.quote`).subscribers.has("a"));
    assert.equal(table.topic("w.S1.quote").subscribers.has("a"), false);
  });

  it("a topic created during the walk gets the subscriber at creation and is not reported entered again", () => {
    const table = filled(10);
    const walk = walkOf(table, "a", "v.*.quote");
    walk.step(3, () => {});
    const created = table.topic("v.NEW.quote");
    assert.ok(created.subscribers.has("a"), "the pattern was indexed at once");
    const entered: string[] = [];
    while (!walk.done) walk.step(100, (topic) => entered.push(topic.name));
    assert.equal(entered.includes("v.NEW.quote"), false);
    assert.equal(entered.length, 7);
  });

  it("a topic forgotten during the walk is skipped", () => {
    const table = filled(10);
    const walk = walkOf(table, "a", "v.>");
    walk.step(2, () => {});
    const gone = [...table.topics()].find((t) => !t.subscribers.has("a"))!;
    assert.ok(table.forget(gone));
    const entered: string[] = [];
    while (!walk.done) walk.step(100, (topic) => entered.push(topic.name));
    assert.equal(entered.includes(gone.name), false);
    assert.equal(entered.length, 7);
  });

  it("stops at once when the subscriber unsubscribes the pattern or closes", () => {
    const table = filled(100);
    const walk = walkOf(table, "a", "v.>");
    walk.step(10, () => {});
    table.remove("a", ["v.>"]);
    assert.equal(walk.done, true);
    assert.equal(
      walk.step(100, () => assert.fail("entered after unsubscribe")),
      0,
    );
    const second = walkOf(table, "b", "v.>");
    table.removeAll("b");
    assert.equal(second.done, true);
    for (const topic of table.topics()) assert.equal(topic.subscribers.size, 0);
  });

  it("removeAll leaves each topic once even when several patterns of the subscriber match it", () => {
    const table = filled(5);
    table.add("a", ["v.>", "v.*.quote", "v.S1.quote"]);
    const left = table.removeAll("a");
    assert.equal(left.length, 5);
    assert.equal(new Set(left).size, 5);
  });
});
