import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TestClient, type Message } from "./helpers/client.ts";
import {
  addHistoryStream,
  eventually,
  natsSubscriptionsOfGateway,
  quote,
  startStack,
  type Stack,
} from "./helpers/stack.ts";

/**
 * Issue 10 §0: a value the gateway stopped receiving (its last subscriber left, so NATS interest
 * lapsed) is never served as a snapshot. Real nats-server (JetStream history on or off), real gateway,
 * real WebSocket clients.
 */
const IBM = "xnys.IBM.quote";

async function interest(stack: Stack, held: boolean): Promise<void> {
  await eventually(
    async () => (await natsSubscriptionsOfGateway(stack.nats)).includes(`md.${IBM}`) === held,
    held ? "the gateway's NATS interest" : "the gateway's NATS interest to lapse",
  );
}

/** Subscribes with a snapshot and returns what came up to snapshot_end (data events and snapshot_end). */
async function subscribeWithSnapshot(client: TestClient): Promise<Message[]> {
  const reply = await client.request("subscribe", { topics: [IBM] });
  const end = await client.waitFor((m) => m["e"] === "snapshot_end" && m["id"] === reply["id"]);
  const from = client.messages.indexOf(reply);
  return client.messages.slice(from + 1, client.messages.indexOf(end) + 1);
}

for (const withHistory of [true, false]) {
  describe(`stale snapshots after interest lapses, ${withHistory ? "with" : "without"} feed history`, () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack({}, { jetstream: withHistory });
      if (!withHistory) return;
      await addHistoryStream(stack.nats.url);
    });
    after(async () => {
      await stack.close();
    });

    it(
      withHistory
        ? "publish 100; A gets 100 (history) then 101 live and leaves; publish 150; B gets 150, not 101, and live continues after it"
        : "A gets 100 and 101 live and leaves; publish 150; B is told IBM is missing, not given 101, then gets live",
      async () => {
        await stack.publishAndFlush(IBM, quote(100));
        const a = await TestClient.connect(stack.wsUrl, ["tickwire.v1.json"]);
        const first = await subscribeWithSnapshot(a);
        await interest(stack, true);
        if (withHistory) {
          assert.deepEqual(
            first.map((m) => [m["bp"], m["q"], m["f"]]),
            [
              [100, 0, 1],
              [undefined, undefined, undefined],
            ],
          );
        } else {
          assert.deepEqual(first, [{ e: "snapshot_end", id: 1, missing: [IBM] }]);
          await stack.publishAndFlush(IBM, quote(100));
        }
        await stack.publishAndFlush(IBM, quote(101));
        await a.until(() => a.events.some((m) => m["bp"] === 101), 5000, "101 live on A");
        const lastOfA = a.events.at(-1) as Message;
        await a.close();
        await interest(stack, false);
        await stack.publishAndFlush(IBM, quote(150)); // the gateway does not receive it; the history does

        const b = await TestClient.connect(stack.wsUrl);
        const seen = await subscribeWithSnapshot(b);
        const qBefore = (withHistory ? seen[0]?.["q"] : lastOfA["q"]) as number;
        if (withHistory) {
          assert.equal(seen.length, 2);
          assert.equal(seen[0]?.["bp"], 150, "the history's value, not the 101 the gateway kept");
          assert.equal(seen[0]?.["f"], 1);
          assert.ok(
            (seen[0]?.["q"] as number) > (lastOfA["q"] as number),
            "q never reused for another value",
          );
        } else {
          assert.deepEqual(
            seen,
            [{ e: "snapshot_end", id: 1, missing: [IBM] }],
            "no 101 presented as current",
          );
        }
        await interest(stack, true);
        await stack.publishAndFlush(IBM, quote(151));
        await b.until(() => b.events.some((m) => m["bp"] === 151), 5000, "151 live on B");
        const live = b.events.at(-1) as Message;
        assert.equal(live["f"], undefined);
        assert.ok((live["q"] as number) > qBefore, "live continues after what was seen");
        await b.close();
      },
    );
  });
}
