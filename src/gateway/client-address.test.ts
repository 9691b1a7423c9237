import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadConfig } from "../config/index.ts";
import { TrustedProxies, trustedProxiesProblem } from "./client-address.ts";

describe("TrustedProxies.parse and trusts", () => {
  it("matches IPv4 addresses and CIDR blocks at the prefix boundary", () => {
    const trusted = TrustedProxies.parse(["10.0.0.0/8", "192.168.1.7", "172.16.0.0/12"]);
    assert.equal(trusted.trusts("10.255.255.255"), true);
    assert.equal(trusted.trusts("11.0.0.0"), false);
    assert.equal(trusted.trusts("192.168.1.7"), true);
    assert.equal(trusted.trusts("192.168.1.8"), false);
    assert.equal(trusted.trusts("172.31.255.255"), true);
    assert.equal(trusted.trusts("172.32.0.0"), false);
  });

  it("matches IPv6 blocks, and an IPv4 client on a dual-stack socket (::ffff:a.b.c.d) against IPv4 blocks", () => {
    const trusted = TrustedProxies.parse(["fd00::/8", "2001:db8::1", "127.0.0.1"]);
    assert.equal(trusted.trusts("fd12:3456::1"), true);
    assert.equal(trusted.trusts("fe80::1"), false);
    assert.equal(trusted.trusts("2001:db8::1"), true);
    assert.equal(trusted.trusts("2001:db8::2"), false);
    assert.equal(trusted.trusts("::ffff:127.0.0.1"), true);
    assert.equal(trusted.trusts("not an address"), false);
  });

  it("/0 trusts every address of its family; none trusts nothing", () => {
    const all4 = TrustedProxies.parse(["0.0.0.0/0"]);
    assert.equal(all4.trusts("203.0.113.9"), true);
    assert.equal(all4.trusts("2001:db8::1"), false);
    assert.equal(TrustedProxies.NONE.trusts("127.0.0.1"), false);
    assert.equal(TrustedProxies.parse([]), TrustedProxies.NONE);
  });

  it("refuses entries that are not addresses or blocks, naming them", () => {
    for (const bad of [
      "10.0.0.0/33",
      "fd00::/129",
      "10.0.0.0/",
      "10.0.0/8",
      "localhost",
      "1.2.3.4/8/8",
      "::1/x",
    ]) {
      assert.throws(() => TrustedProxies.parse([bad]), {
        name: "TypeError",
        message: new RegExp(bad.replace(/[./]/g, "\\$&")),
      });
      assert.match(trustedProxiesProblem(["127.0.0.1", bad]) ?? "", /is not an IPv4|prefix length/);
    }
    assert.equal(trustedProxiesProblem(["127.0.0.1", "::1", "10.0.0.0/8", "fd00::/8"]), undefined);
  });

  it("--trusted-proxies is checked at config load with the same verdicts", () => {
    const config = loadConfig(["--trusted-proxies", "127.0.0.1,10.0.0.0/8,fd00::/8"], {});
    assert.deepEqual(config.gateway.trustedProxies, ["127.0.0.1", "10.0.0.0/8", "fd00::/8"]);
    assert.deepEqual(loadConfig([], {}).gateway.trustedProxies, []);
    for (const bad of ["10.0.0.0/33", "localhost", "1.2.3.4/8/8"]) {
      assert.throws(
        () => loadConfig(["--trusted-proxies", bad], {}),
        (error: Error) => error.message.includes(`"${bad}"`),
      );
      assert.notEqual(trustedProxiesProblem([bad]), undefined);
    }
  });
});

describe("TrustedProxies.clientAddress", () => {
  const proxies = TrustedProxies.parse(["127.0.0.1", "10.0.0.0/8"]);

  it("with no trusted proxies the TCP peer is the client, whatever X-Forwarded-For says", () => {
    assert.equal(TrustedProxies.NONE.clientAddress("127.0.0.1", "203.0.113.7"), "127.0.0.1");
  });

  it("an untrusted peer cannot name another client (a forged header sent directly is ignored)", () => {
    assert.equal(proxies.clientAddress("198.51.100.4", "203.0.113.7"), "198.51.100.4");
  });

  it("a trusted peer: the right-most X-Forwarded-For entry that is not a trusted proxy", () => {
    assert.equal(proxies.clientAddress("127.0.0.1", "203.0.113.7"), "203.0.113.7");
    // The client forged "1.1.1.1"; nginx appended the address it saw; an inner proxy appended its own.
    assert.equal(proxies.clientAddress("127.0.0.1", "1.1.1.1, 198.51.100.4, 10.1.2.3"), "198.51.100.4");
    // Several X-Forwarded-For headers arrive joined with commas; whitespace varies.
    assert.equal(proxies.clientAddress("10.0.0.1", "1.1.1.1,198.51.100.4 ,10.1.2.3"), "198.51.100.4");
  });

  it("every entry trusted: the left-most one; no header: the peer", () => {
    assert.equal(proxies.clientAddress("127.0.0.1", "10.0.0.9, 10.0.0.8"), "10.0.0.9");
    assert.equal(proxies.clientAddress("127.0.0.1", ""), "127.0.0.1");
  });

  it("a malformed entry stops the walk at the last address known good", () => {
    assert.equal(proxies.clientAddress("127.0.0.1", "203.0.113.7, garbage"), "127.0.0.1");
    assert.equal(proxies.clientAddress("127.0.0.1", "garbage, 10.0.0.2"), "10.0.0.2");
    assert.equal(proxies.clientAddress("127.0.0.1", "203.0.113.7, , 10.0.0.2"), "10.0.0.2");
  });

  it("IPv6 entries, entries with ports, and IPv4-mapped peers", () => {
    const v6 = TrustedProxies.parse(["fd00::/8", "127.0.0.1"]);
    assert.equal(v6.clientAddress("fd00::1", "2001:db8::7, fd00::2"), "2001:db8::7");
    assert.equal(v6.clientAddress("fd00::1", "[2001:db8::7]:443"), "2001:db8::7");
    assert.equal(v6.clientAddress("fd00::1", "203.0.113.7:5678"), "203.0.113.7");
    assert.equal(v6.clientAddress("::ffff:127.0.0.1", "203.0.113.7"), "203.0.113.7");
    assert.equal(v6.clientAddress("::ffff:198.51.100.4", "203.0.113.7"), "198.51.100.4");
  });
});
