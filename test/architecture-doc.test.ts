import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";

/**
 * docs/ARCHITECTURE.md against the tree (in the style of test/errors-doc.test.ts): every repository path
 * it names exists, every `Class.member` it names is declared in src/, every benchmark of its hot-files
 * table is a file of bench/, and the README links to it. A rename that forgets the document fails here.
 */
const root = new URL("../", import.meta.url).pathname;
const doc = readFileSync(join(root, "docs/ARCHITECTURE.md"), "utf8");

/** Paths under the repository's top-level folders named anywhere in the document (links included). */
function namedPaths(): string[] {
  const found = doc.match(/(?<![\w.-])(?:src|test|bench|proto|clients|scripts|docs)\/[\w./-]*/g) ?? [];
  // A sentence may end right after a path: "… in src/fanout/outboxes.ts." names the file, not "ts.".
  return [...new Set(found.map((p) => p.replace(/[.,]+$/, "")))];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.ts$/.test(entry.name) && !/\.test\.ts$/.test(entry.name) ? [path] : [];
  });
}

/** Table rows of the section whose heading is `title`, as cells. */
function tableRows(title: string): string[][] {
  const start = doc.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `docs/ARCHITECTURE.md has no section "${title}"`);
  const end = doc.indexOf("\n## ", start + 1);
  return doc
    .slice(start, end < 0 ? undefined : end)
    .split("\n")
    .filter((line) => line.startsWith("|") && !/^\|[\s:|-]+\|$/.test(line))
    .slice(1)
    .map((line) =>
      line
        .split("|")
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
}

describe("docs/ARCHITECTURE.md stays true", () => {
  it("every src/, test/, bench/, proto/ … path it names exists", () => {
    const paths = namedPaths();
    // The traces name the files of both paths; far fewer would mean the pattern above stopped matching.
    assert.ok(paths.filter((p) => p.startsWith("src/")).length >= 30, `only found ${paths.join(", ")}`);
    const missing = paths.filter((p) => !existsSync(join(root, p)));
    assert.deepEqual(missing, [], "paths named in docs/ARCHITECTURE.md that do not exist");
  });

  it("every file of the data-flow diagram (paths relative to src/) exists", () => {
    const diagram = /## Data flow\n+```\n([\s\S]*?)\n```/.exec(doc)?.[1];
    assert.ok(diagram !== undefined, 'docs/ARCHITECTURE.md has no diagram under "## Data flow"');
    const files = [...new Set(diagram.match(/(?<![\w/.-])[a-z-]+\/[a-z-]+\.ts\b/g) ?? [])];
    assert.ok(files.length >= 10, `only found ${files.join(", ")}`);
    const missing = files.filter((file) => !existsSync(join(root, "src", file)));
    assert.deepEqual(missing, [], "files in the data-flow diagram that src/ lacks");
  });

  it("names the files of the feed and subscribe traces", () => {
    const paths = new Set(namedPaths());
    for (const file of [
      "src/ingest/nats-ingest.ts",
      "src/fanout/hub.ts",
      "src/fanout/fanout.ts",
      "src/fanout/outboxes.ts",
      "src/fanout/outbox-writer.ts",
      "src/fanout/batch-writer.ts",
      "src/gateway/server.ts",
      "src/fanout/control-plane.ts",
      "src/fanout/request-handlers.ts",
      "src/subscriptions/subscription-table.ts",
      "src/fanout/snapshots.ts",
      "src/fanout/last-values.ts",
    ]) {
      assert.ok(paths.has(file), `docs/ARCHITECTURE.md does not name ${file}`);
    }
  });

  it("every `Class.member` it names is declared in src/, in the file that declares the class", () => {
    const files = sourceFiles(join(root, "src")).map((path) => ({ path, text: readFileSync(path, "utf8") }));
    const refs = new Set(
      [...doc.matchAll(/`([A-Z][A-Za-z0-9_]*)\.(#?[A-Za-z_][A-Za-z0-9_]*)`/g)].map((m) => `${m[1]}.${m[2]}`),
    );
    assert.ok(refs.size >= 20, `only found ${[...refs].join(", ")}`);
    const wrong: string[] = [];
    for (const ref of refs) {
      const [owner, member] = ref.split(".") as [string, string];
      const declaration = new RegExp(`\\b(?:class|interface|const|type)\\s+${owner}\\b`);
      const home = files.filter((f) => declaration.test(f.text));
      const name = member.replace(/[#$]/g, "\\$&");
      if (!home.some((f) => new RegExp(`(?<![\\w$])${name}\\b`).test(f.text))) wrong.push(ref);
    }
    assert.deepEqual(wrong, [], "names in docs/ARCHITECTURE.md that src/ does not declare");
  });

  it("every benchmark of the hot-files table is a file of bench/", () => {
    const rows = tableRows("Hot files and the benchmark that guards each");
    assert.ok(rows.length >= 10);
    const benches = rows.flatMap((cells) =>
      [...(cells[2] ?? "").matchAll(/`([\w-]+\.ts)`/g)].map((m) => m[1]!),
    );
    assert.ok(benches.length >= rows.length);
    const missing = benches.filter((file) => !existsSync(join(root, "bench", file)));
    assert.deepEqual(missing, [], "benchmarks named in the hot-files table that bench/ lacks");
  });

  it("the README links to it", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    assert.match(readme, /\]\(docs\/ARCHITECTURE\.md\)/);
  });
});
