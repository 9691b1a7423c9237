import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { TestClient } from "./helpers/client.ts";
import { freePort, waitFor } from "./helpers/daemon.ts";
import { ensureNodeBaseImage, podman } from "./helpers/podman.ts";

// Opt-in (it builds an image: minutes on a fresh machine): `npm run test:container`, run by .ci/run.
const enabled = process.env["TICKWIRE_CONTAINER_TEST"] === "1";
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const IMAGE = "localhost/tickwire:test";

describe(
  "container image (Dockerfile) built and run with podman",
  { skip: enabled ? false : "set TICKWIRE_CONTAINER_TEST=1 (npm run test:container)" },
  () => {
    const name = `tickwire-test-${process.pid}`;
    let port: number;
    const clients: TestClient[] = [];

    before(async () => {
      const base = await ensureNodeBaseImage();
      await podman(
        "build",
        "--network",
        "host",
        "--format",
        "docker",
        "--build-arg",
        `NODE_IMAGE=${base}`,
        "-t",
        IMAGE,
        ROOT,
      );
      port = await freePort();
      // Host networking (required here); the port is chosen through the image's documented variable.
      await podman("run", "-d", "--name", name, "--network", "host", "-e", `TICKWIRE_PORT=${port}`, IMAGE);
    });

    after(async () => {
      for (const client of clients) client.ws.terminate();
      await podman("rm", "-f", "-t", "0", name).catch(() => "");
    });

    it("runs as a non-root user with a HEALTHCHECK on /healthz and STOPSIGNAL SIGTERM", async () => {
      const [image] = JSON.parse(await podman("image", "inspect", IMAGE)) as {
        Config?: { User?: string; StopSignal?: string };
        Healthcheck?: { Test?: string[] };
      }[];
      assert.equal(image?.Config?.User, "tickwire");
      assert.equal(image?.Config?.StopSignal, "SIGTERM");
      assert.match((image?.Healthcheck?.Test ?? []).join(" "), /\/healthz/);
    });

    it("answers /readyz and a client gets demo prices (embedded mode)", async () => {
      await waitFor(
        async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200,
        "/readyz 200 from the container",
        undefined,
        60_000,
      );
      const healthcheck = await podman("healthcheck", "run", name).then(
        () => "healthy",
        (error: Error) => error.message,
      );
      assert.equal(healthcheck, "healthy");
      const client = await TestClient.connect(`ws://127.0.0.1:${port}/v1/stream`);
      clients.push(client);
      await client.subscribe(["*.*.quote"]);
      await client.until(() => client.events.some((e) => e["e"] === "quote"), 15_000, "a demo quote");
      const quote = client.events.find((e) => e["e"] === "quote");
      assert.equal(typeof quote?.["bp"], "number");
    });

    it("`podman stop` drains: the client gets 1001 with the retry hint and the container exits 0", async () => {
      const client = await TestClient.connect(`ws://127.0.0.1:${port}/v1/stream`);
      clients.push(client);
      await client.request("ping");
      const stop = spawn("podman", ["--runtime", "runc", "stop", "-t", "30", name], { stdio: "ignore" });
      const stopped = new Promise<number | null>((resolve) => stop.once("exit", resolve));
      const closed = await client.closed;
      assert.equal(closed.code, 1001);
      assert.equal(typeof (JSON.parse(closed.reason) as { retryAfterMs?: unknown }).retryAfterMs, "number");
      assert.equal(await stopped, 0);
      assert.equal(await podman("inspect", "--format", "{{.State.ExitCode}}", name), "0");
    });
  },
);
