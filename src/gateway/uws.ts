import { createRequire } from "node:module";
import type * as UwsModule from "uWebSockets.js";
import { NativeUwsUnavailableError } from "../errors/index.ts";

/**
 * Loads uWebSockets.js and refuses the package's silent fallback.
 *
 * The pinned package (`@trufflesuite/uws-js-unofficial`, see BRIEF.md) falls back to a `ws`-based
 * shim when its native binary does not load (or when UWS_USE_FALLBACK is set). The shim has no
 * pub/sub and is an order of magnitude slower, so tickwire never runs on it.
 */
export type Uws = typeof UwsModule;

export function isNativeUws(uws: Partial<Uws>): boolean {
  const app = uws.App as unknown;
  return typeof app === "function" && Function.prototype.toString.call(app).includes("[native code]");
}

export function loadUws(): Uws {
  const require = createRequire(import.meta.url);
  let uws: Uws;
  const restore = silenceConsole();
  try {
    uws = require("uWebSockets.js") as Uws;
  } catch (cause) {
    throw new NativeUwsUnavailableError("the module failed to load", { cause });
  } finally {
    restore();
  }
  if (!isNativeUws(uws)) {
    throw new NativeUwsUnavailableError(
      "the binary failed to load for this Node.js build, or UWS_USE_FALLBACK is set",
    );
  }
  return uws;
}

/** The package prints its own fallback warning; our error says more, so keep stdout clean. */
function silenceConsole(): () => void {
  const { log, warn } = console;
  console.log = () => undefined;
  console.warn = () => undefined;
  return () => {
    console.log = log;
    console.warn = warn;
  };
}
