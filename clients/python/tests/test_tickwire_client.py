"""Unit tests of tickwire_client.py: the pure logic, and the client against scripted WebSocket peers on
loopback (real sockets, exact frame sequences the real gateway cannot be made to produce on demand).

    cd clients/python && PYTHONPATH=. /usr/bin/python3 -m unittest discover -s tests

The integration tests against the real gateway are in test/python-client.test.ts (they run this too).
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import random
import unittest
from typing import Any, Awaitable, Callable, Optional

import msgpack
import websockets

from tickwire_client import (
    Backoff,
    ConnectionFailed,
    Connected,
    Feed,
    DataEvent,
    Disconnected,
    Gap,
    Heartbeat,
    SequenceTracker,
    SnapshotEnd,
    Subscribed,
    TickwireClient,
    TickwireError,
    decode_frame,
    data_event,
    parse_retry_after_s,
    pattern_matches,
    split_topics,
    unrecoverable_close,
)

FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "proto" / "fixtures"
BOUND_S = 10.0  # every wait in these tests ends within this


class SequenceTrackerTest(unittest.TestCase):
    def test_consecutive_q_is_in_order_and_a_larger_step_is_a_gap_of_the_missing_count(self) -> None:
        tracker = SequenceTracker()
        self.assertEqual(tracker.observe("a", 7).kind, "first")
        self.assertEqual(tracker.observe("a", 8).kind, "ok")
        self.assertEqual(tuple(tracker.observe("a", 12)), ("gap", 8, 3))
        self.assertEqual(tracker.observe("a", 13).kind, "ok")

    def test_topics_are_tracked_separately(self) -> None:
        tracker = SequenceTracker()
        tracker.observe("a", 1)
        self.assertEqual(tracker.observe("b", 50).kind, "first")
        self.assertEqual(tracker.observe("a", 2).kind, "ok")

    def test_a_repeated_or_older_q_is_a_duplicate_and_does_not_move_the_tracker(self) -> None:
        tracker = SequenceTracker()
        tracker.observe("a", 5, flags=0)
        self.assertEqual(tracker.observe("a", 5, flags=1).kind, "duplicate")
        self.assertEqual(tracker.observe("a", 4).kind, "duplicate")
        self.assertEqual(tracker.last("a"), 5)
        self.assertEqual(tracker.observe("a", 6).kind, "ok")

    def test_a_conflated_event_follows_when_q_minus_n_is_the_last_q(self) -> None:
        tracker = SequenceTracker()
        tracker.observe("a", 10)
        self.assertEqual(tracker.observe("a", 14, flags=2, n=4).kind, "ok")
        self.assertEqual(tuple(tracker.observe("a", 20, flags=2, n=3)), ("gap", 14, 3))
        # n without the CONFLATED flag means nothing
        self.assertEqual(tuple(tracker.observe("a", 23, flags=0, n=2)), ("gap", 20, 2))

    def test_a_history_snapshot_with_q_0_is_followed_by_live_q_1(self) -> None:
        tracker = SequenceTracker()
        tracker.observe("a", 0, flags=1)
        self.assertEqual(tracker.observe("a", 1).kind, "ok")

    def test_reset_forgets_every_topic(self) -> None:
        tracker = SequenceTracker()
        tracker.observe("a", 9)
        tracker.reset()
        self.assertEqual(tracker.observe("a", 1).kind, "first")


class BackoffTest(unittest.TestCase):
    def test_full_jitter_stays_within_a_doubling_window_capped_at_max(self) -> None:
        backoff = Backoff(initial_s=0.5, max_s=8.0, rng=random.Random(1))
        for attempt in range(12):
            window = min(8.0, 0.5 * 2**attempt)
            delays = [backoff.delay_s(attempt) for _ in range(200)]
            self.assertTrue(all(0 <= d <= window for d in delays), (attempt, max(delays)))
            self.assertGreater(max(delays), window / 2, "jitter spreads over the whole window")
            self.assertLess(min(delays), window / 2)

    def test_a_server_hint_is_a_floor_with_jitter_above_it_and_the_cap_still_holds(self) -> None:
        backoff = Backoff(initial_s=0.25, max_s=30.0, rng=random.Random(2))
        delays = [backoff.delay_s(0, retry_after_s=1.0) for _ in range(200)]
        self.assertTrue(all(1.0 <= d <= 1.25 for d in delays))
        self.assertGreater(len(set(delays)), 100, "clients told the same hint do not come back together")
        self.assertEqual(backoff.delay_s(3, retry_after_s=3600.0), 30.0)

    def test_huge_attempt_numbers_do_not_overflow(self) -> None:
        self.assertLessEqual(Backoff(max_s=5.0).delay_s(10_000), 5.0)


class RetryHintTest(unittest.TestCase):
    def test_reads_retry_after_ms_from_a_json_close_reason(self) -> None:
        self.assertEqual(parse_retry_after_s('{"msg":"server shutting down","retryAfterMs":1000}'), 1.0)
        self.assertEqual(parse_retry_after_s('{"msg":"slow consumer: 4 MiB","retryAfterMs":250}'), 0.25)

    def test_anything_else_is_no_hint(self) -> None:
        for reason in ("", "bye", "[]", '{"msg":"x"}', '{"retryAfterMs":-1}', '{"retryAfterMs":true}', '{"retryAfterMs":"5"}'):
            self.assertIsNone(parse_retry_after_s(reason), reason)


class PatternTest(unittest.TestCase):
    def test_nats_wildcards_match_as_the_gateway_does(self) -> None:
        cases = [
            ("xnas.AAPL.quote", "xnas.AAPL.quote", True),
            ("xnas.AAPL.quote", "xnas.AAPL.trade", False),
            ("xnas.*.quote", "xnas.AAPL.quote", True),
            ("xnas.*.quote", "xlon.AAPL.quote", False),
            ("*.*.*", "xnas.AAPL.quote", True),
            ("xnas.>", "xnas.AAPL.quote", True),
            ("xnas.AAPL.>", "xnas.AAPL.bar", True),
            (">", "xnas.AAPL.quote", True),
            ("xnas.AAPL.quote.>", "xnas.AAPL.quote", False),
            ("xnas.AAPL", "xnas.AAPL.quote", False),
            ("xnas.aapl.quote", "xnas.AAPL.quote", False),
        ]
        for pattern, topic, expected in cases:
            self.assertEqual(pattern_matches(pattern, topic), expected, (pattern, topic))


class FixtureDecodingTest(unittest.TestCase):
    """The golden fixtures of proto/ are real gateway frames: decode them with the standard library."""

    def test_every_fixture_decodes_to_its_json(self) -> None:
        pairs = sorted(FIXTURES.glob("*.msgpack"))
        self.assertGreater(len(pairs), 10)
        for path in pairs:
            expected = json.loads(path.with_suffix(".json").read_text())
            decoded = decode_frame(path.read_bytes())
            self.assertEqual(decoded, expected if isinstance(expected, list) else [expected], path.name)

    def test_data_events_are_typed_with_integer_microsecond_times(self) -> None:
        (quote,) = decode_frame((FIXTURES / "quote-conflated.msgpack").read_bytes())
        event = data_event(quote, 42)
        assert event is not None
        self.assertEqual((event.type, event.topic, event.q, event.n), ("quote", "binance.BTC-USDT.quote", 88211, 4))
        self.assertTrue(event.conflated)
        self.assertFalse(event.snapshot)
        self.assertIsInstance(event.te, int)
        self.assertEqual(event.fields, {"bp": 97012.5, "bz": 0.35, "ap": 97013, "az": 1.2})
        (snapshot,) = decode_frame((FIXTURES / "quote-snapshot.msgpack").read_bytes())
        self.assertTrue(data_event(snapshot, 0).snapshot)  # type: ignore[union-attr]
        self.assertEqual(len(decode_frame((FIXTURES / "event-array.msgpack").read_bytes())), 2)
        self.assertIsNone(data_event({"e": "snapshot_end", "id": 1}, 0))

    def test_the_error_names_the_protocol_code(self) -> None:
        error = TickwireError(4006, "subscription limit 2 per connection would be exceeded", method="subscribe")
        self.assertEqual((error.code, error.name), (4006, "LIMIT"))
        self.assertIn("4006 LIMIT", str(error))
        self.assertEqual(TickwireError(4999, "x").name, "UNKNOWN")


# ---- the client against scripted peers ------------------------------------------------------------


def pack(value: Any) -> bytes:
    return msgpack.packb(value)


def quote(topic: str, q: int, flags: int = 0) -> dict[str, Any]:
    event: dict[str, Any] = {"e": "quote", "t": topic, "q": q, "te": 1_795_530_600_123_456, "ts": 1_795_530_600_125_329}
    if flags:
        event["f"] = flags
    event.update({"bp": 1.0 + q, "bz": 1, "ap": 2.0 + q, "az": 1})
    return event


class Peer:
    """A scripted WebSocket server on a free loopback port; `script(ws, connection_number)` runs per connection."""

    def __init__(self, script: Callable[[Any, int], Awaitable[None]]) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[tuple[int, dict[str, Any]]] = []

    async def __aenter__(self) -> "Peer":
        async def handler(ws: Any, path: str = "") -> None:
            self.connections += 1
            await self.script(ws, self.connections)

        self.server = await websockets.serve(handler, "127.0.0.1", 0, subprotocols=["tickwire.v1.msgpack"])
        self.url = f"ws://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1/stream"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def request(self, ws: Any, connection: int) -> dict[str, Any]:
        request = msgpack.unpackb(await ws.recv(), raw=False)
        self.requests.append((connection, request))
        return request


async def collect(client: TickwireClient, until: Callable[[Any], bool]) -> list[Any]:
    """Events until one satisfies `until` (included), bounded by BOUND_S."""
    events: list[Any] = []

    async def run() -> None:
        async for event in client:
            events.append(event)
            if until(event):
                return

    await asyncio.wait_for(run(), BOUND_S)
    return events


ISSUE_TOPICS = [f"binance.SYM{i:04d}-USDT.quote" for i in range(600)]


class SplitTest(unittest.TestCase):
    def build(self, run: list[str]) -> dict[str, Any]:
        return {"method": "subscribe", "id": 2**53, "params": {"topics": run, "snapshot": True}}

    def test_every_run_fits_the_limit_in_order_and_nothing_is_lost(self) -> None:
        for limit in (256, 1000, 4096, 16384):
            runs = split_topics(ISSUE_TOPICS, self.build, limit)
            self.assertEqual([t for run in runs for t in run], ISSUE_TOPICS)
            for run in runs:
                self.assertLessEqual(len(msgpack.packb(self.build(run))), limit)

    def test_at_most_1024_topics_per_request(self) -> None:
        runs = split_topics([f"v.S{i}.bar" for i in range(2500)], self.build, 16 * 1024 * 1024)
        self.assertEqual([len(r) for r in runs], [1024, 1024, 452])

    def test_a_1009_naming_a_lower_limit_is_learnt_other_recurring_closes_stop(self) -> None:
        self.assertEqual(unrecoverable_close(1009, "message too big: 20000 bytes, limit 4096", 16384), (False, 4096))
        self.assertEqual(unrecoverable_close(1009, "message too big", 16384), (True, None))
        for code in (1002, 1007, 1008, 4001, 4003):
            self.assertEqual(unrecoverable_close(code, "", 16384), (True, None))
        for code in (1000, 1001, 1006, 1011, 4007, 4008, None):
            self.assertEqual(unrecoverable_close(code, "", 16384), (False, None))


class ClientTest(unittest.IsolatedAsyncioTestCase):
    async def test_feed_events_and_heartbeats_set_the_feed_state_and_yield_feed_changes(self) -> None:
        async def script(ws: Any, connection: int) -> None:
            sub = await peer.request(ws, connection)
            await ws.send(pack({"id": sub["id"], "result": {"subscribed": sub["params"]["topics"], "errors": []}}))
            await ws.send(pack({"e": "feed", "state": "down", "ts": 5}))
            await ws.send(pack({"e": "heartbeat", "ts": 6, "sent": 0, "conflated": 0, "dropped": 0, "feed": "down"}))
            await ws.send(pack(quote("xnas.A.quote", 1, flags=5)))
            await ws.send(pack({"e": "heartbeat", "ts": 7, "sent": 1, "conflated": 0, "dropped": 0}))
            await ws.send(pack(quote("xnas.A.quote", 2, flags=8)))
            await ws.wait_closed()

        async with Peer(script) as peer:
            async with TickwireClient(peer.url, ["xnas.A.quote"]) as client:
                events = await collect(client, lambda e: isinstance(e, DataEvent) and e.q == 2)
                self.assertEqual(client.feed, "up")
        self.assertEqual([e for e in events if isinstance(e, Feed)], [Feed("down", 5), Feed("up", 7)])
        self.assertEqual([h.feed for h in events if isinstance(h, Heartbeat)], ["down", "up"])
        data = [e for e in events if isinstance(e, DataEvent)]
        self.assertEqual([(e.snapshot, e.stale, e.resync) for e in data], [(True, True, False), (False, False, True)])

    async def test_a_close_that_would_recur_ends_the_client_without_reconnecting(self) -> None:
        async def script(ws: Any, connection: int) -> None:
            await ws.close(4001, "token refused")

        async with Peer(script) as peer:
            async with TickwireClient(peer.url, ["xnas.A.quote"], initial_delay_s=0.01) as client:
                with self.assertRaises(ConnectionFailed) as raised:
                    await collect(client, lambda e: False)
        self.assertIn("4001", str(raised.exception))
        self.assertEqual(peer.connections, 1, "no second attempt")

    async def test_a_large_subscribe_is_split_into_requests_that_fit_the_frame_limit(self) -> None:
        async def script(ws: Any, connection: int) -> None:
            try:
                while True:
                    sub = await peer.request(ws, connection)
                    result = {"subscribed": sub["params"]["topics"], "errors": []}
                    await ws.send(pack({"id": sub["id"], "result": result}))
            except websockets.exceptions.ConnectionClosed:
                return  # the client closed: the end of the script

        topics = [f"binance.SYM{i:04d}-USDT.quote" for i in range(1500)]
        async with Peer(script) as peer:
            async with TickwireClient(peer.url, topics, max_message_bytes=8192) as client:
                await collect(client, lambda e: isinstance(e, Subscribed) and e.patterns[-1] == topics[-1])
                extra = [f"xnas.S{i}.trade" for i in range(700)]
                result = await client.subscribe(extra)
        self.assertEqual(result.subscribed, tuple(extra))
        sent = [r["params"]["topics"] for _, r in peer.requests]
        self.assertEqual([t for run in sent for t in run], topics + extra)
        self.assertGreater(len(sent), 2)
        for _, r in peer.requests:
            self.assertLessEqual(len(msgpack.packb(r)), 8192)

    async def test_a_gap_is_surfaced_and_re_snapshots_the_matching_pattern_dropping_repeats(self) -> None:
        async def script(ws: Any, connection: int) -> None:
            sub = await peer.request(ws, connection)
            await ws.send(pack({"id": sub["id"], "result": {"subscribed": ["xnas.*.quote"], "errors": []}}))
            await ws.send(pack({"e": "snapshot_end", "id": sub["id"]}))
            await ws.send(pack([quote("xnas.A.quote", 1), quote("xnas.B.quote", 40), quote("xnas.A.quote", 2)]))
            await ws.send(pack(quote("xnas.A.quote", 5)))  # 3 and 4 lost
            unsub = await peer.request(ws, connection)
            resub = await peer.request(ws, connection)
            await ws.send(pack({"id": unsub["id"], "result": {"unsubscribed": ["xnas.*.quote"], "errors": []}}))
            await ws.send(pack({"id": resub["id"], "result": {"subscribed": ["xnas.*.quote"], "errors": []}}))
            await ws.send(pack([quote("xnas.A.quote", 5, flags=1), quote("xnas.B.quote", 40, flags=1)]))
            await ws.send(pack({"e": "snapshot_end", "id": resub["id"]}))
            await ws.send(pack(quote("xnas.A.quote", 6)))
            await ws.wait_closed()

        async with Peer(script) as peer:
            async with TickwireClient(peer.url, ["xnas.*.quote"]) as client:
                events = await collect(client, lambda e: isinstance(e, DataEvent) and e.q == 6)
        data = [(e.topic, e.q, e.snapshot) for e in events if isinstance(e, DataEvent)]
        self.assertEqual(
            data, [("xnas.A.quote", 1, False), ("xnas.B.quote", 40, False), ("xnas.A.quote", 2, False),
                   ("xnas.A.quote", 5, False), ("xnas.A.quote", 6, False)],
            "the snapshot repeats of q 5 and q 40 are dropped",
        )
        gaps = [e for e in events if isinstance(e, Gap)]
        self.assertEqual(gaps, [Gap("xnas.A.quote", 2, 5, 2, True)])
        self.assertIs(events[events.index(gaps[0]) + 1].q, 5, "the gap comes just before the event showing it")
        self.assertEqual([e.cause for e in events if isinstance(e, SnapshotEnd)], ["subscribe", "resync"])
        self.assertEqual(
            [(r["method"], r.get("params")) for _, r in peer.requests],
            [
                ("subscribe", {"topics": ["xnas.*.quote"], "snapshot": True}),
                ("unsubscribe", {"topics": ["xnas.*.quote"]}),
                ("subscribe", {"topics": ["xnas.*.quote"], "snapshot": True}),
            ],
        )
        self.assertEqual((client.stats.gaps, client.stats.missed, client.stats.duplicates, client.stats.resyncs), (1, 2, 2, 1))

    async def test_a_close_with_a_retry_hint_is_honoured_then_the_client_resubscribes_with_snapshot(self) -> None:
        async def script(ws: Any, connection: int) -> None:
            sub = await peer.request(ws, connection)
            await ws.send(pack({"id": sub["id"], "result": {"subscribed": sub["params"]["topics"], "errors": []}}))
            if connection == 1:
                await ws.send(pack(quote("xnas.A.quote", 1)))
                await ws.close(4007, json.dumps({"msg": "slow consumer: test", "retryAfterMs": 50}))
                return
            await ws.send(pack(quote("xnas.A.quote", 9, flags=1)))  # new connection: no gap against q 1
            await ws.send(pack({"e": "snapshot_end", "id": sub["id"]}))
            await ws.wait_closed()

        async with Peer(script) as peer:
            async with TickwireClient(peer.url, ["xnas.A.quote", "xnas.B.trade"], max_delay_s=1.0) as client:
                events = await collect(client, lambda e: isinstance(e, SnapshotEnd))
        (gone,) = [e for e in events if isinstance(e, Disconnected)]
        self.assertEqual((gone.connected, gone.code, gone.retry_after_s, gone.attempt), (True, 4007, 0.05, 1))
        self.assertGreaterEqual(gone.retry_in_s, 0.05)
        self.assertEqual([e.reconnects for e in events if isinstance(e, Connected)], [0, 1])
        self.assertEqual([e.cause for e in events if isinstance(e, Subscribed)], ["subscribe", "resubscribe"])
        self.assertEqual([e for e in events if isinstance(e, Gap)], [])
        self.assertEqual(
            [(c, r["params"]) for c, r in peer.requests],
            [(n, {"topics": ["xnas.A.quote", "xnas.B.trade"], "snapshot": True}) for n in (1, 2)],
        )

    async def test_the_watchdog_arms_on_the_first_heartbeat_and_reconnects_a_connection_gone_mute(self) -> None:
        async def script(ws: Any, connection: int) -> None:
            sub = await peer.request(ws, connection)
            await ws.send(pack({"id": sub["id"], "result": {"subscribed": sub["params"]["topics"], "errors": []}}))
            await ws.send(pack({"e": "heartbeat", "ts": 1, "sent": 0, "conflated": 0, "dropped": 0}))
            await ws.wait_closed()  # then nothing, ever

        async with Peer(script) as peer:
            async with TickwireClient(peer.url, ["xnas.A.quote"], heartbeat_interval_s=0.1) as client:
                events = await collect(client, lambda e: isinstance(e, Connected) and e.reconnects == 1)
        self.assertEqual(len([e for e in events if isinstance(e, Heartbeat)]), 1)
        (gone,) = [e for e in events if isinstance(e, Disconnected)]
        self.assertEqual((gone.connected, gone.code), (True, None))
        self.assertIn("no frame for 0.3 s", gone.reason)
        self.assertEqual(client.stats.liveness_timeouts, 1)

    async def test_heartbeat_lag_sets_lag_ms_and_calls_on_lag_and_a_heartbeat_without_lag_clears_it(self) -> None:
        async def script(ws: Any, connection: int) -> None:
            sub = await peer.request(ws, connection)
            await ws.send(pack({"id": sub["id"], "result": {"subscribed": sub["params"]["topics"], "errors": []}}))
            await ws.send(pack({"e": "heartbeat", "ts": 1, "sent": 0, "conflated": 0, "dropped": 0, "lag": 412}))
            await ws.send(pack({"e": "heartbeat", "ts": 2, "sent": 0, "conflated": 0, "dropped": 0}))
            await ws.wait_closed()

        lags: list[int] = []
        seen: list[Optional[int]] = []
        async with Peer(script) as peer:
            async with TickwireClient(peer.url, ["xnas.A.quote"], on_lag=lags.append) as client:
                self.assertIsNone(client.lag_ms)

                def until(event: Any) -> bool:
                    if isinstance(event, Heartbeat):
                        seen.append(event.lag)
                    return isinstance(event, Heartbeat) and event.ts == 2

                await collect(client, until)
        self.assertEqual(seen, [412, None])
        self.assertEqual(lags, [412], "on_lag only for heartbeats that carry lag")
        self.assertIsNone(client.lag_ms, "a gateway without probes: no lag")

    async def test_a_subscribe_refused_whole_raises_the_typed_error_and_ends_the_iteration(self) -> None:
        async def script(ws: Any, connection: int) -> None:
            sub = await peer.request(ws, connection)
            error = {"code": 4006, "msg": "subscription limit 1 per connection would be exceeded (have 0, asked for 2 new)"}
            await ws.send(pack({"id": sub["id"], "error": error}))
            await ws.wait_closed()

        async with Peer(script) as peer:
            client = TickwireClient(peer.url, ["xnas.A.quote", "xnas.B.quote"])
            with self.assertRaises(TickwireError) as raised:
                await collect(client, lambda e: False)
            await client.close()
        self.assertEqual((raised.exception.code, raised.exception.name, raised.exception.method), (4006, "LIMIT", "subscribe"))
        self.assertEqual(peer.connections, 1, "a refusal is not retried")

    async def test_user_requests_get_their_replies_while_events_pile_up(self) -> None:
        async def script(ws: Any, connection: int) -> None:
            sub = await peer.request(ws, connection)
            await ws.send(pack({"id": sub["id"], "result": {"subscribed": ["xnas.A.quote"], "errors": []}}))
            await ws.send(pack([quote("xnas.A.quote", q) for q in range(1, 51)]))
            ping = await peer.request(ws, connection)
            await ws.send(pack({"id": ping["id"], "result": {"ts": 1_795_530_600_125_329}}))
            await ws.wait_closed()

        async with Peer(script) as peer:
            async with TickwireClient(peer.url, ["xnas.A.quote"], snapshot=False, max_pending_events=5) as client:
                await collect(client, lambda e: isinstance(e, Subscribed))
                self.assertEqual(await asyncio.wait_for(client.ping(), BOUND_S), 1_795_530_600_125_329)
                events = await collect(client, lambda e: isinstance(e, DataEvent) and e.q == 50)
        self.assertEqual([e.q for e in events if isinstance(e, DataEvent)], list(range(1, 51)))


    async def test_a_request_on_a_closed_client_raises_instead_of_waiting_for_a_connection(self) -> None:
        client = TickwireClient("ws://127.0.0.1:1/v1/stream", ["xnas.A.quote"])
        await client.close()
        with self.assertRaises(ConnectionError):
            await asyncio.wait_for(client.ping(), BOUND_S)
        self.assertEqual([e async for e in client], [])


if __name__ == "__main__":
    unittest.main()
