#!/usr/bin/env python3
"""Subscribe to tickwire topics and print each event as one JSON line.

Uses only Debian's packages: `sudo apt-get install python3-websockets python3-msgpack`, and run it with
/usr/bin/python3 (another python3 earlier on PATH may not have them):

    /usr/bin/python3 examples/python/subscribe.py --url ws://127.0.0.1:9000/v1/stream 'xnas.*.quote' binance.BTC-USDT.trade

Frames are plain msgpack (tickwire.v1.msgpack), decoded here with the standard `msgpack` library.
"""
import argparse
import asyncio
import json
import sys

import msgpack
import websockets


async def stream(url: str, topics: list[str], count: int, snapshot: bool) -> int:
    async with websockets.connect(url, subprotocols=["tickwire.v1.msgpack"], max_size=2**20) as ws:
        await ws.send(msgpack.packb({"method": "subscribe", "id": 1, "params": {"topics": topics, "snapshot": snapshot}}))
        received = 0
        last_seq: dict[str, int] = {}
        async for frame in ws:
            message = msgpack.unpackb(frame, raw=False) if isinstance(frame, bytes) else json.loads(frame)
            for item in message if isinstance(message, list) else [message]:
                if item.get("id") == 1 and "error" in item:
                    print(f"subscribe refused: {item['error']}", file=sys.stderr)
                    return 1
                if item.get("id") == 1 and "result" in item:
                    for error in item["result"]["errors"]:
                        print(f"topic {error['topic']!r} refused: {error['code']} {error['msg']}", file=sys.stderr)
                    continue
                if item.get("e") in ("trade", "quote", "bar"):
                    topic, seq = item["t"], item["q"]
                    if topic in last_seq and seq != last_seq[topic] + 1:
                        print(f"gap on {topic}: {last_seq[topic]} -> {seq}", file=sys.stderr)
                    last_seq[topic] = seq
                    print(json.dumps(item), flush=True)
                    received += 1
                    if count and received >= count:
                        return 0
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topics", nargs="+", help="topics or patterns, e.g. xnas.AAPL.quote 'binance.*.trade'")
    parser.add_argument("--url", default="ws://127.0.0.1:9000/v1/stream")
    parser.add_argument("--count", type=int, default=0, help="exit after this many events (0 = run until interrupted)")
    parser.add_argument("--no-snapshot", action="store_true")
    args = parser.parse_args()
    try:
        return asyncio.run(stream(args.url, args.topics, args.count, not args.no_snapshot))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
