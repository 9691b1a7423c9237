import { readFile } from "node:fs/promises";
import { WebAssetsUnavailableError } from "../errors/index.ts";
import {
  CROSS_ORIGIN_HEADERS,
  WEB_FILES,
  bundleWebAssets,
  contentTypeOf,
  type WebAsset,
  type WebPath,
} from "./bundle.ts";

/**
 * The dashboard and SDK files for the gateway, loaded once on first request:
 * - running the compiled service (`npm start`, `dist/`): read from `dist/public/`, which
 *   `npm run build` writes;
 * - running from source (tsx: `npm run dev`, the tests): bundled from `src/` with esbuild, so they
 *   are never stale and need no build step.
 */
export class WebAssets {
  #loaded: Promise<Record<WebPath, WebAsset>> | undefined;

  constructor(private readonly fromSource = import.meta.url.endsWith(".ts")) {}

  /** The asset served at `path`, or undefined when there is none. */
  async get(path: string): Promise<WebAsset | undefined> {
    if (!(path in WEB_FILES)) return undefined;
    this.#loaded ??= this.fromSource ? bundleWebAssets() : readBuilt();
    // A failed load is retried on the next request rather than cached.
    this.#loaded.catch(() => (this.#loaded = undefined));
    const asset = (await this.#loaded)[path as WebPath];
    const headers = CROSS_ORIGIN_HEADERS[path as WebPath];
    return headers === undefined ? asset : { ...asset, headers };
  }
}

async function readBuilt(): Promise<Record<WebPath, WebAsset>> {
  const dir = new URL("../public/", import.meta.url);
  const out: Partial<Record<WebPath, WebAsset>> = {};
  try {
    for (const [path, file] of Object.entries(WEB_FILES) as [WebPath, string][]) {
      out[path] = { contentType: contentTypeOf(file), body: await readFile(new URL(file, dir), "utf8") };
    }
  } catch (error) {
    throw new WebAssetsUnavailableError(
      `dashboard files are missing from ${dir.pathname}; run \`npm run build\``,
      { cause: error },
    );
  }
  return out as Record<WebPath, WebAsset>;
}
