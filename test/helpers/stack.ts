import { loadConfig, type Config } from "../../src/config/index.ts";
import { NatsServerProcess } from "../../src/embedded/index.ts";
import { FeedPublisher, createHistoryStream } from "../../src/ingest/index.ts";
import { createLogger } from "../../src/logging/index.ts";
import { startService, type Service } from "../../src/process/index.ts";
import { encodeFeedPayload } from "../../src/protocol/index.ts";
import type { TestClient } from "./client.ts";

/** A real nats-server (with monitoring), the real gateway on a free port, and a feed publisher. */
export interface Stack {
  readonly nats: NatsServerProcess;
  readonly service: Service;
  readonly publisher: FeedPublisher;
  /** ws://127.0.0.1:PORT/v1/stream */
  readonly wsUrl: string;
  /** http://127.0.0.1:PORT */
  readonly httpUrl: string;
  /** Publishes one feed message on md.<topic> (fields msgpack-encoded unless raw bytes are given). */
  publish(topic: string, fields: Readonly<Record<string, number>> | Uint8Array | string): void;
  /** Publishes and waits until nats-server has processed it. */
  publishAndFlush(
    topic: string,
    fields: Readonly<Record<string, number>> | Uint8Array | string,
  ): Promise<void>;
  /** Subscribes and waits until nats-server shows the gateway's interest, so a publish cannot race it. */
  subscribe(client: TestClient, topics: string[]): Promise<Record<string, unknown>>;
  /** Scrapes /metrics and returns the value of one sample (`name{labels}`), 0 when absent. */
  metric(sample: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * Starts nats-server (with JetStream when asked), the gateway and a publisher. The gateway's feed
 * history is read only with JetStream on (the stream must then be created by the test).
 */
/** Some values of some groups of a {@link Config}; the rest stays as loaded. */
export type ConfigOverrides = { readonly [G in keyof Config]?: Partial<Config[G]> };

/** `base` with `overrides` applied group by group, frozen like a loaded config. */
export function withOverrides(base: Readonly<Config>, overrides: ConfigOverrides): Readonly<Config> {
  const merged: Record<string, unknown> = {};
  for (const group of Object.keys(base) as (keyof Config)[]) {
    merged[group] = Object.freeze({ ...base[group], ...overrides[group] });
  }
  return Object.freeze(merged) as Readonly<Config>;
}

export async function startStack(
  overrides: ConfigOverrides = {},
  options: { readonly jetstream?: boolean } = {},
): Promise<Stack> {
  const nats = await NatsServerProcess.start({ monitorPort: 0, jetstream: options.jetstream === true });
  const base = loadConfig(
    // Scrapes read counters right after the action that moved them: no cached scrape.
    ["--port", "0", "--nats", nats.url, "--log-level", "silent", "--metrics-cache-ms", "0"].concat(
      options.jetstream === true ? [] : ["--history-stream", "off"],
    ),
    {},
  );
  const config = withOverrides(base, overrides);
  const service = await startService(config, createLogger(config.log.level));
  await service.natsReady;
  const publisher = await FeedPublisher.connect(nats.url, "test-feed");
  const httpUrl = `http://127.0.0.1:${service.port}`;
  const payload = (fields: Readonly<Record<string, number>> | Uint8Array | string): Uint8Array =>
    typeof fields === "string"
      ? Buffer.from(fields)
      : fields instanceof Uint8Array
        ? fields
        : encodeFeedPayload(fields);
  return {
    nats,
    service,
    publisher,
    wsUrl: `ws://127.0.0.1:${service.port}/v1/stream`,
    httpUrl,
    publish: (topic, fields) => publisher.publish(`md.${topic}`, payload(fields)),
    publishAndFlush: async (topic, fields) => {
      publisher.publish(`md.${topic}`, payload(fields));
      await publisher.flush();
    },
    subscribe: async (client, topics) => {
      const reply = await client.subscribe(topics);
      await eventually(
        async () => {
          const held = await natsSubscriptionsOfGateway(nats);
          return topics.every((t) => held.includes(`md.${t}`));
        },
        `NATS interest in ${topics.join(", ")}`,
      );
      return reply;
    },
    metric: async (sample) => metricValue(await (await fetch(`${httpUrl}/metrics`)).text(), sample),
    close: async () => {
      await publisher.close();
      await service.stop();
      await nats.dispose();
    },
  };
}

export function metricValue(text: string, sample: string): number {
  for (const line of text.split("\n")) {
    if (line.startsWith(sample + " ")) return Number(line.slice(sample.length + 1));
  }
  return 0;
}

/** A valid quote payload at time now. */
export function quote(bp: number, extra: Record<string, number> = {}): Record<string, number> {
  return { te: Date.now() * 1000, bp, bz: 100, ap: bp + 0.01, az: 200, ...extra };
}

export function trade(p: number, z = 10): Record<string, number> {
  return { te: Date.now() * 1000, p, z };
}

/** Polls `check` every 20 ms until it returns true or `timeoutMs` passes (then throws `what`). */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** NATS subscriptions the gateway holds, read from nats-server's monitoring endpoint. */
export async function natsSubscriptionsOfGateway(nats: NatsServerProcess): Promise<string[]> {
  const response = await fetch(`${nats.monitorUrl}/connz?subs=1`);
  const body = (await response.json()) as {
    connections?: { name?: string; subscriptions_list?: string[] }[];
  };
  // Connection names are `tickwire-gateway/<host>/<pid>[/w<worker>]` (unique per process).
  const gateway = body.connections?.find((c) => c.name?.startsWith("tickwire-gateway/") === true);
  return [...(gateway?.subscriptions_list ?? [])].sort();
}

/**
 * Publishes bursts of quotes on `topic` until the gateway conflates for a connection that stopped
 * reading (a paused socket, a frozen process). Kernel buffers take a few MB first, hence bursts. A
 * reader whose kernel buffers still have room can be over a small soft watermark for a moment during a
 * burst, so the test is that one more connection than before is conflated 300 ms after a burst and still
 * is after another 500 ms without publishing: only a connection that stopped reading stays that way. A
 * last burst then gives the conflated connection updates to merge (CONFLATED with n ≥ 2 when it reads again).
 */
export async function publishUntilSlowConsumer(stack: Stack, topic: string, what: string): Promise<void> {
  const before = await stack.metric("tickwire_slow_connections");
  await eventually(
    async () => {
      for (let i = 0; i < 2000; i++) stack.publish(topic, quote(100 + (i % 50)));
      await stack.publisher.flush();
      await new Promise((resolve) => setTimeout(resolve, 300));
      if ((await stack.metric("tickwire_slow_connections")) <= before) return false;
      await new Promise((resolve) => setTimeout(resolve, 500));
      return (await stack.metric("tickwire_slow_connections")) > before;
    },
    what,
    60_000,
  );
  for (let i = 0; i < 200; i++) stack.publish(topic, quote(100 + (i % 50)));
  await stack.publisher.flush();
}

/**
 * Creates the feed-history stream a deployment runs beside tickwire (README "Feed history": the last
 * message of every `md.>` subject, in memory) with the same code as `tickwire history create`.
 */
export async function addHistoryStream(natsUrl: string): Promise<void> {
  await createHistoryStream([natsUrl], {
    name: "TICKWIRE_LAST",
    subjectPrefix: "md",
    storage: "memory",
    replicas: 1,
    maxBytes: 256 * 1024 * 1024,
  });
}
