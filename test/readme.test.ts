import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { OPTIONS } from "../src/config/index.ts";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const ci = readFileSync(new URL("../.ci/run", import.meta.url), "utf8");

describe("README stays true", () => {
  it("the configuration table has a row per option with its variables and default", () => {
    for (const option of OPTIONS) {
      const row = readme
        .split("\n")
        .find((line) => new RegExp(`^\\|\\s*\`--${option.flag}\`\\s*\\|`).test(line));
      assert.ok(row, `README has no row for --${option.flag}`);
      for (const env of option.env) assert.ok(row.includes(`\`${env}\``), `${option.flag}: ${env}`);
      assert.ok(
        row.includes(`\`${option.default === "" ? '""' : String(option.default)}\``),
        `${option.flag}: default`,
      );
    }
    const rows = readme.split("\n").filter((line) => /^\|\s*`--[a-z-]+`\s*\|/.test(line));
    assert.equal(rows.length, OPTIONS.length, "no rows for options that no longer exist");
  });

  it("CI runs exactly the README's test command", () => {
    const testCommand = /^bash scripts\/setup\.sh --test && npm test/m;
    assert.match(readme, testCommand);
    assert.match(ci, testCommand);
  });
});
