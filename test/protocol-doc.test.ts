import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { Unpackr } from "msgpackr";
import { OPTIONS } from "../src/config/index.ts";
import {
  CloseCode,
  ErrorCode,
  EventEncoder,
  EventFlag,
  FEED_REJECT_REASONS,
  MAX_TOPICS_PER_REQUEST,
  MAX_TOPIC_LENGTH,
  PAYLOAD_KEYS,
  Subprotocol,
  type MarketEventType,
} from "../src/protocol/index.ts";

/**
 * proto/PROTOCOL.md against src/ (cf. fastify's error-docs test): every code, reason and key defined in
 * the code is documented, and the document names nothing the code does not define.
 */
const doc = readFileSync(new URL("../proto/PROTOCOL.md", import.meta.url), "utf8");

/** Text of the section under the heading `title` (any level), up to the next heading of that level or higher. */
function section(markdown: string, title: string): string {
  const lines = markdown.split("\n");
  const start = lines.findIndex((line) => /^#{2,4} /.test(line) && line.replace(/^#+ /, "").trim() === title);
  assert.ok(start >= 0, `PROTOCOL.md has no section "${title}"`);
  const level = /^#+/.exec(lines[start] as string)![0].length;
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((line) => {
    const hashes = /^(#+) /.exec(line);
    return hashes !== null && (hashes[1] as string).length <= level;
  });
  return (end < 0 ? rest : rest.slice(0, end)).join("\n");
}

/** Every Markdown table in `markdown`, each as its body rows of trimmed cells (header and separator dropped). */
function tables(markdown: string): string[][][] {
  const found: string[][][] = [];
  let current: string[][] | undefined;
  let sawSeparator = false;
  for (const line of markdown.split("\n")) {
    if (!line.startsWith("|")) {
      current = undefined;
      continue;
    }
    if (current === undefined) {
      current = [];
      found.push(current);
      sawSeparator = false;
      continue; // header row
    }
    if (!sawSeparator && /^\|[\s:|-]+\|$/.test(line)) {
      sawSeparator = true;
      continue;
    }
    current.push(
      line
        .slice(1, line.endsWith("|") ? -1 : undefined)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim()),
    );
  }
  return found;
}

const tableRows = (markdown: string): string[][] => tables(markdown).flat();

const unquote = (cell: string): string => cell.replace(/^`(.*)`$/, "$1");

/** `{number → name}` from a code table whose first two columns are Code and Name. */
function codeTable(title: string): { rows: string[][]; byNumber: Map<number, string> } {
  const rows = tableRows(section(doc, title)).filter((cells) => /^\d+$/.test(cells[0] ?? ""));
  assert.ok(rows.length > 0, `no code rows in the "${title}" table`);
  const byNumber = new Map<number, string>();
  for (const cells of rows) {
    const code = Number(cells[0]);
    assert.ok(!byNumber.has(code), `${title}: ${code} is listed twice`);
    byNumber.set(code, unquote(cells[1] ?? ""));
  }
  return { rows, byNumber };
}

const isPrivateRange = (code: number): boolean => code >= 4000 && code <= 4999;

void describe("PROTOCOL.md documents every code of src/wire/codes.ts", () => {
  void it("lists every ErrorCode with its number and name in the error-code table", () => {
    const { byNumber } = codeTable("Error codes");
    for (const [name, code] of Object.entries(ErrorCode)) {
      assert.equal(
        byNumber.get(code),
        name,
        `error code ${code} ${name} is missing or misnamed in PROTOCOL.md`,
      );
    }
  });

  void it("lists no error code that src/ does not define", () => {
    const { byNumber } = codeTable("Error codes");
    const defined = new Map<number, string>(Object.entries(ErrorCode).map(([name, code]) => [code, name]));
    for (const [code, name] of byNumber) {
      assert.equal(
        defined.get(code),
        name,
        `PROTOCOL.md lists error code ${code} ${name}, src/ has no such ErrorCode`,
      );
    }
  });

  void it("lists every CloseCode with its number and name in the close-code table", () => {
    const { byNumber } = codeTable("Close codes");
    for (const [name, code] of Object.entries(CloseCode)) {
      assert.equal(
        byNumber.get(code),
        name,
        `close code ${code} ${name} is missing or misnamed in PROTOCOL.md`,
      );
    }
  });

  void it("lists no 4xxx close code that src/ does not define; other extra rows are the WebSocket layer's", () => {
    const { rows } = codeTable("Close codes");
    const defined = new Map<number, string>(Object.entries(CloseCode).map(([name, code]) => [code, name]));
    for (const cells of rows) {
      const code = Number(cells[0]);
      const name = unquote(cells[1] ?? "");
      if (defined.has(code)) {
        assert.equal(defined.get(code), name, `close code ${code} is named ${name} in PROTOCOL.md`);
      } else {
        assert.ok(
          !isPrivateRange(code),
          `PROTOCOL.md lists close code ${code} ${name}, src/ has no such CloseCode`,
        );
        assert.ok(
          cells.some((cell) => cell.includes("WebSocket layer")),
          `close code ${code} ${name} is not in CloseCode, so its row must say it comes from the WebSocket layer`,
        );
      }
    }
  });

  void it("mentions no undefined 4xxx code in any table cell", () => {
    const defined = new Set<number>([...Object.values(ErrorCode), ...Object.values(CloseCode)]);
    for (const cells of tableRows(doc)) {
      for (const cell of cells) {
        if (!/^`?4\d{3}`?$/.test(cell)) continue;
        const code = Number(unquote(cell));
        assert.ok(defined.has(code), `PROTOCOL.md has a table cell ${code}, which is no code in src/`);
      }
    }
  });

  void it("documents every event flag bit with its name", () => {
    const rows = tableRows(section(doc, "Data events")).filter((cells) => /^\d+$/.test(cells[0] ?? ""));
    const documented = new Map(rows.map((cells) => [Number(cells[0]), unquote(cells[1] ?? "")]));
    for (const [name, bit] of Object.entries(EventFlag)) {
      assert.equal(documented.get(bit), name, `flag ${bit} ${name} is missing from the flags table`);
    }
  });
});

void describe("PROTOCOL.md documents the feed input and the event keys", () => {
  void it("documents every FeedRejectReason, and no other reason", () => {
    const reasons = tableRows(section(doc, "Feed input"))
      .map((cells) => unquote(cells[0] ?? ""))
      .filter((cell) => /^[a-z_]+$/.test(cell));
    for (const reason of FEED_REJECT_REASONS) {
      assert.ok(reasons.includes(reason), `feed reject reason ${reason} is missing from PROTOCOL.md`);
    }
    for (const reason of reasons) {
      assert.ok(
        (FEED_REJECT_REASONS as readonly string[]).includes(reason),
        `PROTOCOL.md lists feed reject reason ${reason}, src/ has no such FeedRejectReason`,
      );
    }
  });

  void it("documents the payload keys of every event type, in wire order", () => {
    for (const [type, keys] of Object.entries(PAYLOAD_KEYS) as [MarketEventType, readonly string[]][]) {
      const documented = tableRows(section(doc, type)).map((cells) => unquote(cells[0] ?? ""));
      assert.deepEqual(documented, [...keys], `key table of ${type} in PROTOCOL.md`);
    }
  });

  void it("documents every header key the event encoder writes, in wire order", () => {
    // Header keys come from the encoder itself: a trade with f and n set, minus its payload keys.
    const bytes = new EventEncoder().encode({
      e: "trade",
      t: "x.y.trade",
      q: 1,
      te: 1,
      ts: 2,
      f: 1,
      n: 2,
      p: 1,
      z: 1,
    });
    const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });
    const written = Object.keys(unpackr.unpack(bytes) as object).filter(
      (key) => !(PAYLOAD_KEYS.trade as readonly string[]).includes(key),
    );
    // The first table of the section is the header-key table.
    const documented = (tables(section(doc, "Data events"))[0] ?? []).map((cells) => unquote(cells[0] ?? ""));
    assert.deepEqual(documented, written);
  });

  void it("names the subprotocols, event types and fixed limits of src/", () => {
    for (const name of Object.values(Subprotocol)) assert.ok(doc.includes(`\`${name}\``), name);
    for (const type of Object.keys(PAYLOAD_KEYS)) assert.ok(doc.includes(`\`${type}\``), type);
    const limits = tableRows(section(doc, "Limits"));
    const fixed = (constant: string): string | undefined =>
      limits.find((cells) => cells.some((cell) => cell.includes(constant)))?.[1];
    assert.match(fixed("MAX_TOPIC_LENGTH") ?? "", new RegExp(`^${MAX_TOPIC_LENGTH}\\b`));
    assert.match(fixed("MAX_TOPICS_PER_REQUEST") ?? "", new RegExp(`^${MAX_TOPICS_PER_REQUEST}\\b`));
  });

  void it("names only existing options, with their real defaults in the limits table", () => {
    const flags = new Map(OPTIONS.map((option) => [option.flag, option]));
    for (const [, flag] of doc.matchAll(/`--([a-z-]+)`/g)) {
      assert.ok(flags.has(flag as string), `PROTOCOL.md names --${flag}, which is not an option`);
    }
    for (const cells of tableRows(section(doc, "Limits"))) {
      const named = [...(cells[2] ?? "").matchAll(/`--([a-z-]+)`/g)].map((m) => m[1] as string);
      if (named.length !== 1) continue;
      const option = flags.get(named[0] as string);
      const documented = /^\d+/.exec(cells[1] ?? "")?.[0];
      assert.equal(Number(documented), option?.default, `default of --${named[0]} in the limits table`);
    }
  });
});
