"""tickwire client for Python: reconnect, resubscribe, gap detection, liveness watchdog.

Python 3.10+ and only Debian's packages (`sudo apt-get install python3-websockets python3-msgpack`; run with
/usr/bin/python3, another python3 earlier on PATH may not have them). Protocol: proto/PROTOCOL.md.

    import asyncio
    from tickwire_client import DataEvent, Gap, TickwireClient

    async def main():
        async with TickwireClient("ws://127.0.0.1:9000/v1/stream", ["xnas.*.quote"]) as client:
            async for event in client:
                if isinstance(event, DataEvent):
                    print(event.topic, event.q, event.fields)
                elif isinstance(event, Gap):
                    print("gap", event.topic, event.missed)

    asyncio.run(main())

What the client does for you:

- Reconnects after any disconnect with exponential backoff and full jitter, waiting at least the
  server's `retryAfterMs` hint (close 1001 at shutdown, 4007 for a slow consumer), capped at
  `max_delay_s`.
- Resubscribes every pattern after a reconnect, with a snapshot (unless `snapshot=False`), so the view
  converges, and restarts gap detection (a restarted or different gateway numbers `q` afresh).
- Tracks `q` per topic. A gap (or the `n` of a CONFLATED event not adding up) is yielded as a `Gap` event
  before the event that revealed it; a gap then triggers a fresh snapshot of the patterns that match the
  topic (unsubscribe + subscribe with snapshot; protocol v1 gives a topic a snapshot only when the
  connection does not already receive it). Snapshot events that repeat a `q` already seen are dropped.
- Liveness watchdog: when no frame of any kind arrives for `liveness_timeout_s`, the connection is
  dropped and re-established. By default the watchdog arms itself on the first `heartbeat` event of a
  connection, at 3 heartbeat periods: a gateway that sends no heartbeats (protocol v1.1) cannot be told
  apart from a quiet market, and the WebSocket keepalive ping (`ping_interval_s`) still catches a dead TCP
  peer there.
- Tokens (a gateway running `--auth jwt`, protocol v1.10): `token="…"` or `get_token=callable` (sync or
  async, called when a token is needed: the first connection, within `refresh_before_expiry_s` of the
  token's `exp`, and after the gateway closed with 4001). `auth` is sent first on every connection; a
  refused token raises `TickwireError` (code 4001) instead of reconnecting in a loop. With `get_token`, the
  token is refreshed on the open connection before it expires (as the SDK does); `refresh_token(token)`
  sends a new token on the open connection at any time (e.g. with a fixed `token`). Each accepted token
  is yielded as `Authenticated` (`sub`, `exp`, `grants`, and the patterns a narrower token `removed`).
- TLS: `wss://` URLs verify the gateway's certificate against the system's CAs, or the CA file given as
  `ca_file` (or a whole `ssl_context`); a certificate the client does not trust ends it with
  `ConnectionFailed` naming the verification error (retrying cannot help) rather than a reconnect loop.
- Several gateways: `url` may be a list of URLs (gateways without a common load balancer); the client
  starts with the first and moves to the next one, round-robin, after every lost connection or failed
  attempt, with the same backoff, and resubscribes with a snapshot there (`client.url` is the one in use).
- Lag (protocol v1.5): `lag_ms` is the `lag` of the last heartbeat, how far behind this connection reads as
  the gateway's WebSocket ping probes measure it (`on_lag` is called with each one); None when the gateway
  runs no probes. The WebSocket library reads at most `max_queue` frames ahead (default 4), so the probes
  see this client's reading pace rather than a library buffer's.
- A refused request raises `TickwireError` carrying the protocol error code; a refused topic of a
  subscribe is yielded as `TopicRefused` (the other topics of the request stand, as the protocol says).

Events are consumed by async iteration or by `run(handler)`. The reader stops reading the socket while
`max_pending_events` events wait for the consumer, so a slow consumer slows the connection down (and the
gateway then skips or conflates, which shows up as `Gap` or CONFLATED events) instead of filling memory.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import random
import re
import ssl
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterable, Mapping, NamedTuple, Optional, Sequence, Union

import msgpack
import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatusCode

__all__ = [
    "Authenticated",
    "ClientStats",
    "Connected",
    "ConnectionFailed",
    "DataEvent",
    "Disconnected",
    "Event",
    "FLAG_CONFLATED",
    "FLAG_RESYNC",
    "FLAG_SNAPSHOT",
    "FLAG_STALE",
    "Feed",
    "split_topics",
    "unrecoverable_close",
    "Gap",
    "Heartbeat",
    "Backoff",
    "SequenceTracker",
    "SnapshotEnd",
    "Subscribed",
    "SubscribeResult",
    "TickwireClient",
    "TickwireError",
    "TopicRefused",
    "ERROR_NAMES",
    "parse_retry_after_s",
    "pattern_matches",
]

SUBPROTOCOL = "tickwire.v1.msgpack"
FLAG_SNAPSHOT = 1
FLAG_CONFLATED = 2
#: on a SNAPSHOT: the gateway cannot vouch the value is current (feed down, or value from before its outage)
FLAG_STALE = 4
#: on a live event: updates of the topic may have been lost before it (the gateway's feed reconnected)
FLAG_RESYNC = 8
#: the gateway's default `--max-message-bytes`: subscribes are split into requests that fit it
DEFAULT_MAX_MESSAGE_BYTES = 16384
#: topics one request may carry (proto/PROTOCOL.md, "Limits")
MAX_TOPICS_PER_REQUEST = 1024
# Close codes that recur on every retry (issue 10 §3): protocol error, unsupported or invalid data, policy,
# too big (when no lower limit can be learnt), unauthorised, not entitled. The client stops on them.
_UNRECOVERABLE_CLOSES = frozenset({1002, 1003, 1007, 1008, 1009, 4001, 4003})

# proto/PROTOCOL.md, "Error codes" and "Close codes".
ERROR_NAMES: Mapping[int, str] = {
    4000: "BAD_REQUEST",
    4001: "UNAUTHORISED",
    4002: "BAD_TOPIC",
    4003: "NOT_ENTITLED",
    4004: "UNKNOWN_TOPIC",
    4005: "UNKNOWN_METHOD",
    4006: "LIMIT",
    4007: "SLOW_CONSUMER",
    4008: "RATE_LIMITED",
}

# A connection that stayed up this long resets the backoff, so a server that accepts and then drops
# every connection at once still gets exponentially spaced attempts (no reconnect storm).
_STABLE_CONNECTION_S = 10.0


class TickwireError(Exception):
    """The gateway refused a request (or one topic of a subscribe) with a protocol error code."""

    def __init__(self, code: int, msg: str, *, method: Optional[str] = None, topic: Optional[str] = None):
        self.code = code
        self.msg = msg
        self.method = method
        self.topic = topic
        where = f"{method} " if method else ""
        what = f"topic {topic!r}: " if topic is not None else ""
        super().__init__(f"{where}refused with {code} {self.name}: {what}{msg}")

    @property
    def name(self) -> str:
        """The code's name in proto/PROTOCOL.md, e.g. "BAD_TOPIC" (or "UNKNOWN" for a newer code)."""
        return ERROR_NAMES.get(self.code, "UNKNOWN")


