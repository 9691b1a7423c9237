#!/usr/bin/env python3
"""Stream tickwire events to CSV, surviving disconnects and reporting gaps.

    /usr/bin/python3 examples/python/ticks_to_csv.py --url ws://127.0.0.1:9000/v1/stream \\
        --out ticks.csv 'xnas.*.quote' binance.BTC-USDT.trade

One row per data event (snapshot events included, flagged in `flags`), columns:

    recv_us,topic,type,q,te_us,ts_us,flags,n,p,z,bp,bz,ap,az,o,h,l,c,v

`recv_us` is this machine's clock when the frame arrived, `te_us` the venue time and `ts_us` the gateway's
(integer µs since the epoch; `recv_us - te_us` is your lag). `flags`: 1 = SNAPSHOT, 2 = CONFLATED (then
`n` updates were merged into the row). Payload columns of other types are empty. Gaps, reconnects and
refused topics go to stderr. Exit status: 0 when --count rows were written, on SIGINT/SIGTERM and when the
reader of stdout goes away (`| head`); 1 when the connection cannot be made (HTTP 4xx, --max-attempts);
2 when the gateway refuses the subscription or a topic (the message names the protocol error code).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import signal
import sys
from pathlib import Path
from typing import IO, Callable, Optional

try:
    import tickwire_client  # installed: pip install ./clients/python (see clients/python/README.md)
except ImportError:  # run from a clone without installing: use the package's source folder
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))

from tickwire_client import (
    ConnectionFailed,
    DataEvent,
    Disconnected,
    Gap,
    SnapshotEnd,
    Subscribed,
    TickwireClient,
    TickwireError,
    TopicRefused,
)

PAYLOAD_KEYS = ("p", "z", "bp", "bz", "ap", "az", "o", "h", "l", "c", "v")
COLUMNS = ("recv_us", "topic", "type", "q", "te_us", "ts_us", "flags", "n") + PAYLOAD_KEYS
PROG = "ticks_to_csv"


def token_reader(path: Optional[str]) -> Optional[Callable[[], str]]:
    """A get_token for TickwireClient that reads the token file (stripped) each time one is needed."""
    if path is None:
        return None
    return lambda: Path(path).read_text(encoding="utf-8").strip()


def row(event: DataEvent) -> list[object]:
    fields = event.fields
    return [
        event.received_us,
        event.topic,
        event.type,
        event.q,
        event.te,
        event.ts,
        event.flags,
        "" if event.n is None else event.n,
    ] + ["" if fields.get(key) is None else fields[key] for key in PAYLOAD_KEYS]


def note(text: str) -> None:
    print(f"{PROG}: {text}", file=sys.stderr, flush=True)


async def stream(args: argparse.Namespace, out: IO[str]) -> int:
    client = TickwireClient(
        args.url,
        args.topics,
        snapshot=not args.no_snapshot,
        max_hz=args.max_hz,
        liveness_timeout_s=args.liveness_timeout,
        max_attempts=args.max_attempts,
        get_token=token_reader(args.token_file),
        ca_file=args.ca_file,
    )
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []  # holds the task: the loop keeps only a weak reference
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, lambda: stopping.append(loop.create_task(client.close())))
    writer = csv.writer(out, lineterminator="\n")
    rows = 0
    try:
        writer.writerow(COLUMNS)
        out.flush()
        async for event in client:
            if isinstance(event, DataEvent):
                writer.writerow(row(event))
                rows += 1
                if args.count and rows >= args.count:
                    break
                if client.pending_events == 0:
                    out.flush()  # one flush per burst, not per row
            elif isinstance(event, Gap):
                then = "; re-snapshotting" if event.resync else ""
                note(f"gap on {event.topic}: q {event.last_q} -> {event.q}, {event.missed} missed{then}")
            elif isinstance(event, Disconnected):
                what = "disconnected" if event.connected else "connection attempt failed"
                code = "" if event.code is None else f"close {event.code}: "
                hint = "" if event.retry_after_s is None else f"; server asks to wait {event.retry_after_s:g} s"
                note(
                    f"{what} ({code}{event.reason or 'no reason'}{hint}); "
                    f"reconnecting in {event.retry_in_s:.2f} s (attempt {event.attempt})"
                )
            elif isinstance(event, Subscribed) and event.cause == "resubscribe":
                note(f"reconnected (reconnect {client.stats.reconnects}); resubscribed {', '.join(event.patterns)}")
            elif isinstance(event, SnapshotEnd) and event.missing:
                note(f"no value yet for {', '.join(event.missing)}")
            elif isinstance(event, TopicRefused):
                raise event.error
        out.flush()
        return 0
    except BrokenPipeError:
        # The reader of stdout went away (`| head`): stop quietly. Point stdout at /dev/null so the
        # interpreter's final flush does not report the same broken pipe again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        return 0
    except TickwireError as error:
        note(str(error))  # e.g. "subscribe refused with 4002 BAD_TOPIC: topic 'xnas.AAPL': ..."
        return 2
    except ConnectionFailed as error:
        note(f"cannot connect: {error}")
        return 1
    finally:
        await client.close()


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("topics", nargs="+", help="topics or patterns, e.g. xnas.AAPL.quote 'binance.*.trade'")
    parser.add_argument("--url", default="ws://127.0.0.1:9000/v1/stream")
    parser.add_argument("--out", default="-", help="CSV file to write (default -, stdout); overwritten")
    parser.add_argument("--count", type=int, default=0, help="exit after this many rows (default 0: run until stopped)")
    parser.add_argument("--max-hz", type=positive_float, help="at most this many events per second per topic")
    parser.add_argument("--no-snapshot", action="store_true", help="no snapshot rows on (re)subscribe")
    parser.add_argument(
        "--liveness-timeout",
        type=positive_float,
        metavar="SECONDS",
        help="reconnect after this long without any frame (default: 3 heartbeat periods once the gateway sends heartbeats)",
    )
    parser.add_argument("--max-attempts", type=int, help="give up after this many failed connection attempts in a row")
    parser.add_argument(
        "--token-file",
        metavar="PATH",
        help="file holding the JWT for a gateway with --auth jwt (read again whenever a token is needed)",
    )
    parser.add_argument("--ca-file", metavar="PATH", help="PEM CA certificate(s) to trust for wss:// (default: the system's)")
    args = parser.parse_args(argv)
    out = sys.stdout if args.out == "-" else open(args.out, "w", newline="", encoding="utf-8")
    try:
        return asyncio.run(stream(args, out))
    finally:
        if out is not sys.stdout:
            out.close()


if __name__ == "__main__":
    sys.exit(main())
