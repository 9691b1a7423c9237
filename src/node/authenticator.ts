import type { TokenVerifier } from "../auth/index.ts";
import type { Authenticator } from "../fanout/index.ts";

/**
 * The fan-out's {@link Authenticator} over src/auth's verifier: the fan-out never imports jose
 * (.dependency-cruiser.cjs: fanout-inward). `validForMs` turns the token's wall-clock `exp` (plus the
 * clock tolerance the verifier also granted) into a duration the hub's monotonic clock can use.
 */
export function authenticatorOver(
  verifier: TokenVerifier,
  clockToleranceMs: number,
  now: () => number = Date.now,
): Authenticator {
  return {
    timeoutMs: verifier.authTimeoutMs,
    verify: async (token, sub) => {
      const result = await verifier.verify(token, sub);
      if (!result.ok) return result;
      const validForMs = result.identity.expiresAtMs + clockToleranceMs - now();
      return { ok: true, identity: result.identity, validForMs };
    },
  };
}