class ConnectionFailed(Exception):
    """The client gave up connecting: `max_attempts` attempts failed in a row, or the upgrade was refused
    for good (an HTTP 4xx answer such as 404 for a wrong path)."""


# ---- events ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DataEvent:
    """A data event (`trade`, `quote`, `bar`, ...). Times are integer µs since the epoch."""

    type: str
    topic: str
    q: int
    te: int
    ts: int
    flags: int
    #: updates merged into this event when it is CONFLATED, else None
    n: Optional[int]
    #: payload keys of the type (`p`, `z`; `bp`, `bz`, `ap`, `az`; `o`, `h`, `l`, `c`, `v`)
    fields: Mapping[str, Union[int, float]]
    #: local wall-clock time when the frame was received (µs): `received_us - te` is your lag
    received_us: int
    #: the decoded map as it came off the wire
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def snapshot(self) -> bool:
        return bool(self.flags & FLAG_SNAPSHOT)

    @property
    def conflated(self) -> bool:
        return bool(self.flags & FLAG_CONFLATED)

    @property
    def stale(self) -> bool:
        """A snapshot the gateway cannot vouch for: its feed is down, or the value predates the feed's outage."""
        return bool(self.flags & FLAG_STALE)

    @property
    def resync(self) -> bool:
        """Updates of this topic may have been lost before this event (the gateway's feed reconnected)."""
        return bool(self.flags & FLAG_RESYNC)


@dataclass(frozen=True, slots=True)
class Gap:
    """Updates of `topic` were lost between the event with `last_q` and the one with `q` (yielded next).

    `resync` is True when the client requested a fresh snapshot of the topic because of it."""

    topic: str
    last_q: int
    q: int
    missed: int
    resync: bool


@dataclass(frozen=True, slots=True)
class SnapshotEnd:
    """End of the snapshot of a subscribe. `cause`: "subscribe", "resubscribe" (after a reconnect),
    "resync" (after a gap) or "user" (`TickwireClient.subscribe`). `missing`: concrete topics of that
    request with no last value yet (protocol v1.2; empty on older gateways)."""

    request_id: Any
    missing: tuple[str, ...]
    cause: str


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The gateway's periodic heartbeat (protocol v1.2): counters for this connection so far, and (v1.5)
    `lag`, how far behind this connection reads in ms as the gateway's lag probes measured it (None when
    the gateway runs no probes)."""

    ts: int
    sent: int
    conflated: int
    dropped: int
    lag: Optional[int] = None
    #: "down" while the gateway's feed is down, else "up" (protocol v1.9)
    feed: str = "up"


@dataclass(frozen=True, slots=True)
class Feed:
    """The gateway's feed went "down" (no live events; snapshots STALE) or came back "up" (protocol
    v1.9). Yielded on a `feed` event, or when a heartbeat's `feed` field changes the state."""

    state: str
    ts: int


