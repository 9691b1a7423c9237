#!/usr/bin/env python3
"""Subscribe to tickwire topics and print each event as one JSON line.

Uses only Debian's packages: `sudo apt-get install python3-websockets python3-msgpack`, and run it with
/usr/bin/python3 (another python3 earlier on PATH may not have them):

    /usr/bin/python3 examples/python/subscribe.py --url ws://127.0.0.1:9000/v1/stream 'xnas.*.quote' binance.BTC-USDT.trade

Frames are plain msgpack (tickwire.v1.msgpack), decoded with the standard `msgpack` library by the
tickwire client (clients/python: `pip install ./clients/python`, or run from a clone as above), which also
reconnects, resubscribes and detects gaps; ticks_to_csv.py is the fuller example.

Against a gateway with `--auth jwt` over `wss://` with a private CA:

    /usr/bin/python3 examples/python/subscribe.py --url wss://md.example.net/v1/stream \\
        --token-file alice.token --ca-file ca.pem 'xnas.*.quote'

The token file is read again whenever a token is needed (each connection, and before the token expires),
so whatever rotates it on disk keeps the stream authenticated.
"""
import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Callable, Optional

try:
    import tickwire_client  # installed: pip install ./clients/python (see clients/python/README.md)
except ImportError:  # run from a clone without installing: use the package's source folder
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))

from tickwire_client import DataEvent, Gap, TickwireClient, TickwireError, TopicRefused


def token_reader(path: Optional[str]) -> Optional[Callable[[], str]]:
    """A get_token for TickwireClient that reads the token file (stripped) each time one is needed."""
    if path is None:
        return None
    return lambda: Path(path).read_text(encoding="utf-8").strip()


async def stream(args: argparse.Namespace) -> int:
    received = 0
    client = TickwireClient(
        args.url,
        args.topics,
        snapshot=not args.no_snapshot,
        get_token=token_reader(args.token_file),
        ca_file=args.ca_file,
    )
    count = args.count
    async with client:
        try:
            async for event in client:
                if isinstance(event, DataEvent):
                    print(json.dumps(event.raw), flush=True)
                    received += 1
                    if count and received >= count:
                        return 0
                elif isinstance(event, Gap):
                    print(f"gap on {event.topic}: {event.last_q} -> {event.q}", file=sys.stderr)
                elif isinstance(event, TopicRefused):
                    print(f"topic {event.topic!r} refused: {event.error.code} {event.error.msg}", file=sys.stderr)
        except TickwireError as error:
            print(f"subscribe refused: {error}", file=sys.stderr)
            return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topics", nargs="+", help="topics or patterns, e.g. xnas.AAPL.quote 'binance.*.trade'")
    parser.add_argument("--url", default="ws://127.0.0.1:9000/v1/stream")
    parser.add_argument("--count", type=int, default=0, help="exit after this many events (0 = run until interrupted)")
    parser.add_argument("--no-snapshot", action="store_true")
    parser.add_argument("--token-file", metavar="PATH", help="file holding the JWT for a gateway with --auth jwt")
    parser.add_argument("--ca-file", metavar="PATH", help="PEM CA certificate(s) to trust for wss:// (default: the system's)")
    args = parser.parse_args()
    try:
        return asyncio.run(stream(args))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
