import { execFile } from "node:child_process";
import { cpSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** podman with the runtime that works on this machine kind (crun fails here; CONTAINERS.md). */
export async function podman(...args: string[]): Promise<string> {
  const { stdout } = await run("podman", ["--runtime", "runc", ...args], { maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
}

export async function imageExists(name: string): Promise<boolean> {
  return podman("image", "exists", name).then(
    () => true,
    () => false,
  );
}

/** A Debian 12 base made with debootstrap (no registry here), cached by image name across runs. */
export const DEBIAN_IMAGE = "localhost/tickwire-debian:bookworm";

/**
 * A stand-in for the official `node:20-bookworm-slim`: the Debian base plus this machine's Node.js binary
 * and npm. Cached by image name (which carries the Node.js version), so a second run is fast.
 */
export const NODE_IMAGE = `localhost/tickwire-node:${process.version}-bookworm`;

export async function ensureNodeBaseImage(): Promise<string> {
  if (await imageExists(NODE_IMAGE)) return NODE_IMAGE;
  const dir = mkdtempSync(join(tmpdir(), "tickwire-base-"));
  try {
    if (!(await imageExists(DEBIAN_IMAGE))) {
      const rootfs = join(dir, "rootfs");
      await run("debootstrap", ["--variant=minbase", "bookworm", rootfs], { maxBuffer: 64 * 1024 * 1024 });
      await run("sh", ["-c", `tar -C '${rootfs}' -c . | podman --runtime runc import - ${DEBIAN_IMAGE}`]);
    }
    const context = join(dir, "context");
    mkdirSync(context, { recursive: true });
    copyFileSync(process.execPath, join(context, "node"));
    // npm is beside node on Debian-style installs: <prefix>/lib/node_modules/npm.
    cpSync(join(dirname(process.execPath), "..", "lib", "node_modules", "npm"), join(context, "npm"), {
      recursive: true,
      dereference: true,
    });
    // A machine whose registry traffic goes through a TLS-inspecting proxy trusts its CA through
    // NODE_EXTRA_CA_CERTS; the stand-in trusts the same (the official image has only public roots).
    const extraCa = process.env["NODE_EXTRA_CA_CERTS"];
    if (extraCa !== undefined && extraCa !== "") copyFileSync(extraCa, join(context, "extra-ca.crt"));
    else writeFileSync(join(context, "extra-ca.crt"), "");
    writeFileSync(
      join(context, "Containerfile"),
      [
        `FROM ${DEBIAN_IMAGE}`,
        "COPY node /usr/local/bin/node",
        "COPY npm /usr/local/lib/node_modules/npm",
        "COPY extra-ca.crt /usr/local/share/tickwire-extra-ca.crt",
        "ENV NODE_EXTRA_CA_CERTS=/usr/local/share/tickwire-extra-ca.crt",
        "RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm" +
          " && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx && node --version && npm --version",
        "",
      ].join("\n"),
    );
    await podman("build", "--network", "host", "-t", NODE_IMAGE, context);
    return NODE_IMAGE;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