@dataclass(frozen=True, slots=True)
class Connected:
    """A connection is open; `reconnects` counts the connections re-established before and including this
    one (0 for the first). The subscribes (resubscribes) follow."""

    url: str
    reconnects: int


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The connection is gone, or an attempt failed (`connected` False); the next attempt starts in
    `retry_in_s` seconds.

    `code` is the close code received (1006 when the connection ended without one; None when it never
    opened, and for a liveness timeout); `retry_after_s` the server's hint, if any; `attempt` counts failed
    attempts in a row (1 for the first)."""

    connected: bool
    code: Optional[int]
    reason: str
    retry_after_s: Optional[float]
    retry_in_s: float
    attempt: int


@dataclass(frozen=True, slots=True)
class Subscribed:
    """A subscribe the client made by itself succeeded (`cause` as in `SnapshotEnd`)."""

    patterns: tuple[str, ...]
    cause: str


@dataclass(frozen=True, slots=True)
class TopicRefused:
    """One pattern of a subscribe the client made by itself was refused (4002 BAD_TOPIC, 4004
    UNKNOWN_TOPIC, ...); it is dropped from the patterns the client resubscribes."""

    topic: str
    error: TickwireError


@dataclass(frozen=True, slots=True)
class Authenticated:
    """The gateway accepted a token (`auth`, protocol v1.10): on each connection and each refresh.

    `exp` is the token's expiry (seconds since the epoch); `grants` the `tw` claim in force (`topics`, and
    `maxHz`/`maxConnections` when present); `removed` the patterns a refresh with narrower grants dropped
    (the gateway unsubscribed them; the client no longer resubscribes them)."""

    sub: str
    exp: int
    grants: Mapping[str, Any]
    removed: tuple[str, ...]
    #: "connect" (the first `auth` of a connection) or "refresh"
    cause: str


Event = Union[
    DataEvent, Gap, SnapshotEnd, Heartbeat, Feed, Connected, Disconnected, Subscribed, TopicRefused, Authenticated
]


@dataclass(frozen=True, slots=True)
class SubscribeResult:
    subscribed: tuple[str, ...]
    errors: tuple[TickwireError, ...]
    #: effective rate when a rate applies (protocol v1.2), else None
    max_hz: Optional[float]


@dataclass(slots=True)
class ClientStats:
    events: int = 0
    gaps: int = 0
    missed: int = 0
    duplicates: int = 0
    conflated_events: int = 0
    conflated_updates: int = 0
    reconnects: int = 0
    resyncs: int = 0
    liveness_timeouts: int = 0


# ---- pure logic (unit-tested in test_tickwire_client.py) -------------------------------------------


class SeqCheck(NamedTuple):
    #: "first" (no earlier event of the topic), "ok", "gap" or "duplicate" (q already seen: drop it)
    kind: str
    last_q: Optional[int]
    missed: int


class SequenceTracker:
    """Per-topic sequence tracking (proto/PROTOCOL.md, "Sequence numbers").

    An event follows the previous one of its topic when `q == last + 1`, or for a CONFLATED event standing
    for `n` updates when `q - n == last`. A larger step is a gap of that many updates. `q <= last` is a
    repeat (a snapshot of a value already received) and should be dropped. Reset on every new connection.
    """

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def reset(self) -> None:
        self._last.clear()

    def last(self, topic: str) -> Optional[int]:
        return self._last.get(topic)

    def observe(self, topic: str, q: int, flags: int = 0, n: Optional[int] = None) -> SeqCheck:
        last = self._last.get(topic)
        if last is None:
            self._last[topic] = q
            return SeqCheck("first", None, 0)
        if q <= last:
            return SeqCheck("duplicate", last, 0)
        self._last[topic] = q
        merged = n if flags & FLAG_CONFLATED and isinstance(n, int) and n >= 1 else 1
        missed = q - merged - last
        return SeqCheck("gap", last, missed) if missed > 0 else SeqCheck("ok", last, 0)


@dataclass
class Backoff:
    """Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter").

    Attempt k waits uniform(0, min(max_s, initial_s * 2**k)) seconds; with a server hint, the hint plus
    that jitter, so clients told the same `retryAfterMs` do not all come back at once. Never more than
    `max_s`, which also caps a hint."""

    initial_s: float = 0.25
    max_s: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def delay_s(self, attempt: int, retry_after_s: Optional[float] = None) -> float:
        window = min(self.max_s, self.initial_s * 2 ** min(attempt, 32))
        jitter = self.rng.uniform(0, window)
        if retry_after_s is None:
            return jitter
        return min(self.max_s, max(0.0, retry_after_s) + jitter)


def parse_retry_after_s(reason: str) -> Optional[float]:
    """The `retryAfterMs` of a close reason (`{"msg": ..., "retryAfterMs": N}`), in seconds, or None."""
    try:
        value = json.loads(reason)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    ms = value.get("retryAfterMs")
    if isinstance(ms, bool) or not isinstance(ms, (int, float)) or ms < 0 or ms != ms:
        return None
    return ms / 1000.0


def split_topics(topics: Iterable[str], build: Callable[[list[str]], Any], max_bytes: int) -> list[list[str]]:
    """Splits `topics` into runs whose msgpack request `build(run)` fits `max_bytes` and holds at most
    MAX_TOPICS_PER_REQUEST topics, in order (issue 10 §3). A single topic that does not fit stays alone."""
    items = list(topics)
    if not items:
        return []
    base = len(msgpack.packb(build([]))) + 5  # + the largest array header
    runs: list[list[str]] = []
    run: list[str] = []
    size = base
    for topic in items:
        length = len(topic.encode("utf-8"))
        cost = length + (1 if length < 32 else 2 if length < 256 else 3)
        if run and (size + cost > max_bytes or len(run) >= MAX_TOPICS_PER_REQUEST):
            runs.append(run)
            run, size = [], base
        run.append(topic)
        size += cost
    runs.append(run)
    out: list[list[str]] = []
    while runs:  # check each run by encoding it; halve one still too big
        head = runs.pop(0)
        if len(head) > 1 and len(msgpack.packb(build(head))) > max_bytes:
            half = (len(head) + 1) // 2
            runs[0:0] = [head[:half], head[half:]]
        else:
            out.append(head)
    return out


def unrecoverable_close(code: Optional[int], reason: str, max_bytes: int) -> tuple[bool, Optional[int]]:
    """What a close means for reconnecting: (stop, new_limit). A 1009 whose reason names a lower frame limit
    (`message too big: N bytes, limit M`) gives that limit to split under and retry; any other close in
    the unrecoverable set stops the client (retrying would get the same close)."""
    if code == 1009:
        match = re.search(r"limit (\d+)", reason)
        if match is not None and 0 < int(match.group(1)) < max_bytes:
            return False, int(match.group(1))
    return code in _UNRECOVERABLE_CLOSES, None


def pattern_matches(pattern: str, topic: str) -> bool:
    """NATS wildcard matching as the gateway does it: `*` is one token, a final `>` one or more."""
    pattern_tokens = pattern.split(".")
    topic_tokens = topic.split(".")
    for i, token in enumerate(pattern_tokens):
        if token == ">":
            return i == len(pattern_tokens) - 1 and len(topic_tokens) > i
        if i >= len(topic_tokens) or (token != "*" and token != topic_tokens[i]):
            return False
    return len(pattern_tokens) == len(topic_tokens)


def decode_frame(frame: Union[bytes, str]) -> list[Any]:
    """A server frame (msgpack binary or JSON text) as a list of messages: one, or the array's elements."""
    message = msgpack.unpackb(frame, raw=False) if isinstance(frame, (bytes, bytearray)) else json.loads(frame)
    return message if isinstance(message, list) else [message]


