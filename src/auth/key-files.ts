import { createPublicKey, createSecretKey, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { ASYMMETRIC_ALGORITHMS, MIN_SECRET_BYTES, type JwtAlgorithm } from "./auth-config.ts";
import { AuthKeyError } from "../errors/index.ts";

/**
 * Reads an HMAC secret: the file's bytes less trailing whitespace (so `openssl rand -base64 48 > f`
 * works; the base64 text itself is the secret). Errors name the file and the length, never a byte of it.
 */
export async function loadSecretFile(path: string): Promise<KeyObject> {
  const bytes = await read(path, "--jwt-secret-file");
  let end = bytes.length;
  while (end > 0 && isSpace(bytes[end - 1] as number)) end--;
  if (end < MIN_SECRET_BYTES) {
    throw new AuthKeyError(
      `--jwt-secret-file ${path}: the secret is ${end} bytes; HMAC needs at least ${MIN_SECRET_BYTES} (RFC 7518 §3.2)`,
    );
  }
  return createSecretKey(bytes.subarray(0, end));
}

/** A public key (SPKI PEM or X.509 certificate PEM) and the algorithms its type can verify. */
export interface PublicKeyFile {
  readonly key: KeyObject;
  readonly algorithms: readonly JwtAlgorithm[];
  /** e.g. "rsa 2048-bit", "ec P-256", "ed25519", for the start-up log. */
  readonly description: string;
}

export async function loadPublicKeyFile(path: string): Promise<PublicKeyFile> {
  const pem = (await read(path, "--jwt-public-key-file")).toString("utf8");
  // A private key would be accepted by createPublicKey (it derives the public half); refuse it so
  // that a signing key is not left readable on every gateway by mistake.
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new AuthKeyError(
      `--jwt-public-key-file ${path} holds a private key; give the public key (openssl pkey -pubout)`,
    );
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (cause) {
    throw new AuthKeyError(`--jwt-public-key-file ${path} is not a PEM public key or certificate`, { cause });
  }
  return { key, ...algorithmsFor(key, path) };
}

function algorithmsFor(
  key: KeyObject,
  path: string,
): { readonly algorithms: readonly JwtAlgorithm[]; readonly description: string } {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case "rsa":
      return {
        algorithms: ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"],
        description: `rsa ${details.modulusLength ?? "?"}-bit`,
      };
    case "rsa-pss":
      return {
        algorithms: ["PS256", "PS384", "PS512"],
        description: `rsa-pss ${details.modulusLength ?? "?"}-bit`,
      };
    case "ec": {
      const curve = details.namedCurve;
      const alg =
        curve === "prime256v1"
          ? "ES256"
          : curve === "secp384r1"
            ? "ES384"
            : curve === "secp521r1"
              ? "ES512"
              : undefined;
      if (alg === undefined) {
        throw new AuthKeyError(
          `--jwt-public-key-file ${path}: EC curve ${curve ?? "?"} is not P-256, P-384 or P-521`,
        );
      }
      return { algorithms: [alg], description: `ec ${curve ?? "?"}` };
    }
    case "ed25519":
      return { algorithms: ["EdDSA", "Ed25519"], description: "ed25519" };
    case "dsa":
    case "ed448": // jose 6 verifies Ed25519 only
    case "x25519":
    case "x448":
    case undefined:
      break;
  }
  throw new AuthKeyError(
    `--jwt-public-key-file ${path}: key type ${key.asymmetricKeyType ?? "?"} is not supported (RSA, EC P-256/384/521, Ed25519)`,
  );
}

/** The public-key algorithms, for a JWKS (each key's own `kty`/`alg` narrows them further). */
export const JWKS_ALGORITHMS: readonly JwtAlgorithm[] = ASYMMETRIC_ALGORITHMS;

async function read(path: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? "unknown error";
    throw new AuthKeyError(`${flag} ${path} cannot be read (${code})`, { cause });
  }
}

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}
