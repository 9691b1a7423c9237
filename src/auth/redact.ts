import { createHash } from "node:crypto";

/**
 * What a log may say about a token: its length and a short SHA-256 fingerprint, enough to tell two
 * tokens apart or match a report, useless to replay. Never log a token itself (STYLE.md, SECURITY.md).
 */
export function redactToken(token: unknown): string {
  if (typeof token !== "string") return `[not a token: ${typeof token}]`;
  const fingerprint = createHash("sha256").update(token).digest("hex").slice(0, 12);
  return `[token sha256:${fingerprint} ${token.length} chars]`;
}
