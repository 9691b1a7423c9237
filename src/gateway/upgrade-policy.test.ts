import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bearerToken, hasQueryToken, originAllowed } from "./upgrade-policy.ts";

describe("upgrade policy (pure parts)", () => {
  it("finds token-like query parameters, whatever their case, and nothing else", () => {
    assert.equal(hasQueryToken(""), false);
    assert.equal(hasQueryToken("encoding=json"), false);
    for (const q of ["token=abc", "a=1&access_token=x", "JWT=y", "Authorization=Bearer%20z"]) {
      assert.equal(hasQueryToken(q), true, q);
    }
  });

  it("Origin: absent always passes; an empty list checks nothing; * allows any; else exact origins", () => {
    assert.equal(originAllowed("", ["https://a.example"]), true);
    assert.equal(originAllowed("https://evil.example", []), true);
    assert.equal(originAllowed("https://evil.example", ["*"]), true);
    assert.equal(originAllowed("https://a.example", ["https://a.example"]), true);
    assert.equal(originAllowed("HTTPS://A.example", ["https://a.example/"]), true);
    assert.equal(originAllowed("https://a.example:8443", ["https://a.example"]), false);
    assert.equal(originAllowed("http://a.example", ["https://a.example"]), false);
    assert.equal(originAllowed("null", ["https://a.example"]), false);
  });

  it("reads a Bearer token; no header is undefined; anything else is malformed (null)", () => {
    assert.equal(bearerToken(""), undefined);
    assert.equal(bearerToken("Bearer abc.def.ghi"), "abc.def.ghi");
    assert.equal(bearerToken("bearer  abc.def-_.g"), "abc.def-_.g");
    assert.equal(bearerToken("Basic dXNlcjpwYXNz"), null);
    assert.equal(bearerToken("Bearer"), null);
    assert.equal(bearerToken("Bearer a b"), null);
  });
});
