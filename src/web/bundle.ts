import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { Plugin } from "esbuild";

/** One file the gateway serves over HTTP. */
export interface WebAsset {
  readonly contentType: string;
  readonly body: string;
  /** Headers of this file's responses (beyond content type and caching). */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Files pages of other origins may load: the SDK (`import … from "http://gateway:9000/client.js"`), a
 * public file with no credentials involved, so any origin. The dashboard stays same-origin.
 */
export const CROSS_ORIGIN_HEADERS: Readonly<Partial<Record<WebPath, Readonly<Record<string, string>>>>> = {
  "/client.js": { "access-control-allow-origin": "*" },
};

/** Paths the gateway serves, and the file name of each in `dist/public/`. */
export const WEB_FILES = {
  "/": "index.html",
  "/client.js": "client.js",
  "/dashboard.js": "dashboard.js",
} as const;
export type WebPath = keyof typeof WEB_FILES;

const HTML = "text/html; charset=utf-8";
const JS = "text/javascript; charset=utf-8";

export function contentTypeOf(file: string): string {
  return file.endsWith(".html") ? HTML : JS;
}

const source = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

/**
 * Builds the browser files from source with esbuild (a devDependency): the SDK as one self-contained
 * ES module (`/client.js`, msgpackr included), the dashboard (`/dashboard.js`), which imports the SDK
 * from `./client.js` at run time rather than carrying a second copy, and the dashboard's HTML.
 * Called by `npm run build` (scripts/build-web.ts) and, when running from source, by the gateway.
 */
export async function bundleWebAssets(): Promise<Record<WebPath, WebAsset>> {
  const esbuild = await import("esbuild");
  const common = {
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    write: false,
    legalComments: "none",
    logLevel: "silent",
  } as const;
  // The SDK is loaded by the page from the gateway; the dashboard must not inline it.
  const sdkExternal: Plugin = {
    name: "sdk-external",
    setup(build) {
      build.onResolve({ filter: /\/client\/index\.ts$/ }, () => ({ path: "./client.js", external: true }));
    },
  };
  const [client, dashboard, html] = await Promise.all([
    esbuild.build({ ...common, entryPoints: [source("../client/index.ts")] }),
    esbuild.build({ ...common, entryPoints: [source("../dashboard/main.ts")], plugins: [sdkExternal] }),
    readFile(source("../dashboard/index.html"), "utf8"),
  ]);
  return {
    "/": { contentType: HTML, body: html },
    "/client.js": { contentType: JS, body: outputText(client) },
    "/dashboard.js": { contentType: JS, body: outputText(dashboard) },
  };
}

function outputText(result: { outputFiles?: { text: string }[] }): string {
  const file = result.outputFiles?.[0];
  if (file === undefined) throw new Error("esbuild produced no output");
  return file.text;
}
