// `npm run build:client [-- <dir>]`: the SDK as an installable package (clients/typescript, or a copy of it in
// <dir>): dist/index.js, one ES module with msgpackr inside (ws stays an optional peer, loaded in Node 20 only),
// and dist/index.d.ts with the declarations of src/client and the wire vocabulary it uses.
import { copyFile, mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import ts from "typescript";

const root = fileURLToPath(new URL("../", import.meta.url));
const packageDir = `${root}clients/typescript/`;
const outDir = process.argv[2] === undefined ? packageDir : `${process.argv[2].replace(/\/$/, "")}/`;

await rm(`${outDir}dist`, { recursive: true, force: true });
await mkdir(`${outDir}dist`, { recursive: true });
if (outDir !== packageDir) {
  for (const file of ["package.json", "README.md"])
    await copyFile(`${packageDir}${file}`, `${outDir}${file}`);
}

await build({
  entryPoints: [`${root}src/client/index.ts`],
  outfile: `${outDir}dist/index.js`,
  bundle: true,
  format: "esm",
  platform: "browser", // msgpackr's portable build; runs in Node too
  target: "es2022",
  legalComments: "none",
  logLevel: "warning",
});

const parsed = ts.getParsedCommandLineOfConfigFile(
  `${root}tsconfig.build.json`,
  {},
  {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    },
  },
);
if (parsed === undefined) throw new Error("cannot read tsconfig.build.json");
const program = ts.createProgram([`${root}src/client/index.ts`], {
  ...parsed.options,
  rootDir: `${root}src`,
  outDir: `${outDir}dist/types`,
  declaration: true,
  emitDeclarationOnly: true,
  noEmit: false,
  sourceMap: false,
  declarationMap: false,
});
const emitted = program.emit();
const problems = emitted.diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
if (problems.length > 0) throw new Error(`declaration emit failed:\n${problems.join("\n")}`);
// The sources import "./x.ts" (rewritten to .js in JavaScript, kept in declarations): point them at .js,
// which a consumer's TypeScript resolves to the .d.ts beside it.
for (const file of await readdir(`${outDir}dist/types`, { recursive: true })) {
  if (!file.endsWith(".d.ts")) continue;
  const path = `${outDir}dist/types/${file}`;
  const text = await readFile(path, "utf8");
  await writeFile(path, text.replace(/(from\s+"\.{1,2}\/[^"]+)\.ts"/g, '$1.js"'));
}
await writeFile(`${outDir}dist/index.d.ts`, 'export * from "./types/client/index.js";\n');
process.stdout.write(`${outDir}dist: index.js, index.d.ts, types/\n`);
