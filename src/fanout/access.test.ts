import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { closeReason } from "./access.ts";

describe("closeReason (the JSON reason of a gateway close)", () => {
  it("keeps a short message whole", () => {
    assert.equal(closeReason("token expired", "expired"), '{"msg":"token expired","reason":"expired"}');
  });

  it("shortens a long message with … so the JSON fits the 123 bytes of a close reason, reason intact", () => {
    for (const msg of ["x".repeat(400), "é".repeat(200), `token rejected: ${"🙂".repeat(60)}`]) {
      const json = closeReason(msg, "bad_claims");
      assert.ok(Buffer.byteLength(json) <= 123, `${Buffer.byteLength(json)} bytes`);
      const parsed = JSON.parse(json) as { msg: string; reason: string };
      assert.equal(parsed.reason, "bad_claims");
      assert.ok(parsed.msg.endsWith("…"));
      assert.ok(msg.startsWith(parsed.msg.slice(0, -1)), "a prefix on a character boundary");
      assert.ok(Buffer.byteLength(json) > 123 - 5, "not shortened further than needed");
    }
  });
});
