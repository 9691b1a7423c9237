// The one pure file of metrics/ that inner folders may import (.dependency-cruiser.cjs: stats-describe-metrics).
import { snapshotOf, type MetricDescriptor, type MetricSnapshot } from "../metrics/descriptor.ts";
import type { KeyLoadCounters } from "./jwks-keys.ts";
import { AUTH_REFUSAL_REASONS, type AuthRefusalReason } from "./reasons.ts";

/** Counters of one verifier (plain numbers; the metrics layer exports them at scrape time). */
export class AuthStats implements KeyLoadCounters {
  accepted = 0;
  /** Refusals by reason; every reason present from the start (a metric series that exists at 0). */
  readonly refused: Record<AuthRefusalReason, number> = Object.fromEntries(
    AUTH_REFUSAL_REASONS.map((reason) => [reason, 0]),
  ) as Record<AuthRefusalReason, number>;
  keyRefreshes = 0;
  keyRefreshFailures = 0;

  /** Every auth metric as plain numbers (summable over worker processes). */
  snapshot(): MetricSnapshot {
    return snapshotOf(AUTH_METRICS, this);
  }
}

/** The verifier's metrics (`--auth jwt` only): names, help and labels as scraped from /metrics. */
export const AUTH_METRICS: readonly MetricDescriptor<AuthStats>[] = [
  {
    name: "tickwire_auth_accepted_total",
    type: "counter",
    help: "Tokens accepted (auth requests and Authorization: Bearer upgrades).",
    read: (s) => s.accepted,
  },
  {
    name: "tickwire_auth_refused_total",
    type: "counter",
    help: "Tokens refused, by reason (PROTOCOL.md: auth).",
    label: { name: "reason", values: AUTH_REFUSAL_REASONS },
    read: (s) => new Map(Object.entries(s.refused)),
  },
  {
    name: "tickwire_auth_key_refreshes_total",
    type: "counter",
    help: "JWK set loads, by outcome.",
    label: { name: "outcome", values: ["ok", "failed"] },
    read: (s) =>
      new Map([
        ["ok", s.keyRefreshes],
        ["failed", s.keyRefreshFailures],
      ]),
  },
];
