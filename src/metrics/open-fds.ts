import { readdir, readFile } from "node:fs/promises";

/**
 * Open file descriptors of this process and their soft limit, counted off the event loop. prom-client's
 * `process_open_fds` lists /proc/self/fd synchronously at every scrape: 30 ms per listing at 19,000
 * descriptors on this machine (`readdirSync` ×10 in a process holding 19,000), an event-loop stall per
 * scrape on a gateway near its descriptor limit, which is when the number matters. This lists it on
 * libuv's thread pool and answers with the last count: at most one refresh (one scrape) old.
 *
 * Linux only (/proc); elsewhere both numbers stay -1 (unknown).
 */
export class OpenFds {
  #openFds = -1;
  #maxFds = -1;
  #refreshing = false;

  constructor() {
    this.#refresh();
  }

  /** The last counts (-1 = not known yet, or no /proc); starts a refresh for the next call. */
  read(): { openFds: number; maxFds: number } {
    this.#refresh();
    return { openFds: this.#openFds, maxFds: this.#maxFds };
  }

  #refresh(): void {
    if (this.#refreshing || process.platform !== "linux") return;
    this.#refreshing = true;
    void (async () => {
      try {
        // The listing's own descriptor is among the entries; the limits file is read after it.
        const open = (await readdir("/proc/self/fd")).length - 1;
        const limit = /^Max open files\s+(\d+|unlimited)/m.exec(
          await readFile("/proc/self/limits", "utf8"),
        )?.[1];
        // Both at once, after both awaits: a read() between them would pair a new count with no limit.
        this.#openFds = open;
        this.#maxFds =
          limit === undefined ? -1 : limit === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(limit);
      } catch {
        this.#openFds = -1;
        this.#maxFds = -1;
      } finally {
        this.#refreshing = false;
      }
    })();
  }
}

let shared: OpenFds | undefined;

/** The process's one {@link OpenFds}, created (and first counted) on first use. */
export function processOpenFds(): OpenFds {
  shared ??= new OpenFds();
  return shared;
}
