"""The simulated Binance Spot venue: combined-stream WebSocket sessions (`/stream?streams=`),
REST under `/api/v3`, and the feed its market driver fans out (payloads from `binance_wire`).

Streams ride in the connection URL; SUBSCRIBE, UNSUBSCRIBE and LIST_SUBSCRIPTIONS control
messages change or list them. Books go out every 100 ms, partial (`depth<N>`) or as the diff
stream `<s>@depth@100ms` (`U`/`u` the market's update ids, the same the REST `/depth`
snapshot's `lastUpdateId` counts; the true top 50 levels after each diff are remembered);
tickers every second, open klines every second (1s) or two (longer intervals), closed klines
as they close; a book that has not changed since the last frame is sent again from its cached
rendering. Symbols not `TRADING` never move and send nothing. REST: `/exchangeInfo` (weight
20), `/ticker/24hr` (one symbol, `symbols`, or every symbol: weight 2 to 80), `/depth` (up to
5000 levels), `/klines`,
`/historicalTrades` and `/aggTrades` (`fromId`, from the trades each market still serves, its
`history_depth`: an older `fromId` gets the oldest there is, as on a venue whose history ran
out), `/trades`, `/ping`,
`/time`; every answer is charged its documented weight (`binance_wire.weight`) against
`limits.RequestWeight`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.frames import Opcode

from streamer.simulator.limits import RequestWeight, Window, Windows
from streamer.simulator.listing import Listing, generated
from streamer.simulator.market import Change, Market, Trade, trades_from
from streamer.simulator.outbox import Connection, fan_out
from streamer.simulator.venue import (
    ADMITTED,
    Admission,
    Context,
    Listed,
    Meter,
    Schedule,
    VenueConfig,
    build_markets,
    drive_markets,
)
from streamer.venues.binance import sim_wire as binance_wire
from streamer.venues.binance.sim_wire import NOTATION, interval_name, stream_prefix

DEPTH_LEVELS = (5, 10, 20)  # the partial book streams; depth20 is remembered as truth
TRUTH_DEPTH = 50  # levels of each side remembered after each diff event, for tests
DEPTH_EVERY_MS = 100
TICKER_EVERY_MS = 1000
MAX_DEPTH_LIMIT = 5000
MAX_KLINES_LIMIT = 1000
MAX_TRADES_LIMIT = 1000


QUOTES = ("USDT",) * 11 + ("BTC",) * 4 + ("FDUSD",) * 3 + ("USDC",) * 2
BREAK_EVERY = 50  # generated number k with k % 50 == 17 is in BREAK (2 %)
HALT_EVERY = 97  # k % 97 == 41 is in HALT (about 1 %)
MARGIN_EVERY = 3  # every third USDT symbol may also be traded on margin


@dataclass(frozen=True, slots=True)
class BinanceSimOptions:
    """The venue's limits, and what the simulator does past each:
    - `max_target` (8,004 characters of request target): HTTP 414, WebSocket and REST.
    - `max_streams` (1024 on one connection): HTTP 400 at the handshake; a SUBSCRIBE past it
      is answered `{"error": {"code": 2, ...}}` and ignored.
    - `messages_per_second` (5 incoming frames: text, binary, ping, pong): close 1008.
    - `connects` per `connect_window` (300 per 300 s per IP): HTTP 429.
    - `weight_per_minute` (6000 request weight per IP per minute): HTTP 429 with Retry-After;
      a client that keeps going is banned, HTTP 418 for `ban_seconds` (120), doubling per ban
      up to 3 days.
    """

    max_target: int = 8_004
    max_streams: int = 1024
    messages_per_second: int = 5
    connects: int = 300
    connect_window: float = 300.0
    weight_per_minute: int = 6000
    ban_seconds: float = 120.0


def listings(config: VenueConfig) -> list[Listing]:
    """The configured symbols (TRADING), then `config.markets` generated ones, a few in BREAK
    or HALT."""

    def make(k: int, weight: float) -> Listing:
        base, quote = f"C{k:04d}", QUOTES[(k - 1) % len(QUOTES)]
        status = "TRADING"
        if k % BREAK_EVERY == 17:
            status = "BREAK"
        elif k % HALT_EVERY == 41:
            status = "HALT"
        trading = status == "TRADING"
        margin = quote == "USDT" and k % MARGIN_EVERY == 0
        return Listing(f"{base}-{quote}", base, quote, status, trading,
                       weight if trading else 0.0, True, margin=margin)  # fmt: skip

    return generated(config.symbols, "TRADING", config.markets, config.skew, make)


def simulate(config: VenueConfig, context: Context) -> Binance:
    return Binance(listings(config), context, config.options or BinanceSimOptions())


class Binance(Listed):
    rest_prefix = "/api/v3"
    ws_path = "/stream"

    def __init__(
        self, listings: list[Listing], context: Context, options: BinanceSimOptions
    ) -> None:
        self.context = context
        self.options = options
        self.markets = build_markets("binance", listings, context, 60_000)
        self._list(listings)
        self.by_native = {binance_wire.native(s): m for s, m in self.markets.items()}
        self.by_prefix = {stream_prefix(s): m for s, m in self.markets.items()}
        self.listeners: dict[Connection, set[str]] = {}  # connection -> its stream names
        self.subscribers: dict[str, set[Connection]] = {}  # stream name -> its connections
        self.schedule = Schedule()
        self._depths: dict[tuple[str, int], tuple[int, dict[str, Any]]] = {}  # book cache
        # symbol -> (U, (side, price) -> size): the book changes since the last diff event
        self._diffs: dict[str, tuple[int, dict[tuple[str, int], int]]] = {}
        self.connects = Windows(options.connects, options.connect_window)
        self.weight = RequestWeight(options.weight_per_minute, options.ban_seconds)

    def environment(self, base: str) -> dict[str, str]:
        return {
            "STREAMER_BINANCE_WS_URL": f"ws://{base}",
            "STREAMER_BINANCE_REST_URL": f"http://{base}",
            "STREAMER_BINANCE_SYMBOLS": ",".join(self.symbols),
        }

    # ---- limits ----------------------------------------------------------------------------

    def admit(self, target: str, client: str, websocket: bool) -> Admission:
        limits, breaches, now = self.options, self.context.breaches, self.context.monotonic()
        if len(target) > limits.max_target:
            breaches.record("binance.request_target", client, f"length={len(target)}")
            return Admission((414, {"code": -1, "msg": "Request-URI Too Long."}))
        if websocket:
            if not self.connects.hit(client, now):
                breaches.record("binance.connects", client)
                return Admission((429, {"code": -1003, "msg": "Too many connection attempts."}))
            names = parse_qs(urlsplit(target).query).get("streams", [""])[0].split("/")
            if len({n for n in names if n}) > limits.max_streams:
                breaches.record("binance.streams", client, f"streams={len(names)}")
                return Admission((400, {"code": -1, "msg": "Too many streams."}))
            return ADMITTED
        path = urlsplit(target)
        params = {k: v[0] for k, v in parse_qs(path.query).items()}
        cost = binance_wire.weight(path.path.removeprefix(self.rest_prefix), params)
        status, used, retry = self.weight.charge(client, cost, now)
        headers = {"X-MBX-USED-WEIGHT-1M": str(used)}
        if status == 200:
            return Admission(None, headers)
        breaches.record(f"binance.weight_{status}", client, f"used={used}")
        headers["Retry-After"] = str(retry)
        msg = "Too much request weight used; current limit is %d request weight per 1 MINUTE."
        body = {"code": -1003, "msg": msg % limits.weight_per_minute}
        return Admission((status, body), headers)

    def meter(self, client: str, who: str) -> Meter:
        """Five incoming messages a second on one connection, pings and pongs included."""
        window = Window(self.options.messages_per_second, 1.0)
        clock, breaches = self.context.monotonic, self.context.breaches

        def check(opcode: Opcode) -> bool:
            if opcode is Opcode.CONT or opcode is Opcode.CLOSE or window.hit(clock()):
                return True
            breaches.record("binance.messages", who, f"client={client}")
            return False

        return check

    # ---- WebSocket -------------------------------------------------------------------------

    async def session(self, conn: Connection, query: str) -> None:
        names = parse_qs(query).get("streams", [""])[0].split("/")
        streams = {name for name in names if name}
        self._track(streams)
        if self.context.replay is not None:
            for line in self.context.replay.frames("binance"):
                conn.outbox.push(line)
        self.listeners[conn] = streams
        self._index(conn, streams, add=True)
        try:
            async for message in conn.ws:
                reply = self._control(conn, streams, message)
                if reply is None:
                    await conn.ws.close(1008, "Invalid request")
                    return
                conn.outbox.push(orjson.dumps(reply).decode())
        finally:
            self.listeners.pop(conn, None)
            self._index(conn, streams, add=False)

    def _index(self, conn: Connection, streams: Iterable[str], *, add: bool) -> None:
        """Keep `subscribers` (stream -> connections) in step with `conn`'s streams."""
        for name in streams:
            if add:
                self.subscribers.setdefault(name, set()).add(conn)
            elif (conns := self.subscribers.get(name)) is not None:
                conns.discard(conn)
                if not conns:
                    del self.subscribers[name]

    def _control(
        self, conn: Connection, streams: set[str], message: str | bytes
    ) -> dict[str, Any] | None:
        """Apply a control message to `streams`; its reply (None: not a valid request)."""
        try:
            request = orjson.loads(message)
            method, ident = request["method"], request.get("id")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return None
        if method == "SUBSCRIBE":
            added = set(request.get("params", [])) - streams
            if len(streams) + len(added) > self.options.max_streams:
                self.context.breaches.record("binance.streams", conn.number)
                error = {"code": 2, "msg": "Invalid request: too many streams"}
                return {"error": error, "id": ident}
            streams |= added
            self._index(conn, added, add=True)
            self._track(added)
            return {"result": None, "id": ident}
        if method == "UNSUBSCRIBE":
            removed = set(request.get("params", [])) & streams
            streams -= removed
            self._index(conn, removed, add=False)
            return {"result": None, "id": ident}
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": sorted(streams), "id": ident}
        error = {"code": 2, "msg": f"Invalid request: unknown variant `{method}`"}
        return {"error": error, "id": ident}

    def _track(self, streams: Iterable[str]) -> None:
        """Build candles of every interval a `<symbol>@kline_<interval>` stream asks for."""
        for stream in streams:
            prefix, _, kind = stream.partition("@")
            market = self.by_prefix.get(prefix)
            interval = binance_wire.INTERVALS_MS.get(kind.removeprefix("kline_"))
            if market is not None and interval and kind.startswith("kline_"):
                market.track(interval)

    def _publish(self, stream: str, payload: dict[str, Any]) -> None:
        subscribed = self.subscribers.get(stream)
        if subscribed:
            fan_out(subscribed, lambda: orjson.dumps({"stream": stream, "data": payload}).decode())

    # ---- market driver ---------------------------------------------------------------------

    async def drive(self) -> None:
        await drive_markets(self, self.trading, self.listeners, self.context, self.weights)

    def tick(self, market: Market, now: int) -> None:
        prefix = stream_prefix(market.symbol)
        for candle in market.advance(now):
            name = interval_name(candle.interval_ms)
            self.context.truth.candle("binance", market.symbol, name, candle, NOTATION)
            frame = binance_wire.kline(market, candle, name, True, now)
            self._publish(f"{prefix}@kline_{name}", frame)
        if self.schedule.due((market.symbol, "depth"), now, DEPTH_EVERY_MS):
            self._depth(market, prefix)
            self._diff(market, prefix, now)
        if self.schedule.due((market.symbol, "ticker"), now, TICKER_EVERY_MS):
            self._publish(f"{prefix}@ticker", binance_wire.ticker(market, now))
        for interval, candle in market.candles.items():
            name = interval_name(interval)
            if self.schedule.due((market.symbol, name), now, 1000 if interval == 1000 else 2000):
                frame = binance_wire.kline(market, candle, name, False, now)
                self._publish(f"{prefix}@kline_{name}", frame)

    def _depth(self, market: Market, prefix: str) -> None:
        subscribers = self.subscribers
        for levels in DEPTH_LEVELS:
            names = (f"{prefix}@depth{levels}@100ms", f"{prefix}@depth{levels}")
            if not any(n in subscribers for n in names):
                continue
            cached = self._depths.get((prefix, levels))
            if cached is not None and cached[0] == market.sequence:
                payload = cached[1]  # an unchanged book: the same levels again
            else:
                payload = binance_wire.depth(market, levels)
                self._depths[(prefix, levels)] = (market.sequence, payload)
            if levels == DEPTH_LEVELS[-1]:
                book = (payload["bids"], payload["asks"])
                self.context.truth.book("binance", (market.symbol, market.sequence), book)
            for name in names:
                self._publish(name, payload)

    def _diff(self, market: Market, prefix: str, now: int) -> None:
        """The `<s>@depth@100ms` event of the changes since the last one: update ids `U` (the
        first change's) to `u` (the market's sequence now), each level's last size."""
        pending = self._diffs.pop(market.symbol, None)
        if pending is None:
            return
        first, levels = pending
        bids = sorted(((p, q) for (side, p), q in levels.items() if side == "bid"), reverse=True)
        asks = sorted((p, q) for (side, p), q in levels.items() if side == "ask")
        payload = {"e": "depthUpdate", "E": now, "s": binance_wire.native(market.symbol),
                   "U": first, "u": market.sequence, "b": binance_wire.levels(bids),
                   "a": binance_wire.levels(asks)}  # fmt: skip
        truth = binance_wire.depth(market, TRUTH_DEPTH)
        self.context.truth.book(
            "binance", (market.symbol, market.sequence), (truth["bids"], truth["asks"])
        )
        self._publish(f"{prefix}@depth@100ms", payload)

    def event(self, market: Market, changes: list[Change], trade: Trade | None, now: int) -> None:
        # A diff under way records every change until it is sent, even if its last subscriber
        # left meanwhile (a client reconnecting); one starts only while someone subscribes, so
        # changes nobody could receive leave a gap in `U` that a client sees and resyncs on.
        pending = self._diffs.get(market.symbol)
        if changes and (
            pending is not None or f"{stream_prefix(market.symbol)}@depth@100ms" in self.subscribers
        ):
            if pending is None:
                pending = self._diffs[market.symbol] = (market.sequence, {})
            for change in changes:
                pending[1][(change.side, change.price)] = change.size
        if trade is None:
            return  # other book changes reach clients in the next depth snapshot
        self.context.truth.trade("binance", market.symbol, trade, NOTATION)
        prefix = stream_prefix(market.symbol)
        self._publish(f"{prefix}@trade", binance_wire.trade(market, trade, now))
        self._publish(f"{prefix}@aggTrade", binance_wire.agg_trade(market, trade, now))

    # ---- REST ------------------------------------------------------------------------------

    def rest(self, endpoint: str, params: Mapping[str, str]) -> tuple[int, Any]:
        if endpoint == "/ping":
            return 200, {}
        now = self.context.clock()
        if endpoint == "/time":
            return 200, {"serverTime": now}
        if endpoint == "/exchangeInfo":
            listings = binance_wire.select(list(self.listings.values()), params)
            if listings is None:
                return 400, {"code": -1128, "msg": "Combination of optional parameters invalid."}
            limit = self.options.weight_per_minute
            return 200, binance_wire.exchange_info(listings, now, limit)
        if endpoint == "/ticker/24hr" and "symbol" not in params:
            wanted = orjson.loads(params["symbols"]) if "symbols" in params else None
            natives = self.by_native if wanted is None else wanted
            if any(n not in self.by_native for n in natives):
                return 400, {"code": -1121, "msg": "Invalid symbol."}
            return 200, [binance_wire.rest_ticker(self.by_native[n], now) for n in natives]
        market = self.by_native.get(params.get("symbol", ""))
        if market is None:
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        if endpoint == "/depth":
            limit = min(int(params.get("limit", 100)), MAX_DEPTH_LIMIT)
            return 200, binance_wire.depth(market, limit)
        if endpoint == "/ticker/24hr":
            return 200, binance_wire.rest_ticker(market, self.context.clock())
        if endpoint == "/klines":
            return 200, self._klines(market, params)
        if endpoint in ("/historicalTrades", "/trades", "/aggTrades"):
            row = (
                binance_wire.rest_agg_trade if endpoint == "/aggTrades" else binance_wire.rest_trade
            )
            return 200, [row(t) for t in self._trades(market, endpoint, params)]
        return 404, {"code": -1, "msg": "Not found"}

    def _trades(self, market: Market, endpoint: str, params: Mapping[str, str]) -> list[Trade]:
        """From `fromId` on (the oldest still kept if it is older); without it, the newest;
        `aggTrades` also by `startTime`/`endTime` (ms, inclusive)."""
        limit = min(int(params.get("limit", 500)), MAX_TRADES_LIMIT)
        history = market.served()
        if "fromId" in params and endpoint != "/trades":
            return trades_from(history, int(params["fromId"]), limit)
        if endpoint == "/aggTrades" and ("startTime" in params or "endTime" in params):
            start, end = int(params.get("startTime", 0)), int(params.get("endTime", 2**62))
            return [t for t in history if start <= t.time <= end][:limit]
        return list(history)[-limit:]

    def _klines(self, market: Market, params: Mapping[str, str]) -> list[list[Any]]:
        interval = binance_wire.INTERVALS_MS[params["interval"]]
        market.track(interval)
        start, end = int(params.get("startTime", 0)), int(params.get("endTime", 2**62))
        limit = min(int(params.get("limit", 500)), MAX_KLINES_LIMIT)
        candles = [*market.closed[interval], market.candles[interval]]
        rows = [binance_wire.rest_kline(c) for c in candles if start <= c.open_time <= end]
        return rows[:limit]
