import { loadSecretFile, mintTestToken, type Grants } from "../auth/index.ts";
import type { TokenCommandConfig } from "../config/index.ts";

/** `tickwire token`: mints an HS256 token with the `tw` claim and returns it (the caller prints it). */
export async function mintToken(config: TokenCommandConfig): Promise<string> {
  const secret = await loadSecretFile(config.secretFile);
  let grants: Grants = { topics: config.topics };
  if (config.maxHz !== undefined) grants = { ...grants, maxHz: config.maxHz };
  if (config.maxConnections !== undefined) grants = { ...grants, maxConnections: config.maxConnections };
  return mintTestToken({
    secret,
    sub: config.sub,
    grants,
    ttlMs: config.ttlMs,
    ...(config.issuer !== undefined ? { issuer: config.issuer } : {}),
    ...(config.audience !== undefined ? { audience: config.audience } : {}),
  });
}
