import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";

// The SDK's `.d.ts` is its public contract (package.json "exports": "./client"). Emit it the way
// `npm run build` does (tsconfig.build.json) and read what a caller would see.
const root = fileURLToPath(new URL("../../", import.meta.url));

function emitDeclarations(): Map<string, string> {
  const configPath = `${root}tsconfig.build.json`;
  const config = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) =>
        assert.fail(ts.flattenDiagnosticMessageText(d.messageText, "\n")),
    },
  );
  assert.ok(config !== undefined);
  const program = ts.createProgram([`${root}src/client/index.ts`], {
    ...config.options,
    emitDeclarationOnly: true,
    noEmit: false,
  });
  const files = new Map<string, string>();
  const result = program.emit(undefined, (name, text) => {
    if (name.endsWith(".d.ts")) files.set(name.slice(name.indexOf("/dist/") + "/dist/".length), text);
  });
  assert.deepEqual(
    result.diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n")),
    [],
    "declaration emit reports no problem",
  );
  return files;
}

void describe("the SDK's declarations", () => {
  const files = emitDeclarations();
  const sdk = [...files].filter(([name]) => name.startsWith("client/") || name.startsWith("wire/"));

  void it("reach no server code: only client/ and wire/ are emitted from the SDK's entry", () => {
    const others = [...files.keys()].filter(
      (name) => !name.startsWith("client/") && !name.startsWith("wire/"),
    );
    assert.deepEqual(others, []);
    assert.ok(files.has("wire/index.d.ts"), "the shared wire vocabulary ships beside the SDK");
  });

  void it("carry no internal member: no @internal tag, and Subscription is made only by the client", () => {
    for (const [name, text] of sdk) assert.doesNotMatch(text, /@internal/, name);
    const subscription = files.get("client/subscription.d.ts") ?? "";
    const klass = subscription.slice(subscription.indexOf("export declare class Subscription"));
    assert.match(klass, /private constructor\(\);/, "no public constructor");
    for (const member of ["accepted", "deliver", "deliverGap", "end", "patterns"])
      assert.doesNotMatch(klass, new RegExp(`^\\s+(readonly )?${member}\\b`, "m"), `Subscription.${member}`);
    const client = files.get("client/client.d.ts") ?? "";
    assert.doesNotMatch(client, /unsubscribeSubscription/);
    assert.match(client, /get stats\(\): ClientStats;/, "stats is a getter (a copy), not a live field");
  });
});
