// The one pure file of metrics/ that inner folders may import (.dependency-cruiser.cjs: stats-describe-metrics).
import { PROTOCOL_FAULTS, type ProtocolFault } from "./websocket-edges.ts";
import { snapshotOf, type MetricDescriptor, type MetricSnapshot } from "../metrics/descriptor.ts";

/** Plain counters of the uWS adapter (upgrades refused, oversized frames, bugs caught at the edge). */
export class GatewayStats {
  upgradesRejectedSubprotocol = 0;
  upgradesRejectedDraining = 0;
  /** Upgrades with a token in the query string (HTTP 400). */
  upgradesRejectedTokenInUrl = 0;
  /** Browser upgrades from an origin outside --allowed-origins (HTTP 403). */
  /** Upgrades refused with 429: the client address already had --max-connections-per-ip connections. */
  upgradesRejectedPerIp = 0;
  upgradesRejectedOrigin = 0;
  /** Upgrades with a malformed `Authorization` header under --auth jwt (HTTP 401; a well-formed Bearer token is verified once open). */
  upgradesRejectedBearer = 0;
  /** Upgrades refused at `--max-connections` (503 + retry-after). */
  upgradesRejectedCapacity = 0;
  /** The resolved `--max-connections`. */
  maxConnections = 0;
  /** The per-turn HTTP budget, whose refusals are counted (set by the gateway). */
  httpBudget: { readonly refused: number } | undefined;
  /** Client frames over maxMessageBytes (connection closed with 1009). */
  framesTooBig = 0;
  /** Bugs caught at the edge while handling a client frame (connection closed with 1011). */
  internalErrors = 0;
  /** The connection-age limit's counter (closes for age), set by the gateway. */
  aged: { readonly closed: number } = { closed: 0 };

  /** Client protocol faults uWS names when it drops a connection (websocket-edges.ts). */
  readonly protocolFaults = new Map<ProtocolFault, number>(PROTOCOL_FAULTS.map((f) => [f, 0]));

  countProtocolFault(fault: ProtocolFault): void {
    this.protocolFaults.set(fault, (this.protocolFaults.get(fault) ?? 0) + 1);
  }

  /** Every gateway metric as plain numbers (summable over worker processes). */
  snapshot(): MetricSnapshot {
    return snapshotOf(GATEWAY_METRICS, this);
  }
}

/** The gateway's metrics: names, help and labels as scraped from /metrics. */
export const GATEWAY_METRICS: readonly MetricDescriptor<GatewayStats>[] = [
  {
    name: "tickwire_upgrades_rejected_total",
    type: "counter",
    help: "WebSocket upgrades refused, by reason.",
    label: {
      name: "reason",
      values: ["subprotocol", "draining", "capacity", "per_ip", "token_in_url", "origin", "bearer"],
    },
    read: (s) =>
      new Map([
        ["subprotocol", s.upgradesRejectedSubprotocol],
        ["draining", s.upgradesRejectedDraining],
        ["capacity", s.upgradesRejectedCapacity],
        ["per_ip", s.upgradesRejectedPerIp],
        ["token_in_url", s.upgradesRejectedTokenInUrl],
        ["origin", s.upgradesRejectedOrigin],
        ["bearer", s.upgradesRejectedBearer],
      ]),
  },
  {
    name: "tickwire_max_connections",
    type: "gauge",
    help: "The resolved --max-connections (a cap per process; with --workers, the sum over the workers): WebSocket connections past it are refused with 503.",
    read: (s) => s.maxConnections,
  },
  {
    name: "tickwire_http_requests_refused_total",
    type: "counter",
    help: "HTTP requests refused with 503 over the per-turn budget of 64 responses (connection closed).",
    read: (s) => s.httpBudget?.refused ?? 0,
  },
  {
    name: "tickwire_client_frames_too_big_total",
    type: "counter",
    help: "Client frames over max-message-bytes (connection closed with 1009).",
    read: (s) => s.framesTooBig,
  },
  {
    name: "tickwire_client_protocol_faults_total",
    type: "counter",
    help: "Connections the WebSocket layer dropped for a client protocol fault it names, by fault.",
    label: { name: "reason", values: PROTOCOL_FAULTS },
    read: (s) => s.protocolFaults,
  },
  {
    name: "tickwire_internal_errors_total",
    type: "counter",
    help: "Unexpected exceptions caught while handling a client frame (connection closed with 1011).",
    read: (s) => s.internalErrors,
  },
  {
    name: "tickwire_connections_aged_out_total",
    type: "counter",
    help: "Connections closed with 1001 for being older than max-connection-age-ms (jittered).",
    read: (s) => s.aged.closed,
  },
];
