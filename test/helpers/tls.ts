import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A throw-away certificate authority and a server certificate for 127.0.0.1 and localhost. */
export interface TestCertificates {
  /** PEM of the CA, for the client's `ca` option. */
  readonly ca: Buffer;
  readonly certPath: string;
  readonly keyPath: string;
}

/** Makes a test CA and a server certificate signed by it in `dir`, with the openssl command. */
export function makeTestCertificates(dir: string): TestCertificates {
  const file = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => {
    execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  };
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
    file("ca.key"),
    "-out",
    file("ca.crt"),
  );
  openssl(
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-subj",
    "/CN=localhost",
    "-keyout",
    file("server.key"),
    "-out",
    file("server.csr"),
  );
  openssl(
    "x509",
    "-req",
    "-in",
    file("server.csr"),
    "-CA",
    file("ca.crt"),
    "-CAkey",
    file("ca.key"),
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    writeExtensions(dir),
    "-out",
    file("server.crt"),
  );
  return { ca: readFileSync(file("ca.crt")), certPath: file("server.crt"), keyPath: file("server.key") };
}

function writeExtensions(dir: string): string {
  const path = join(dir, "server.ext");
  writeFileSync(path, "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  return path;
}

/** A client certificate (CN=tickwire-gateway) signed by the CA {@link makeTestCertificates} made in `dir`. */
export function makeClientCertificate(dir: string): { readonly certPath: string; readonly keyPath: string } {
  const file = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => {
    execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  };
  openssl(
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-subj",
    "/CN=tickwire-gateway",
    "-keyout",
    file("client.key"),
    "-out",
    file("client.csr"),
  );
  openssl(
    "x509",
    "-req",
    "-in",
    file("client.csr"),
    "-CA",
    file("ca.crt"),
    "-CAkey",
    file("ca.key"),
    "-CAcreateserial",
    "-days",
    "2",
    "-out",
    file("client.crt"),
  );
  return { certPath: file("client.crt"), keyPath: file("client.key") };
}
