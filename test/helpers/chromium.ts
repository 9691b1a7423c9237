import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** Debian's chromium (scripts/setup.sh --test installs it); TICKWIRE_CHROMIUM overrides. */
export function findChromium(): string {
  const given = process.env["TICKWIRE_CHROMIUM"];
  const candidates =
    given !== undefined && given !== ""
      ? [given]
      : [
          ...(process.env["PATH"] ?? "")
            .split(delimiter)
            .flatMap((d) => [join(d, "chromium"), join(d, "chromium-browser")]),
          "/usr/bin/chromium",
        ];
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  throw new Error(
    `no Chromium found (tried ${candidates.join(", ")}); install Debian's chromium (bash scripts/setup.sh --test) or set TICKWIRE_CHROMIUM`,
  );
}