def data_event(item: Mapping[str, Any], received_us: int) -> Optional[DataEvent]:
    """The data event in a decoded map, or None when the map is not one (control messages, unknown keys)."""
    topic, q = item.get("t"), item.get("q")
    kind = item.get("e")
    if not isinstance(kind, str) or not isinstance(topic, str) or not isinstance(q, int):
        return None
    flags = item.get("f", 0)
    n = item.get("n")
    return DataEvent(
        type=kind,
        topic=topic,
        q=q,
        te=item.get("te", 0),
        ts=item.get("ts", 0),
        flags=flags if isinstance(flags, int) else 0,
        n=n if isinstance(n, int) else None,
        fields={k: v for k, v in item.items() if k not in _HEADER_KEYS},
        received_us=received_us,
        raw=item,
    )


_HEADER_KEYS = frozenset({"e", "t", "q", "te", "ts", "f", "n"})


# ---- the client ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _SubOptions:
    max_hz: Optional[float]
    on_slow: Optional[str]


@dataclass(slots=True)
class _Pending:
    method: str
    cause: str
    patterns: tuple[str, ...] = ()
    future: Optional[asyncio.Future[Any]] = None


class _LivenessTimeout(Exception):
    pass


class _RefreshRefused(Exception):
    """An automatic refresh was refused: reconnect once with a fresh token from `get_token`."""


class _End:
    pass


_END = _End()


