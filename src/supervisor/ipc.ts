import type { ChildProcess } from "node:child_process";

/**
 * Sends `message` over a child's IPC channel. The child can exit between the `connected` check and the
 * write (a fleet update racing a worker's drain): the failure then comes back to `onUndelivered`, never as
 * the child's `error` event, which with no listener would end the sending process with status 1 (found
 * in CI: EPIPE from a fleet update sent to a worker that had just exited during SIGTERM).
 *
 * Returns false when the channel was already closed (nothing sent, `onUndelivered` not called).
 */
export function sendToChild(
  child: ChildProcess,
  message: unknown,
  onUndelivered: (error: Error) => void,
): boolean {
  if (!child.connected) return false;
  child.send(message as object, (error) => {
    if (error !== null) onUndelivered(error);
  });
  return true;
}
