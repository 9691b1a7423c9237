/**
 * Start-up failures of the token verifier. Messages name the option and the file or URL, never the
 * secret or key material (they may be printed to a terminal or a log).
 */
export class AuthConfigError extends Error {
  override readonly name = "AuthConfigError";
  readonly code = "TICKWIRE_ERR_AUTH_CONFIG";
  constructor(readonly problems: readonly string[]) {
    super(`invalid auth configuration:\n  - ${problems.join("\n  - ")}`);
  }
}

/** A key or secret file that cannot be read or is not a usable key. */
export class AuthKeyError extends Error {
  override readonly name = "AuthKeyError";
  readonly code = "TICKWIRE_ERR_AUTH_KEY";
  constructor(message: string, options?: { readonly cause?: unknown }) {
    super(message, options);
  }
}