class TickwireClient:
    """A tickwire connection that survives disconnects. See the module docstring.

    Args:
        url: `ws://HOST:PORT/v1/stream` (or `wss://`), or a list of them: the client starts with the first
            and moves to the next one after every lost connection or failed attempt.
        topics: patterns to subscribe on every connection (more with `subscribe()`).
        snapshot: ask for snapshots on subscribe and resubscribe (default True).
        max_hz, on_slow: subscribe params of protocol v1.2 for `topics` (None: not sent). A gateway
            without them refuses the subscribe with 4000, raised as `TickwireError`.
        resync_on_gap: after a gap, re-snapshot the patterns matching the topic (default True).
        heartbeat_interval_s: the gateway's heartbeat period (`--heartbeat-ms`, default 1 s); the
            watchdog fires after 3 of them without a frame once a heartbeat has been seen.
        liveness_timeout_s: fire the watchdog after this many seconds without a frame from the moment a
            connection opens, heartbeats or not (default None: the heartbeat rule above).
        initial_delay_s, max_delay_s: backoff (see `Backoff`).
        max_attempts: give up (raise `ConnectionFailed`) after this many failed attempts in a row;
            None (default) retries forever.
        open_timeout_s, close_timeout_s, ping_interval_s: WebSocket opening handshake bound, closing
            handshake bound, keepalive ping period (a pong missing for as long closes the connection;
            None disables).
        max_pending_events: events waiting for the consumer before the reader stops reading the socket.
        max_queue: frames the WebSocket library reads ahead of the client (default 4). Pings are answered
            by the library's reader, so a large read-ahead would answer the gateway's lag probes while
            frames wait unread, and hide this client's lag from the gateway.
        on_lag: called (from the reader, before the heartbeat is queued for the consumer) with the `lag`
            in ms of every heartbeat that carries one (protocol v1.5). It must not block.

        token, get_token: for a gateway running `--auth jwt` (see the module docstring).
        refresh_before_expiry_s: with `get_token`, refresh the token on the open connection this long
            before its `exp` (default 30).
        ca_file: PEM file of the CA(s) to trust for `wss://` instead of the system's (e.g. a private CA).
        ssl_context: an `ssl.SSLContext` for `wss://` (client certificates, pinning); not with `ca_file`.

        max_message_bytes: the largest request frame to send (default 16384, within any gateway's `--max-message-bytes`
            default of 262144): subscribes are split into
            requests that fit it; a 1009 close naming a lower limit lowers it and reconnects.

    Attributes:
        lag_ms: how far behind this connection reads, ms: the `lag` of the last heartbeat read (protocol
            v1.5, the gateway's lag probes); None before the first heartbeat of a connection and when the
            gateway runs no probes. It counts up to the events waiting in this client
            (`max_pending_events`), not those: `pending_events` says how many there are.

    `feed` is the gateway's feed state as last told ("up" or "down"; a `Feed` event is yielded on each
    change). A close that would recur on every retry (1002, 1003, 1007, 1008, 1009 without a lower limit to
    learn, 4001, 4003) ends the client with `ConnectionFailed` instead of a reconnect loop.
    """

    def __init__(
        self,
        url: Union[str, Sequence[str]],
        topics: Iterable[str] = (),
        *,
        snapshot: bool = True,
        max_hz: Optional[float] = None,
        on_slow: Optional[str] = None,
        resync_on_gap: bool = True,
        heartbeat_interval_s: float = 1.0,
        liveness_timeout_s: Optional[float] = None,
        initial_delay_s: float = 0.25,
        max_delay_s: float = 30.0,
        max_attempts: Optional[int] = None,
        open_timeout_s: float = 10.0,
        close_timeout_s: float = 2.0,
        ping_interval_s: Optional[float] = 20.0,
        max_pending_events: int = 10_000,
        max_queue: int = 4,
        on_lag: Optional[Callable[[int], None]] = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        rng: Optional[random.Random] = None,
        token: Optional[str] = None,
        get_token: Optional[Callable[[], Union[str, Awaitable[str]]]] = None,
        refresh_before_expiry_s: float = 30.0,
        ca_file: Optional[str] = None,
        ssl_context: Optional[ssl.SSLContext] = None,
    ) -> None:
        if token is not None and get_token is not None:
            raise ValueError("give token or get_token, not both")
        if ca_file is not None and ssl_context is not None:
            raise ValueError("give ca_file or ssl_context, not both")
        urls = (url,) if isinstance(url, str) else tuple(url)
        if not urls:
            raise ValueError("url: give at least one gateway URL")
        for each in urls:
            if not each.startswith(("ws://", "wss://")):
                raise ValueError(f"url {each!r} must start with ws:// or wss://")
        #: the gateway URLs, tried in turn
        self.urls = urls
        self._url_index = 0
        # Verification stays on (CERT_REQUIRED, host names checked): only the trusted CAs change.
        self._ssl = ssl_context if ca_file is None else ssl.create_default_context(cafile=ca_file)
        self._token = token
        self._get_token = get_token
        #: expiry of the token in force (seconds since the epoch), from the gateway's `auth` result
        self._token_exp: Optional[float] = None
        self._refresh_before_s = refresh_before_expiry_s
        self._refresh_task: Optional[asyncio.Task[None]] = None
        self.stats = ClientStats()
        self.lag_ms: Optional[int] = None
        self._on_lag = on_lag
        self._max_queue = max(1, max_queue)
        self._snapshot = snapshot
        self._resync_on_gap = resync_on_gap
        self._heartbeat_interval_s = heartbeat_interval_s
        self._liveness_timeout_s = liveness_timeout_s
        self._backoff = Backoff(initial_delay_s, max_delay_s, rng or random.Random())
        self._max_attempts = max_attempts
        self._open_timeout_s = open_timeout_s
        self._close_timeout_s = close_timeout_s
        self._ping_interval_s = ping_interval_s
        self._max_pending = max(1, max_pending_events)
        self._max_message_bytes = max_message_bytes
        #: the gateway's feed state as last told: "up" or "down"
        self.feed = "up"
        options = _SubOptions(max_hz, on_slow)
        # Patterns held (or to hold) on every connection, in subscribe order, with their params.
        self._desired: dict[str, _SubOptions] = {pattern: options for pattern in topics}
        self._tracker = SequenceTracker()
        self._pending: dict[int, _Pending] = {}
        self._snapshot_causes: dict[Any, str] = {}
        self._resyncing: set[str] = set()
        self._next_id = 1
        self._connections = 0
        self._ws: Optional[websockets.WebSocketClientProtocol] = None
        self._saw_heartbeat = False
        self._queue: asyncio.Queue[Union[Event, _End]] = asyncio.Queue()
        self._space = asyncio.Event()
        self._user_requests = 0
        self._connected = asyncio.Event()
        self._closing = False
        self._wake = asyncio.Event()
        self._task: Optional[asyncio.Task[None]] = None
        self._failure: Optional[BaseException] = None
        self._finished = False

    # -- lifecycle --

    async def __aenter__(self) -> TickwireClient:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def start(self) -> None:
        """Starts connecting (iteration and `async with` call it for you)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="tickwire-client")

    async def close(self) -> None:
        """Closes the connection (close code 1000) and ends the iteration. Safe to call more than once."""
        self._closing = True
        self._wake.set()
        self._space.set()
        ws = self._ws
        if ws is not None:
            await ws.close(1000, "client closing")
        if self._task is not None and self._task is not asyncio.current_task():
            await asyncio.gather(self._task, return_exceptions=True)

    @property
    def url(self) -> str:
        """The gateway URL in use (or being connected to)."""
        return self.urls[self._url_index]

    @property
    def pending_events(self) -> int:
        """Events received and not yet taken by the consumer."""
        return self._queue.qsize()

    @property
    def patterns(self) -> tuple[str, ...]:
        """The patterns the client holds and resubscribes after a reconnect."""
        return tuple(self._desired)

    # -- consuming --

    def __aiter__(self) -> TickwireClient:
        return self

    async def __anext__(self) -> Event:
        self.start()
        item = await self._queue.get()
        self._space.set()
        if isinstance(item, _End):
            self._queue.put_nowait(item)  # later calls end too
            if self._failure is not None:
                raise self._failure
            raise StopAsyncIteration
        return item

    async def run(self, handler: Callable[[Event], Union[None, Awaitable[None]]]) -> None:
        """Calls `handler` (plain or async) with every event until `close()`; raises what iteration raises."""
        async for event in self:
            result = handler(event)
            if inspect.isawaitable(result):
                await result

    # -- requests --

    async def subscribe(
        self,
        topics: Iterable[str],
        *,
        snapshot: bool = True,
        max_hz: Optional[float] = None,
        on_slow: Optional[str] = None,
    ) -> SubscribeResult:
        """Adds patterns, now and after every reconnect. Raises `TickwireError` when the gateway refuses
        the request whole (nothing changes); refused topics are in the result's `errors`.

        Waits for a connection. If the connection drops before the reply, raises `ConnectionError`; the
        patterns are then subscribed on the next connection anyway."""
        patterns = tuple(topics)
        options = _SubOptions(max_hz, on_slow)
        added = [p for p in patterns if p not in self._desired]
        for pattern in added:
            self._desired[pattern] = options
        runs = split_topics(
            patterns, lambda run: _request("subscribe", 2**53, _subscribe_params(run, snapshot, options)), self._max_message_bytes
        )
        results: list[SubscribeResult] = []
        try:
            for run in runs:
                results.append(
                    await self._user_request("subscribe", _subscribe_params(run, snapshot, options), tuple(run))
                )
        except TickwireError:
            for pattern in added:
                self._desired.pop(pattern, None)
            accepted = [p for r in results for p in r.subscribed if p in added]
            if accepted:  # refused whole: the parts already accepted are released again
                await self._user_request("unsubscribe", {"topics": accepted}, tuple(accepted))
            raise
        if len(results) == 1:
            return results[0]
        return SubscribeResult(
            tuple(p for r in results for p in r.subscribed),
            tuple(e for r in results for e in r.errors),
            next((r.max_hz for r in results if r.max_hz is not None), None),
        )

    async def unsubscribe(self, topics: Iterable[str]) -> tuple[str, ...]:
        """Removes patterns; returns those the gateway removed."""
        patterns = tuple(topics)
        for pattern in patterns:
            self._desired.pop(pattern, None)
        result = await self._user_request("unsubscribe", {"topics": list(patterns)}, patterns)
        return tuple(result.get("unsubscribed", ()))

    async def refresh_token(self, token: Optional[str] = None) -> Optional[Authenticated]:
        """Sends a new token on the open connection (`auth`, protocol v1.10) and returns what the gateway
        accepted; later connections use it too. Without `token`, one comes from `get_token`.

        Raises `TickwireError` (4001, `reason` in the message) when the gateway refuses it: the connection
        keeps the token it had until that one expires. Returns None from a gateway running `--auth none`."""
        if token is None:
            if self._get_token is None:
                raise ValueError("refresh_token: give a token (the client has no get_token)")
            token = await self._fetch_token()
        if not isinstance(token, str) or token == "":
            raise ValueError("the token must be a non-empty string")
        previous, previous_exp = self._token, self._token_exp
        self._token, self._token_exp = token, None
        try:
            return await self._user_request("auth", {"token": token}, ())
        except TickwireError:
            self._token, self._token_exp = previous, previous_exp
            raise

    async def ping(self) -> int:
        """The gateway's clock (µs since the epoch) when it handled the ping."""
        result = await self._user_request("ping", None, ())
        return int(result["ts"])

    async def _user_request(self, method: str, params: Optional[dict[str, Any]], patterns: tuple[str, ...]) -> Any:
        self.start()
        self._user_requests += 1
        self._space.set()  # a reader waiting for queue space must go on reading, or the reply never comes
        try:
            while True:
                if self._finished:
                    raise ConnectionError("tickwire client is closed")
                ws = self._ws
                if ws is not None and self._connected.is_set():
                    break
                await self._connected.wait()
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            await self._send(ws, method, params, _Pending(method, "user", patterns, future))
            return await future
        finally:
            self._user_requests -= 1

    # -- the connection loop --

    async def _run(self) -> None:
        attempt = 0
        try:
            while not self._closing:
                code: Optional[int] = None
                connected = False
                reason = ""
                retry_after_s: Optional[float] = None
                url = self.url
                tls = {"ssl": self._ssl} if self._ssl is not None and url.startswith("wss://") else {}
                try:
                    ws = await websockets.connect(
                        url,
                        **tls,
                        subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
                        compression=None,
                        open_timeout=self._open_timeout_s,
                        close_timeout=self._close_timeout_s,
                        ping_interval=self._ping_interval_s,
                        ping_timeout=self._ping_interval_s,
                        max_size=2**24,
                        max_queue=self._max_queue,
                    )
                except ssl.SSLCertVerificationError as exc:
                    # The same certificate is refused on every retry: say which and stop.
                    raise ConnectionFailed(
                        f"{url}: TLS certificate not trusted ({exc.verify_message or exc}); "
                        "give ca_file (or ssl_context) the CA that signed the gateway's certificate"
                    ) from exc
                except (OSError, asyncio.TimeoutError, InvalidHandshake) as exc:
                    if isinstance(exc, InvalidStatusCode) and 400 <= exc.status_code < 500 and exc.status_code not in (408, 429):
                        raise ConnectionFailed(f"{self.url}: upgrade refused with HTTP {exc.status_code}") from exc
                    reason = _describe(exc)
                else:
                    connected = True
                    opened_at = time.monotonic()
                    try:
                        await self._serve(ws)
                    except ConnectionClosed as exc:
                        if exc.rcvd is not None:
                            code, reason = exc.rcvd.code, exc.rcvd.reason
                            retry_after_s = parse_retry_after_s(reason)
                            if code == 4001 and self._get_token is not None:
                                self._token = None  # expired (or none in time): fetch a new one
                            else:
                                stop, limit = unrecoverable_close(code, reason, self._max_message_bytes)
                                if stop:
                                    raise ConnectionFailed(
                                        f"{self.url}: closed with {code} {reason!r}; retrying cannot help"
                                    ) from exc
                                if limit is not None:
                                    self._max_message_bytes = limit
                        else:
                            code, reason = 1006, "connection lost without a close frame"
                    except _LivenessTimeout as exc:
                        self.stats.liveness_timeouts += 1
                        reason = str(exc)
                        ws.transport.abort()  # the peer is mute: a closing handshake would only wait
                    except _RefreshRefused as exc:
                        reason = str(exc)
                        await ws.close(1000, "token refresh refused")
                    except TickwireError:
                        await ws.close(1000, "client giving up")
                        raise
                    except BaseException:
                        ws.transport.abort()
                        raise
                    finally:
                        self._disconnect()
                    if time.monotonic() - opened_at >= _STABLE_CONNECTION_S:
                        attempt = 0
                if self._closing:
                    break
                self._url_index = (self._url_index + 1) % len(self.urls)  # the next gateway, as the SDK does
                attempt += 1
                if self._max_attempts is not None and attempt >= self._max_attempts:
                    raise ConnectionFailed(f"{self.url}: {attempt} attempts failed in a row; last: {reason}")
                delay_s = self._backoff.delay_s(attempt - 1, retry_after_s)
                await self._emit(Disconnected(connected, code, reason, retry_after_s, delay_s, attempt))
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), delay_s)
                except asyncio.TimeoutError:
                    pass
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # handed to the consumer, raised from the iteration
            self._failure = exc
        finally:
            self._finished = True
            self._disconnect()
            self._connected.set()  # wakes requests waiting for a connection: they see _finished and raise
            self._queue.put_nowait(_END)

    async def _serve(self, ws: websockets.WebSocketClientProtocol) -> None:
        self._ws = ws
        self._tracker.reset()
        self._resyncing.clear()
        self._snapshot_causes.clear()
        self._saw_heartbeat = False
        self.lag_ms = None
        self.feed = "up"  # a gateway whose feed is down says so in its first frame
        reconnect = self._connections > 0
        self._connections += 1
        if reconnect:
            self.stats.reconnects += 1
        await self._emit(Connected(self.url, self.stats.reconnects))
        cause = "resubscribe" if reconnect else "subscribe"
        if self._token is not None or self._get_token is not None:
            # First frame; the gateway answers the subscribes sent right after it once it has judged it.
            await self._send(ws, "auth", {"token": await self._current_token()}, _Pending("auth", "connect"))
        await self._subscribe_all(ws, tuple(self._desired), self._snapshot, cause)
        self._connected.set()
        while True:
            timeout = self._liveness_timeout_s
            if timeout is None and self._saw_heartbeat:
                timeout = 3 * self._heartbeat_interval_s
            try:
                frame = await asyncio.wait_for(ws.recv(), timeout) if timeout is not None else await ws.recv()
            except asyncio.TimeoutError:
                raise _LivenessTimeout(f"no frame for {timeout:g} s (liveness timeout)") from None
            received_us = time.time_ns() // 1000
            for item in decode_frame(frame):
                if isinstance(item, dict):
                    await self._handle(ws, item, received_us)

    async def _current_token(self) -> str:
        """The token for a new connection: the one held, unless it is missing or about to expire."""
        expiring = self._token_exp is not None and time.time() >= self._token_exp - self._refresh_before_s
        if self._get_token is not None and (self._token is None or expiring):
            self._token, self._token_exp = await self._fetch_token(), None
        if not isinstance(self._token, str) or self._token == "":
            raise ValueError("the token must be a non-empty string")
        return self._token

    async def _fetch_token(self) -> str:
        assert self._get_token is not None
        token = self._get_token()
        token = await token if inspect.isawaitable(token) else token
        if not isinstance(token, str) or token == "":
            raise ValueError("get_token must return a non-empty string")
        return token

    def _accepted(self, ws: Any, result: Mapping[str, Any], cause: str) -> Authenticated:
        """The gateway took a token: note its expiry, drop removed patterns, schedule the next refresh."""
        exp = result.get("exp")
        exp = exp if isinstance(exp, (int, float)) and not isinstance(exp, bool) else 0
        grants = result.get("grants")
        removed = tuple(str(p) for p in result.get("removed", ()) or ())
        for pattern in removed:
            self._desired.pop(pattern, None)
        self._token_exp = exp if exp > 0 else None
        self._cancel_refresh()
        if self._get_token is not None and self._token_exp is not None:
            delay_s = max(0.0, self._token_exp - self._refresh_before_s - time.time())
            self._refresh_task = asyncio.get_running_loop().create_task(
                self._refresh_later(ws, delay_s), name="tickwire-token-refresh"
            )
        return Authenticated(str(result.get("sub", "")), int(exp), grants if isinstance(grants, dict) else {}, removed, cause)

    async def _refresh_later(self, ws: Any, delay_s: float) -> None:
        """Before `exp`: a new token from get_token, sent on the same connection (its reply is handled by
        the reader). A get_token that raises leaves the token in force: the gateway's expiry close (4001)
        then makes the client fetch one again to reconnect, and a failure there ends the client."""
        await asyncio.sleep(delay_s)
        try:
            token = await self._fetch_token()
        except Exception:  # noqa: BLE001 - retried at expiry, where a failure is raised to the consumer
            return
        if self._ws is not ws:
            return
        self._token, self._token_exp = token, None
        try:
            await self._send(ws, "auth", {"token": token}, _Pending("auth", "refresh"))
        except ConnectionClosed:
            pass  # the reader sees the close and reconnects

    def _cancel_refresh(self) -> None:
        task, self._refresh_task = self._refresh_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def _disconnect(self) -> None:
        self._cancel_refresh()
        self._ws = None
        self._connected.clear()
        pending, self._pending = self._pending, {}
        for entry in pending.values():
            if entry.future is not None and not entry.future.done():
                entry.future.set_exception(ConnectionError(f"connection lost before the {entry.method} reply"))

    async def _handle(self, ws: websockets.WebSocketClientProtocol, item: dict[str, Any], received_us: int) -> None:
        kind = item.get("e")
        if kind is None and "id" in item and ("result" in item or "error" in item):
            await self._on_reply(item)
            return
        if kind == "snapshot_end":
            missing = item.get("missing")
            request_id = item.get("id")
            cause = self._snapshot_causes.pop(request_id, "user")
            await self._emit(SnapshotEnd(request_id, tuple(missing) if isinstance(missing, list) else (), cause))
            return
        if kind == "heartbeat":
            self._saw_heartbeat = True
            lag = item.get("lag")
            lag = lag if isinstance(lag, int) and not isinstance(lag, bool) else None
            self.lag_ms = lag
            if lag is not None and self._on_lag is not None:
                self._on_lag(lag)
            feed = "down" if item.get("feed") == "down" else "up"
            if feed != self.feed:
                await self._feed(feed, item.get("ts", 0))
            await self._emit(
                Heartbeat(
                    item.get("ts", 0),
                    item.get("sent", 0),
                    item.get("conflated", 0),
                    item.get("dropped", 0),
                    lag,
                    feed,
                )
            )
            return
        if kind == "feed":
            state = item.get("state")
            if state in ("up", "down") and state != self.feed:
                await self._feed(str(state), item.get("ts", 0))
            return
        event = data_event(item, received_us)
        if event is None:
            return  # an event type this client does not know: ignored (PROTOCOL.md, "Conventions")
        check = self._tracker.observe(event.topic, event.q, event.flags, event.n)
        if check.kind == "duplicate":
            self.stats.duplicates += 1
            return
        if check.kind == "gap":
            self.stats.gaps += 1
            self.stats.missed += check.missed
            resync = not event.snapshot and self._resync_on_gap and await self._resync(ws, event.topic)
            await self._emit(Gap(event.topic, check.last_q or 0, event.q, check.missed, resync))
        self.stats.events += 1
        if event.conflated:
            self.stats.conflated_events += 1
            self.stats.conflated_updates += event.n or 0
        await self._emit(event)

    async def _feed(self, state: str, ts: int) -> None:
        self.feed = state
        await self._emit(Feed(state, ts))

    async def _resync(self, ws: websockets.WebSocketClientProtocol, topic: str) -> bool:
        """Unsubscribes and resubscribes (with snapshot) every held pattern matching `topic`, once at a time."""
        patterns = tuple(p for p in self._desired if pattern_matches(p, topic))
        if not patterns:
            return False
        if any(p in self._resyncing for p in patterns):
            return True  # a snapshot of this topic is already on its way
        self._resyncing.update(patterns)
        self.stats.resyncs += 1
        await self._send(ws, "unsubscribe", {"topics": list(patterns)}, _Pending("unsubscribe", "resync", patterns))
        await self._subscribe_all(ws, patterns, True, "resync")
        return True

    async def _subscribe_all(
        self, ws: websockets.WebSocketClientProtocol, patterns: tuple[str, ...], snapshot: bool, cause: str
    ) -> None:
        groups: dict[_SubOptions, list[str]] = {}
        for pattern in patterns:
            groups.setdefault(self._desired[pattern], []).append(pattern)
        for options, group in groups.items():
            build = lambda run: _request("subscribe", 2**53, _subscribe_params(run, snapshot, options))  # noqa: E731
            for run in split_topics(group, build, self._max_message_bytes):
                params = _subscribe_params(run, snapshot, options)
                await self._send(ws, "subscribe", params, _Pending("subscribe", cause, tuple(run)))

    async def _send(
        self, ws: websockets.WebSocketClientProtocol, method: str, params: Optional[dict[str, Any]], pending: _Pending
    ) -> None:
        request_id = self._next_id
        self._next_id += 1
        self._pending[request_id] = pending
        if method == "subscribe" and params is not None and params.get("snapshot"):
            self._snapshot_causes[request_id] = pending.cause
        await ws.send(msgpack.packb(_request(method, request_id, params)))

    async def _on_reply(self, item: dict[str, Any]) -> None:
        request_id = item.get("id")
        entry = self._pending.pop(request_id, None) if isinstance(request_id, int) else None
        if entry is None:
            return
        if entry.method == "subscribe" and entry.cause == "resync":
            self._resyncing.difference_update(entry.patterns)
        error = item.get("error")
        if isinstance(error, dict) and entry.method == "auth" and error.get("reason") == "disabled":
            if entry.future is not None:
                entry.future.set_result(None)
            return  # a gateway running --auth none needs no token
        if isinstance(error, dict) and entry.method == "auth" and entry.cause == "refresh":
            # Like the SDK: a refused refresh gets one more chance, on a new connection with a fresh token.
            self._token = None
            raise _RefreshRefused(f"token refresh refused: {error.get('code')} {error.get('reason', '')}")
        if isinstance(error, dict):
            self._snapshot_causes.pop(request_id, None)
            failure = TickwireError(int(error.get("code", 0)), str(error.get("msg", "")), method=entry.method)
            if entry.future is not None:
                entry.future.set_exception(failure)
                return
            if entry.method == "unsubscribe":
                return  # resync: the pattern was not held any more; the subscribe that follows decides
            raise failure  # our own subscribe was refused whole: the view cannot converge
        result = item.get("result")
        result = result if isinstance(result, dict) else {}
        if entry.method == "auth":
            authenticated = self._accepted(self._ws, result, "refresh" if entry.cause != "connect" else "connect")
            if entry.future is not None:
                entry.future.set_result(authenticated)
            await self._emit(authenticated)
            return
        if entry.method != "subscribe":
            if entry.future is not None:
                entry.future.set_result(result)
            return
        errors = tuple(
            TickwireError(int(e.get("code", 0)), str(e.get("msg", "")), method="subscribe", topic=str(e.get("topic")))
            for e in result.get("errors", ())
            if isinstance(e, dict)
        )
        for refused in errors:
            self._desired.pop(refused.topic or "", None)
        if entry.future is not None:
            max_hz = result.get("maxHz")
            entry.future.set_result(
                SubscribeResult(
                    tuple(result.get("subscribed", ())), errors, max_hz if isinstance(max_hz, (int, float)) else None
                )
            )
            return
        for refused in errors:
            await self._emit(TopicRefused(refused.topic or "", refused))
        await self._emit(Subscribed(tuple(result.get("subscribed", ())), entry.cause))

    async def _emit(self, event: Event) -> None:
        # Back-pressure: stop reading the socket while the consumer is behind, unless it waits for a reply.
        while self._queue.qsize() >= self._max_pending and self._user_requests == 0 and not self._closing:
            self._space.clear()
            await self._space.wait()
        self._queue.put_nowait(event)


def _request(method: str, request_id: int, params: Optional[dict[str, Any]]) -> dict[str, Any]:
    request: dict[str, Any] = {"method": method, "id": request_id}
    if params is not None:
        request["params"] = params
    return request


def _subscribe_params(patterns: Iterable[str], snapshot: bool, options: _SubOptions) -> dict[str, Any]:
    params: dict[str, Any] = {"topics": list(patterns), "snapshot": snapshot}
    if options.max_hz is not None:
        params["maxHz"] = options.max_hz
    if options.on_slow is not None:
        params["onSlow"] = options.on_slow
    return params


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, asyncio.TimeoutError) else "opening handshake timed out"
