/**
 * Wall-clock time in integer microseconds, precise to well under a microsecond: the publisher stamps
 * each feed message with it (`te`) and the clients subtract it from their receive time. Processes on
 * one machine share the clock, so the difference is the end-to-end latency (NATS publish → client
 * receive); against a remote target it also holds the clock offset between the two machines.
 */
const originUs = performance.timeOrigin * 1000;

export function nowUs(): number {
  return Math.round(originUs + performance.now() * 1000);
}
