import { BlockList, isIP } from "node:net";

/**
 * Which client a connection belongs to when reverse proxies sit in front of the gateway (`--trusted-proxies`).
 *
 * The TCP peer is the client, unless the peer is a trusted proxy: then the client is read from
 * `X-Forwarded-For`, walking it from the right and skipping the addresses that are themselves trusted
 * proxies; the first one that is not is the client. This is the standard rule (nginx's `real_ip_recursive
 * on`, Express's `trust proxy` with a list, MDN's "X-Forwarded-For: selecting an IP address"): each proxy
 * appends the address it received the request from, so the right-most entries were written by proxies we
 * trust, and everything left of the first untrusted entry was written by the client or proxies we do not
 * know, i.e. may be forged. Taking the left-most entry would let any client choose its own address.
 *
 * When every entry is trusted (a chain of our own proxies, e.g. a health check from one of them), the
 * left-most entry is the client; a malformed entry stops the walk there and the last address known good is
 * the client (never a value we could not parse).
 */
export class TrustedProxies {
  readonly #list: BlockList | undefined;

  private constructor(
    list: BlockList | undefined,
    /** The option's entries as given, for logs. */
    readonly entries: readonly string[],
  ) {
    this.#list = list;
  }

  /** No proxy is trusted: the client is always the TCP peer (the default). */
  static readonly NONE = new TrustedProxies(undefined, []);

  /**
   * Parses `--trusted-proxies` entries: IPv4 or IPv6 addresses, or CIDR blocks (`10.0.0.0/8`, `fd00::/8`).
   * Throws a TypeError naming the first bad entry; {@link trustedProxiesProblem} gives the text for config.
   */
  static parse(entries: readonly string[]): TrustedProxies {
    if (entries.length === 0) return TrustedProxies.NONE;
    const list = new BlockList();
    for (const entry of entries) {
      const block = parseBlock(entry);
      if (typeof block === "string") throw new TypeError(block);
      list.addSubnet(block.address, block.prefix, block.family);
    }
    return new TrustedProxies(list, [...entries]);
  }

  /** Whether `address` (IPv4, IPv6 or IPv4-mapped IPv6) is a trusted proxy. */
  trusts(address: string): boolean {
    if (this.#list === undefined) return false;
    const family = isIP(address);
    if (family === 0) return false;
    return this.#list.check(address, family === 4 ? "ipv4" : "ipv6");
  }

  /**
   * The client's address: `peer` (the TCP peer, as uWS reports it) unless it is trusted, then the right-most
   * `X-Forwarded-For` entry that is not trusted (see the class comment). `forwardedFor` is the header's value
   * ("" when absent; several headers arrive joined with commas).
   */
  clientAddress(peer: string, forwardedFor: string): string {
    let client = unmapIPv4(peer);
    if (this.#list === undefined || forwardedFor === "" || !this.trusts(client)) return client;
    const hops = forwardedFor.split(",");
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = unmapIPv4(stripPort((hops[i] as string).trim()));
      if (isIP(hop) === 0) return client;
      client = hop;
      if (!this.trusts(hop)) return client;
    }
    return client;
  }
}

/** The config check of `--trusted-proxies`: a problem description, or undefined when every entry parses. */
export function trustedProxiesProblem(entries: readonly string[]): string | undefined {
  for (const entry of entries) {
    const block = parseBlock(entry);
    if (typeof block === "string") return block;
  }
  return undefined;
}

interface Block {
  readonly address: string;
  readonly prefix: number;
  readonly family: "ipv4" | "ipv6";
}

/** `address` or `address/prefix`; a problem text when it is neither. */
function parseBlock(entry: string): Block | string {
  const slash = entry.indexOf("/");
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return `"${entry}" is not an IPv4 or IPv6 address or CIDR block`;
  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const text = entry.slice(slash + 1);
    prefix = /^\d{1,3}$/.test(text) ? Number(text) : NaN;
    if (!(prefix >= 0 && prefix <= max)) return `"${entry}" has a prefix length outside 0–${max}`;
  }
  return { address, prefix, family: family === 4 ? "ipv4" : "ipv6" };
}

/** `::ffff:1.2.3.4` (an IPv4 client on a dual-stack socket) as `1.2.3.4`, so logs show one form. */
function unmapIPv4(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped === null ? address : (mapped[1] as string);
}

/**
 * X-Forwarded-For entries are addresses, but some proxies add a port (`1.2.3.4:5678`, `[2001:db8::1]:443`).
 * A bare IPv6 address has several colons and is left as it is.
 */
function stripPort(hop: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(hop);
  if (bracketed !== null) return bracketed[1] as string;
  const v4 = /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(hop);
  return v4 === null ? hop : (v4[1] as string);
}
