/**
 * How a load client speaks to its target. The harness ships the tickwire v1 adapter; bench/ plugs in
 * adapters for the competitors of the side-by-side (socket.io, NATS over WebSocket) through
 * `--adapter <module path>`, so every target is driven by the same clients and the same accounting.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Packr, Unpackr } from "msgpackr";
import type { ClientPlan } from "./model.ts";
import type { LoadTestOptions } from "./options.ts";

/** What a connection reports to the harness. */
export interface AdapterSink {
  /**
   * One data event. `q` < 0 when the target numbers nothing; `teUs` is the publish stamp the feed
   * carried (µs since the epoch); the harness reads the receive time once per frame.
   */
  event(topic: string, q: number, flags: number, n: number, teUs: number): void;
  /** Every subscribe request of this connection is answered (successfully or not). */
  subscribed(): void;
  /** An error reply, or one refused topic of a subscribe, by its numbered code. */
  error(code: number): void;
  heartbeat(): void;
  snapshotEnd(): void;
  send(data: string | Buffer): void;
}

/** One connection's protocol state. */
export interface ConnectionHandler {
  /** The WebSocket is open: subscribe. */
  open(): void;
  message(data: Buffer, isBinary: boolean): void;
}

export interface ClientAdapter {
  readonly name: string;
  /** The URL to connect to, from `--url`. */
  url(target: string): string;
  readonly protocols: readonly string[];
  connection(sink: AdapterSink, plan: ClientPlan): ConnectionHandler;
}

/** What an `--adapter` module exports. */
export interface AdapterModule {
  createAdapter(options: LoadTestOptions): ClientAdapter;
}

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });
const packr = new Packr({ useRecords: false });

type Message = Record<string, unknown>;

/** tickwire protocol v1 (proto/PROTOCOL.md) and the v1.2 additions (maxHz, CONFLATED, heartbeat). */
export function tickwireAdapter(options: LoadTestOptions): ClientAdapter {
  const binary = options.encoding === "msgpack";
  return {
    name: "tickwire",
    url: (target) => target,
    protocols: [binary ? "tickwire.v1.msgpack" : "tickwire.v1.json"],
    connection(sink, plan) {
      let pending = 0;
      const request = (value: Message): void =>
        sink.send(binary ? Buffer.from(packr.pack(value)) : JSON.stringify(value));
      const onEvent = (m: Message): void => {
        const e = m["e"];
        if (e === "heartbeat") sink.heartbeat();
        else if (e === "snapshot_end") sink.snapshotEnd();
        else if (typeof m["t"] === "string")
          sink.event(
            m["t"],
            typeof m["q"] === "number" ? m["q"] : -1,
            typeof m["f"] === "number" ? m["f"] : 0,
            typeof m["n"] === "number" ? m["n"] : 0,
            typeof m["te"] === "number" ? m["te"] : Number.NaN,
          );
      };
      const onReply = (m: Message): void => {
        const error = m["error"] as { code?: unknown } | undefined;
        if (error !== undefined) sink.error(typeof error.code === "number" ? error.code : 0);
        const result = m["result"] as { errors?: { code?: unknown }[] } | undefined;
        for (const e of result?.errors ?? []) sink.error(typeof e.code === "number" ? e.code : 0);
        if (typeof m["id"] === "number" && m["id"] <= pending && --pending === 0) sink.subscribed();
      };
      return {
        open() {
          // One request per ≤ 1024 patterns (the protocol's per-request limit).
          const chunks: string[][] = [];
          for (let i = 0; i < plan.patterns.length; i += 1024) chunks.push(plan.patterns.slice(i, i + 1024));
          pending = chunks.length;
          if (pending === 0) sink.subscribed();
          chunks.forEach((topics, i) => {
            const params: Message = { topics, snapshot: options.snapshot };
            if (plan.maxHz !== undefined) params["maxHz"] = plan.maxHz;
            request({ method: "subscribe", id: i + 1, params });
          });
        },
        message(data, isBinary) {
          const value: unknown = isBinary ? unpackr.unpack(data) : JSON.parse(data.toString("utf8"));
          if (Array.isArray(value)) {
            for (const m of value) onEvent(m as Message);
          } else if (value !== null && typeof value === "object") {
            const m = value as Message;
            if ("id" in m && ("result" in m || "error" in m)) onReply(m);
            else onEvent(m);
          }
        },
      };
    },
  };
}

/** The built-in adapter by name, or an adapter module by path. */
export async function loadAdapter(options: LoadTestOptions): Promise<ClientAdapter> {
  if (options.adapter === "tickwire") return tickwireAdapter(options);
  const module = (await import(pathToFileURL(resolve(options.adapter)).href)) as Partial<AdapterModule>;
  const create = module.createAdapter;
  if (typeof create !== "function")
    throw new Error(`--adapter ${options.adapter}: module does not export createAdapter(options)`);
  return create(options);
}
