import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { TickwireError, TickwireErrorCode } from "../src/errors/index.ts";
import * as errors from "../src/errors/index.ts";

/**
 * docs/errors.md against src/ (like test/protocol-doc.test.ts, after fastify's error-docs test): every
 * `TICKWIRE_ERR_*` code written anywhere in src/ is documented, the document names no code that src/
 * does not have, and every process error is declared in the catalogue (src/errors/).
 */
const doc = readFileSync(new URL("../docs/errors.md", import.meta.url), "utf8");
const src = new URL("../src/", import.meta.url).pathname;
const CODE = /TICKWIRE_ERR_[A-Z0-9_]+/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.ts$/.test(entry.name) && !/\.test\.ts$/.test(entry.name) ? [path] : [];
  });
}

/** Codes in the first column of the doc's tables, by section. */
function documented(section: "Process errors" | "SDK errors"): Set<string> {
  const start = doc.indexOf(`## ${section}`);
  assert.ok(start >= 0, `docs/errors.md has no section "${section}"`);
  const end = doc.indexOf("\n## ", start + 1);
  const text = doc.slice(start, end < 0 ? undefined : end);
  const codes = text
    .split("\n")
    .filter((line) => line.startsWith("| `TICKWIRE_ERR_"))
    .map((line) => /`(TICKWIRE_ERR_[A-Z0-9_]+)`/.exec(line)?.[1] as string);
  return new Set(codes);
}

describe("docs/errors.md stays true", () => {
  const catalogue = new Set<string>(Object.values(TickwireErrorCode));

  it("documents every code in the catalogue, and no process code the catalogue lacks", () => {
    assert.deepEqual([...documented("Process errors")].sort(), [...catalogue].sort());
  });

  it("every TICKWIRE_ERR_ code in src/ is documented, and every documented code is in src/", () => {
    const inSource = new Set<string>();
    for (const file of sourceFiles(src)) {
      for (const code of readFileSync(file, "utf8").match(CODE) ?? []) inSource.add(code);
    }
    const inDoc = new Set([...documented("Process errors"), ...documented("SDK errors")]);
    assert.deepEqual([...inSource].sort(), [...inDoc].sort());
  });

  it("outside the SDK, codes are written only in the catalogue (src/errors/)", () => {
    const stray = sourceFiles(src)
      .filter((file) => !file.includes("/src/errors/") && !file.includes("/src/client/"))
      .filter((file) => /TICKWIRE_ERR_/.test(readFileSync(file, "utf8")));
    assert.deepEqual(stray, []);
  });

  it("each catalogue class is a TickwireError whose name is its class name and whose code is catalogued", () => {
    const classes = Object.entries(errors).filter(
      ([, value]) => typeof value === "function" && value.prototype instanceof TickwireError,
    );
    assert.ok(classes.length >= catalogue.size);
    const row = (name: string): string | undefined =>
      doc.split("\n").find((line) => line.includes(`| \`${name}\``));
    for (const [name] of classes) assert.ok(row(name), `docs/errors.md names class ${name}`);
    const config = new errors.ConfigError(["x"]);
    assert.equal(config.name, "ConfigError");
    assert.equal(config.code, "TICKWIRE_ERR_CONFIG");
    const cause = new Error("underneath");
    const drain = new errors.NatsDrainError({ cause });
    assert.equal(drain.cause, cause);
    assert.equal(drain.name, "NatsDrainError");
    assert.ok(catalogue.has(drain.code));
  });
});
