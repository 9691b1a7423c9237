// `npm run build`, after tsc: writes the browser files the compiled gateway serves to dist/public/.
import { mkdir, writeFile } from "node:fs/promises";
import { WEB_FILES, bundleWebAssets } from "../src/web/index.ts";

const out = new URL("../dist/public/", import.meta.url);
await mkdir(out, { recursive: true });
const assets = await bundleWebAssets();
for (const [path, file] of Object.entries(WEB_FILES) as [keyof typeof WEB_FILES, string][]) {
  await writeFile(new URL(file, out), assets[path].body);
  process.stdout.write(`dist/public/${file}: ${assets[path].body.length} bytes\n`);
}
