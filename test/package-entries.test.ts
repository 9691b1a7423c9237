import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";

// Every entry point package.json names in dist/ is built from a source file that exists (an export
// once pointed at dist/main.js after src/main.ts had gone); bin entries outside dist/ exist as they are.
const ROOT = new URL("../", import.meta.url);
const pkg = JSON.parse(readFileSync(new URL("package.json", ROOT), "utf8")) as {
  exports: Record<string, string | Record<string, string>>;
  bin: Record<string, string>;
};

function sourceOf(target: string): string {
  if (!target.startsWith("./dist/")) return target;
  return `./src/${target
    .slice("./dist/".length)
    .replace(/\.d\.ts$/, ".ts")
    .replace(/\.js$/, ".ts")}`;
}

describe("package.json entry points", () => {
  const targets = [
    ...Object.values(pkg.exports).flatMap((entry) =>
      typeof entry === "string" ? [entry] : Object.values(entry),
    ),
    ...Object.values(pkg.bin),
  ];
  for (const target of targets) {
    it(`${target} is built from a file that exists (${sourceOf(target)})`, () => {
      assert.ok(existsSync(new URL(sourceOf(target), ROOT)), `${sourceOf(target)} is missing`);
    });
  }
});
