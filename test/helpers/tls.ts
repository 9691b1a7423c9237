import { execFileSync } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NatsServerProcess } from "../../src/embedded/index.ts";

/** A throw-away certificate authority and a server certificate for 127.0.0.1 and localhost. */
export interface TestCertificates {
  /** PEM of the CA, for the client's `ca` option. */
  readonly ca: Buffer;
  /** The CA's PEM file, for clients that take a path (Python's `ca_file`, NATS `--tlscacert`). */
  readonly caPath: string;
  readonly certPath: string;
  readonly keyPath: string;
  /**
   * base64 SHA-256 of the server certificate's SubjectPublicKeyInfo: what Chromium's
   * `--ignore-certificate-errors-spki-list` takes (and HPKP-style pins).
   */
  readonly spkiSha256: string;
}

/** Runs `openssl …` with its output discarded (stderr kept for the error of a failed call). */
function openssl(...args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** A new P-256 key in `dir/<name>.key` and a signing request for `subject` in `dir/<name>.csr`. */
function keyAndRequest(dir: string, name: string, subject: string): void {
  openssl(
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-subj",
    subject,
    "-keyout",
    join(dir, `${name}.key`),
    "-out",
    join(dir, `${name}.csr`),
  );
}

/** Signs `dir/<name>.csr` with the CA in `dir` into `dir/<name>.crt`, with extensions when given. */
function signWithCa(dir: string, name: string, extensions?: string): void {
  const args = ["x509", "-req", "-in", join(dir, `${name}.csr`), "-CA", join(dir, "ca.crt")];
  args.push("-CAkey", join(dir, "ca.key"), "-CAcreateserial", "-days", "2");
  if (extensions !== undefined) {
    const path = join(dir, `${name}.ext`);
    writeFileSync(path, extensions);
    args.push("-extfile", path);
  }
  openssl(...args, "-out", join(dir, `${name}.crt`));
}

/** Makes a test CA and a server certificate signed by it in `dir`, with the openssl command. */
export function makeTestCertificates(dir: string): TestCertificates {
  const caPath = join(dir, "ca.crt");
  openssl(
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=tickwire test CA",
    "-keyout",
    join(dir, "ca.key"),
    "-out",
    caPath,
  );
  keyAndRequest(dir, "server", "/CN=localhost");
  signWithCa(dir, "server", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  const certPath = join(dir, "server.crt");
  const spki = new X509Certificate(readFileSync(certPath)).publicKey.export({ type: "spki", format: "der" });
  return {
    ca: readFileSync(caPath),
    caPath,
    certPath,
    keyPath: join(dir, "server.key"),
    spkiSha256: createHash("sha256").update(spki).digest("base64"),
  };
}

/** A client certificate (CN=tickwire-gateway) signed by the CA {@link makeTestCertificates} made in `dir`. */
export function makeClientCertificate(dir: string): { readonly certPath: string; readonly keyPath: string } {
  keyAndRequest(dir, "client", "/CN=tickwire-gateway");
  signWithCa(dir, "client");
  return { certPath: join(dir, "client.crt"), keyPath: join(dir, "client.key") };
}

/** Encrypts the key at `keyPath` with `passphrase` (AES-256) into `outPath`, for `--tls-passphrase`. */
export function encryptKey(keyPath: string, passphrase: string, outPath: string): void {
  openssl("ec", "-in", keyPath, "-aes256", "-passout", `pass:${passphrase}`, "-out", outPath);
}

/**
 * A nats-server that speaks TLS only and requires a client certificate signed by the test CA
 * (`--tlsverify`) plus a user and password; `tlsUrl` is its `tls://` URL.
 */
export async function startTlsNats(
  certs: TestCertificates,
  credentials: { readonly user: string; readonly password: string },
  options: { readonly jetstream?: boolean } = {},
): Promise<{ readonly nats: NatsServerProcess; readonly tlsUrl: string }> {
  const nats = await NatsServerProcess.start({
    ...(options.jetstream === true ? { jetstream: true } : {}),
    extraArgs: [
      ...["--tlsverify", "--tlscert", certs.certPath, "--tlskey", certs.keyPath, "--tlscacert", certs.caPath],
      ...["--user", credentials.user, "--pass", credentials.password],
    ],
  });
  return { nats, tlsUrl: nats.url.replace("nats://", "tls://") };
}
