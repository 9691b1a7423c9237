/**
 * The seam rule of PROTOCOL.md ("Snapshots") as a check over what one connection received, shared by
 * the fan-out's unit tests and the integration tests. Pure: messages in, problems out.
 */
import { EventFlag, patternMatches } from "../protocol/index.ts";

/**
 * Every breach of the rule in one connection's messages (arrival order, array frames flattened): a data
 * event whose (topic, `q`) the connection already got, or whose `q` is smaller than an earlier one of
 * its topic. One exception, documented: after an unsubscribe reply covering the topic, the SNAPSHOT
 * answering a later subscribe may repeat the last `q` seen (never a smaller one).
 */
export function seamViolations(messages: readonly Record<string, unknown>[]): string[] {
  const problems: string[] = [];
  const lastQ = new Map<string, number>();
  /** Topics unsubscribed since their last event: their next SNAPSHOT may repeat that q. */
  const resubscribable = new Set<string>();
  messages.forEach((m, index) => {
    const result = m["result"] as Record<string, unknown> | undefined;
    const unsubscribed = result?.["unsubscribed"];
    if (Array.isArray(unsubscribed)) {
      for (const topic of lastQ.keys()) {
        const tokens = topic.split(".");
        if (unsubscribed.some((p) => patternMatches(String(p).split("."), tokens))) {
          resubscribable.add(topic);
        }
      }
      return;
    }
    const topic = m["t"];
    const q = m["q"];
    if (typeof topic !== "string" || typeof q !== "number") return;
    const snapshot = ((m["f"] as number | undefined) ?? 0) & EventFlag.SNAPSHOT;
    const before = lastQ.get(topic);
    if (before !== undefined) {
      if (q < before) problems.push(`#${index} ${topic}: q ${q}${snapshot ? "S" : ""} after q ${before}`);
      else if (q === before && !(snapshot !== 0 && resubscribable.has(topic)))
        problems.push(`#${index} ${topic}: q ${q}${snapshot ? "S" : ""} twice`);
    }
    lastQ.set(topic, Math.max(q, before ?? q));
    resubscribable.delete(topic);
  });
  return problems;
}
