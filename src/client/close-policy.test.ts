import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isUnrecoverableClose, isUnrecoverableUpgrade, lowerLimitFrom } from "./close-policy.ts";

describe("close policy: what stops the client instead of a reconnect loop", () => {
  it("refused upgrades that every retry meets again stop; capacity, draining and throttling do not", () => {
    for (const status of [400, 401, 403, 404]) {
      assert.equal(isUnrecoverableUpgrade(`Unexpected server response: ${status}`), true, String(status));
    }
    for (const status of [408, 429, 500, 502, 503, 504]) {
      assert.equal(isUnrecoverableUpgrade(`Unexpected server response: ${status}`), false, String(status));
    }
  });

  it("an untrusted TLS certificate stops (Node's messages); an expired one, a refused or reset connection do not", () => {
    for (const error of [
      "self-signed certificate in certificate chain",
      "self signed certificate",
      "unable to verify the first certificate",
      "unable to get local issuer certificate",
      "Hostname/IP does not match certificate's altnames: IP: 127.0.0.2 is not in the cert's list: 127.0.0.1",
    ]) {
      assert.equal(isUnrecoverableUpgrade(error), true, error);
    }
    // An expired certificate is renewed on the gateway, and then a retry gets in.
    for (const error of [
      "certificate has expired",
      "connect ECONNREFUSED 127.0.0.1:9000",
      "read ECONNRESET",
      "connection error",
      "",
    ]) {
      assert.equal(isUnrecoverableUpgrade(error), false, error);
    }
  });

  it("close codes: protocol, policy and auth faults stop; going away, overload and slow-consumer do not", () => {
    for (const code of [1002, 1003, 1007, 1008, 1009, 4001, 4003])
      assert.equal(isUnrecoverableClose(code), true);
    for (const code of [1000, 1001, 1006, 1011, 1013, 4007, 4008])
      assert.equal(isUnrecoverableClose(code), false);
  });

  it("a 1009 reason names the gateway's lower frame limit", () => {
    assert.equal(lowerLimitFrom("message too big: 20000 bytes, limit 16384", 262_144), 16_384);
    assert.equal(lowerLimitFrom("message too big: 20000 bytes, limit 16384", 16_384), undefined);
    assert.equal(lowerLimitFrom("message too big", 262_144), undefined);
  });
});
