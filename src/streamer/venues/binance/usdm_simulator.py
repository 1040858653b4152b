"""The simulated Binance USD-M venue (fstream/fapi): routed combined-stream WebSockets, REST
under `/fapi/v1`, and the feed its market driver fans out (payloads from `usdm_sim_wire`).

Routes. The WebSocket paths hang under `WS_MOUNT` (`/fstream`: the port is shared with Spot,
whose `/stream` it is), so `STREAMER_BINANCE_USDM_WS_URL` is `ws://host:port/fstream` and a
client connects to `<url>/public/stream?streams=...` or `<url>/market/stream?streams=...` as on
`wss://fstream.binance.com`. `/public` carries `depth*`, `bookTicker` and `@trade`; `/market`
carries `aggTrade`, `markPrice`, `kline`, `ticker`, `forceOrder` and the rest (`route_of`).
The unrouted `<url>/stream` (combined) and `<url>/ws` (bare payloads) carry only `/public`
streams. A stream asked for on a route that does not carry it is acknowledged (in the URL, or
`{"result": null, "id": N}`), listed by LIST_SUBSCRIPTIONS, and then gets nothing, as on the
real venue since 2026-04-23.

Streams. Trades (`@aggTrade`, `@trade`) as they happen; `<s>@depth@100ms` every 100 ms with
the changes since the last event (`U` the first change's update id, `u` the market's now, `pu`
the `u` of the event before; the chain runs whether anyone listens or not, and with
`pu_break_probability` an event is lost, so the next one's `pu` does not link, as Binance's
engine restarts do); the true top 50 levels after each sent event are `truth.books` under
`("binance_usdm", (symbol, u))`. Tickers every second, klines as on Spot. `!markPrice@arr@1s`
(and `<s>@markPrice@1s`) every second for every trading contract: mark the mid, index off it
by a drifting premium, the predicted funding rate from that premium (Binance's formula, the
0.01 % interest and the 0.05 % clamp), `T` the next funding time (a dated contract: `r` "" and
`T` 0). Funding settles every 8 h on the market's clock (4 h for a few generated ones,
`fundingInfo`): a test compresses it by moving the clock. Liquidations come in bursts
(`liquidation_probability` per trade starts one of `burst_ms`): every trade in a burst
liquidates an order, and `!forceOrder@arr` pushes only the latest one per symbol and second,
as Binance does (`liquidations` counts them all, `sent_liquidations` keeps what went out).

REST (`/fapi/v1`): `exchangeInfo`, `depth` (up to 1000 levels), `aggTrades` (`fromId`, a time
window or the newest, of the `history_depth` still served), `klines` (of the interval asked,
built from then on), `openInterest`, `fundingRate` (settled, from a backfilled history),
`fundingInfo`, `ticker/24hr`, `time`, `ping`; each charged USD-M's weight
(`usdm_sim_wire.weight`) against `limits.RequestWeight`.
"""

from __future__ import annotations

import collections
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.frames import Opcode

from streamer.simulator.limits import RequestWeight, Window, Windows
from streamer.simulator.listing import Listing
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
from streamer.venues.binance import usdm_sim_wire as wire
from streamer.venues.binance.sim_wire import INTERVALS_MS, interval_name
from streamer.venues.binance.usdm_sim_listing import funding_hours, listings
from streamer.venues.binance.usdm_sim_market import Derivative, FundingBook
from streamer.venues.binance.usdm_sim_wire import NOTATION, Contract, stream_prefix
from streamer.venues.binance.usdm_streams import (
    EXCHANGE_USDM,
    LIQUIDATION_STREAM,
    MARK_PRICE_STREAM,
    native_symbol,
)

WS_MOUNT = "/fstream"
PUBLIC, MARKET = "public", "market"
ROUTES: dict[str, str | None] = {
    f"{WS_MOUNT}/public/stream": PUBLIC,
    f"{WS_MOUNT}/market/stream": MARKET,
    f"{WS_MOUNT}/stream": None,  # unrouted: only /public streams arrive
    f"{WS_MOUNT}/ws": None,  # unrouted, bare payloads
}
PUBLIC_KINDS = frozenset({"depth", "bookTicker", "trade", "rpiDepth"})
MARKET_KINDS = frozenset({"aggTrade", "markPrice", "kline", "continuousKline", "ticker",
                          "miniTicker", "forceOrder", "compositeIndex", "contractInfo",
                          "assetIndex"})  # fmt: skip
_KIND = re.compile(r"[A-Za-z]+")
TRUTH_DEPTH = 50
DEPTH_EVERY_MS = 100
SECOND_MS = 1000
MAX_DEPTH_LIMIT = 1000
MAX_TRADES_LIMIT = 1000
SENT_LIQUIDATIONS = 10_000  # liquidation frames remembered for tests


@dataclass(frozen=True, slots=True)
class UsdmSimOptions:
    """USD-M's limits (venues.md 1.2) and the simulator's dice:
    - `max_target` (8,004 characters): HTTP 414; `max_streams` (200 per connection, the
      disputed cap's safe side): HTTP 400 at the handshake, a SUBSCRIBE past it an error;
    - `messages_per_second` (10 incoming frames): close 1008; `connects` per `connect_window`
      (300 per 300 s per IP): HTTP 429;
    - `weight_per_minute` (2,400 per IP): 429 with Retry-After, then 418 bans (`ban_seconds`);
    - `pu_break_probability`: a diff event is lost (the next `pu` does not link);
    - `liquidation_probability`: a trade starts a liquidation burst of `burst_ms`.
    """

    max_target: int = 8_004
    max_streams: int = 200
    messages_per_second: int = 10
    connects: int = 300
    connect_window: float = 300.0
    weight_per_minute: int = 2400
    ban_seconds: float = 120.0
    pu_break_probability: float = 0.0002
    liquidation_probability: float = 0.002
    burst_ms: int = 3000


def simulate(config: VenueConfig, context: Context) -> BinanceUsdm:
    return BinanceUsdm(listings(config, context.clock()), context,
                       config.options or UsdmSimOptions())  # fmt: skip


def route_of(stream: str) -> str | None:
    """The route that carries `stream` (`btcusdt@depth@100ms` -> public, `!markPrice@arr@1s`
    -> market); None for a stream USD-M does not have."""
    parts = stream.removeprefix("!").split("@")
    kind_text = parts[0] if stream.startswith("!") else (parts[1] if len(parts) > 1 else "")
    match = _KIND.match(kind_text)
    kind = match.group(0) if match else ""
    if kind in PUBLIC_KINDS:
        return PUBLIC
    return MARKET if kind in MARKET_KINDS else None


def delivered(route: str | None, stream: str) -> bool:
    """Whether a connection on `route` (None: unrouted) gets `stream`'s frames."""
    carrier = route_of(stream)
    return carrier is not None and (carrier == route or (route is None and carrier == PUBLIC))


@dataclass(slots=True)
class _Session:
    route: str | None
    bare: bool  # `/ws`: payloads without the combined-stream envelope
    streams: set[str] = field(default_factory=set)  # as subscribed, delivered or not


class BinanceUsdm(Listed):
    rest_prefix = "/fapi/v1"
    ws_path = f"{WS_MOUNT}/market/stream"
    ws_paths = tuple(ROUTES)

    def __init__(
        self,
        contracts: list[tuple[Listing, Contract]],
        context: Context,
        options: UsdmSimOptions,
    ) -> None:
        self.context = context
        self.options = options
        self.contracts = {item.symbol: contract for item, contract in contracts}
        listings_ = [item for item, _ in contracts]
        self.markets = build_markets(EXCHANGE_USDM, listings_, context, 60_000)
        self._list(listings_)
        self.by_native = {native_symbol(s): m for s, m in self.markets.items()}
        self.by_prefix = {stream_prefix(s): m for s, m in self.markets.items()}
        now = context.clock()
        self.derivatives = {
            item.symbol: Derivative.start(
                self.markets[item.symbol], self.contracts[item.symbol],
                funding_hours(item), random.Random(f"{context.seed}:usdm:{item.symbol}"), now,
            )
            for item in listings_
        }  # fmt: skip
        self.funding = FundingBook(self.derivatives)
        self.sessions: dict[Connection, _Session] = {}
        self.subscribers: dict[str, set[Connection]] = {}  # delivered stream -> enveloped
        self.bare: dict[str, set[Connection]] = {}  # delivered stream -> `/ws` connections
        self.schedule = Schedule()
        self.dice = random.Random(f"{context.seed}:usdm:dice")
        self.liquidations: collections.Counter[str] = collections.Counter()  # made, by symbol
        self.sent_liquidations: collections.deque[dict[str, Any]] = collections.deque(
            maxlen=SENT_LIQUIDATIONS
        )
        self.lost_events = 0  # diff events lost on purpose (`pu` breaks)
        self.connects = Windows(options.connects, options.connect_window)
        self.weight = RequestWeight(options.weight_per_minute, options.ban_seconds)

    def environment(self, base: str) -> dict[str, str]:
        perpetual = [s for s in self.symbols if self.contracts[s].perpetual]
        return {
            "STREAMER_BINANCE_USDM_WS_URL": f"ws://{base}{WS_MOUNT}",
            "STREAMER_BINANCE_USDM_REST_URL": f"http://{base}",
            "STREAMER_BINANCE_USDM_SYMBOLS": ",".join(perpetual),
        }

    # ---- limits ----------------------------------------------------------------------------

    def admit(self, target: str, client: str, websocket: bool) -> Admission:
        limits, breaches, now = self.options, self.context.breaches, self.context.monotonic()
        if len(target) > limits.max_target:
            breaches.record("binance_usdm.request_target", client, f"length={len(target)}")
            return Admission((414, {"code": -1, "msg": "Request-URI Too Long."}))
        if websocket:
            if not self.connects.hit(client, now):
                breaches.record("binance_usdm.connects", client)
                return Admission((429, {"code": -1003, "msg": "Too many connection attempts."}))
            names = parse_qs(urlsplit(target).query).get("streams", [""])[0].split("/")
            if len({n for n in names if n}) > limits.max_streams:
                breaches.record("binance_usdm.streams", client, f"streams={len(names)}")
                return Admission((400, {"code": -1, "msg": "Too many streams."}))
            return ADMITTED
        path = urlsplit(target)
        params = {k: v[0] for k, v in parse_qs(path.query).items()}
        cost = wire.weight(path.path.removeprefix(self.rest_prefix), params)
        status, used, retry = self.weight.charge(client, cost, now)
        headers = {"X-MBX-USED-WEIGHT-1M": str(used)}
        if status == 200:
            return Admission(None, headers)
        breaches.record(f"binance_usdm.weight_{status}", client, f"used={used}")
        headers["Retry-After"] = str(retry)
        msg = "Too much request weight used; current limit is %d request weight per 1 MINUTE."
        return Admission((status, {"code": -1003, "msg": msg % limits.weight_per_minute}),
                         headers)  # fmt: skip

    def meter(self, client: str, who: str) -> Meter:
        """Ten incoming messages a second on one connection, pings and pongs included."""
        window = Window(self.options.messages_per_second, 1.0)
        clock, breaches = self.context.monotonic, self.context.breaches

        def check(opcode: Opcode) -> bool:
            if opcode is Opcode.CONT or opcode is Opcode.CLOSE or window.hit(clock()):
                return True
            breaches.record("binance_usdm.messages", who, f"client={client}")
            return False

        return check

    # ---- WebSocket -------------------------------------------------------------------------

    async def session(self, conn: Connection, query: str) -> None:
        request = conn.ws.request
        path = urlsplit(request.path).path if request is not None else self.ws_path
        state = _Session(ROUTES.get(path, MARKET), path.endswith("/ws"))
        names = parse_qs(query).get("streams", [""])[0].split("/")
        self.sessions[conn] = state
        self._add(conn, state, {name for name in names if name})
        try:
            async for message in conn.ws:
                reply = self._control(conn, state, message)
                if reply is None:
                    await conn.ws.close(1008, "Invalid request")
                    return
                conn.outbox.push(orjson.dumps(reply).decode())
        finally:
            self.sessions.pop(conn, None)
            self._remove(conn, state, set(state.streams))

    def _add(self, conn: Connection, state: _Session, streams: set[str]) -> None:
        """Subscribe: every stream is listed, only those the route carries are indexed."""
        state.streams |= streams
        index = self.bare if state.bare else self.subscribers
        for name in streams:
            if delivered(state.route, name):
                index.setdefault(name, set()).add(conn)
                self._track(name)

    def _remove(self, conn: Connection, state: _Session, streams: set[str]) -> None:
        state.streams -= streams
        index = self.bare if state.bare else self.subscribers
        for name in streams:
            if (conns := index.get(name)) is not None:
                conns.discard(conn)
                if not conns:
                    del index[name]

    def _control(
        self, conn: Connection, state: _Session, message: str | bytes
    ) -> dict[str, Any] | None:
        """Apply a control message; its reply (None: not a valid request)."""
        try:
            request = orjson.loads(message)
            method, ident = request["method"], request.get("id")
            params = request.get("params", [])
            names = {p for p in params if type(p) is str}
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            return None
        if method == "SUBSCRIBE":
            added = names - state.streams
            if len(state.streams) + len(added) > self.options.max_streams:
                self.context.breaches.record("binance_usdm.streams", conn.number)
                return {"error": {"code": 2, "msg": "Invalid request: too many streams"},
                        "id": ident}  # fmt: skip
            self._add(conn, state, added)
            return {"result": None, "id": ident}
        if method == "UNSUBSCRIBE":
            self._remove(conn, state, names & state.streams)
            return {"result": None, "id": ident}
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": sorted(state.streams), "id": ident}
        return {"error": {"code": 2, "msg": f"Invalid request: unknown variant `{method}`"},
                "id": ident}  # fmt: skip

    def _track(self, stream: str) -> None:
        """Build candles of the interval a `<symbol>@kline_<interval>` stream asks for."""
        prefix, _, kind = stream.partition("@")
        market = self.by_prefix.get(prefix)
        interval = INTERVALS_MS.get(kind.removeprefix("kline_"))
        if market is not None and interval and kind.startswith("kline_"):
            market.track(interval)

    def _publish(self, stream: str, payload: Any) -> None:
        if subscribed := self.subscribers.get(stream):
            fan_out(subscribed, lambda: orjson.dumps({"stream": stream, "data": payload}).decode())
        if bare := self.bare.get(stream):
            fan_out(bare, lambda: orjson.dumps(payload).decode())

    # ---- market driver ---------------------------------------------------------------------

    async def drive(self) -> None:
        await drive_markets(self, self.trading, self.sessions, self.context, self.weights)

    def tick(self, market: Market, now: int) -> None:
        prefix = stream_prefix(market.symbol)
        derivative = self.derivatives[market.symbol]
        for candle in market.advance(now):
            name = interval_name(candle.interval_ms)
            self.context.truth.candle(EXCHANGE_USDM, market.symbol, name, candle, NOTATION)
            self._publish(f"{prefix}@kline_{name}", wire.kline(market, candle, name, True, now))
        if self.schedule.due((market.symbol, "depth"), now, DEPTH_EVERY_MS):
            self._diff(market, derivative.take_diff(), prefix, now)
        if self.schedule.due((market.symbol, "second"), now, SECOND_MS):
            derivative.settle(now)
            self._publish(f"{prefix}@ticker", wire.ticker(market, now))
            for interval, candle in market.candles.items():
                name = interval_name(interval)
                frame = wire.kline(market, candle, name, False, now)
                self._publish(f"{prefix}@kline_{name}", frame)
        if (order := derivative.due_liquidation(now)) is not None:
            self._liquidate(prefix, order)
        if self.schedule.due(("", "markPrice"), now, SECOND_MS):
            self._mark_prices(now)

    def _mark_prices(self, now: int) -> None:
        rows = []
        for symbol in self.symbols:
            row = self.derivatives[symbol].mark_price(native_symbol(symbol), now)
            rows.append(row)
            self._publish(f"{stream_prefix(symbol)}@markPrice@1s", row)
        self._publish(MARK_PRICE_STREAM, rows)

    def _liquidate(self, prefix: str, order: dict[str, Any]) -> None:
        self.sent_liquidations.append(order)
        self._publish(LIQUIDATION_STREAM, order)
        self._publish(f"{prefix}@forceOrder", order)

    def _diff(
        self, market: Market, taken: tuple[int, int, dict[tuple[str, int], int]] | None,
        prefix: str, now: int,
    ) -> None:  # fmt: skip
        """One `<s>@depth@100ms` event of the changes since the last (lost on purpose with
        `pu_break_probability`: the chain moves on without it)."""
        if taken is None:
            return
        first, previous, changed = taken
        if self.dice.random() < self.options.pu_break_probability:
            self.lost_events += 1
            return
        stream = f"{prefix}@depth@100ms"
        if stream not in self.subscribers and stream not in self.bare:
            return
        bids = sorted(((p, q) for (side, p), q in changed.items() if side == "bid"), reverse=True)
        asks = sorted((p, q) for (side, p), q in changed.items() if side == "ask")
        payload = wire.diff(market, first, market.sequence, previous, bids, asks, now)
        book = (wire.levels(market.top("bid", TRUTH_DEPTH)),
                wire.levels(market.top("ask", TRUTH_DEPTH)))  # fmt: skip
        self.context.truth.book(EXCHANGE_USDM, (market.symbol, market.sequence), book)
        self._publish(stream, payload)

    def event(self, market: Market, changes: list[Change], trade: Trade | None, now: int) -> None:
        derivative = self.derivatives[market.symbol]
        derivative.record(changes, market.sequence)
        if trade is None:
            return
        self.context.truth.trade(EXCHANGE_USDM, market.symbol, trade, NOTATION)
        prefix = stream_prefix(market.symbol)
        self._publish(f"{prefix}@trade", wire.trade(market, trade, now))
        self._publish(f"{prefix}@aggTrade", wire.agg_trade(market, trade, now))
        liquidated, flushed = derivative.traded(trade, now, self.options)
        self.liquidations[market.symbol] += liquidated
        if flushed is not None:
            self._liquidate(prefix, flushed)

    # ---- REST ------------------------------------------------------------------------------

    def rest(self, endpoint: str, params: Mapping[str, str]) -> tuple[int, Any]:
        if endpoint == "/ping":
            return 200, {}
        now = self.context.clock()
        if endpoint == "/time":
            return 200, {"serverTime": now}
        if endpoint == "/exchangeInfo":
            rows = [(item, self.contracts[s]) for s, item in self.listings.items()]
            return 200, wire.exchange_info(rows, now, self.options.weight_per_minute)
        if endpoint == "/fundingInfo":
            return 200, self.funding.info()
        if endpoint == "/fundingRate":
            return self.funding.history(params)
        if endpoint == "/ticker/24hr" and "symbol" not in params:
            return 200, [wire.rest_ticker(m, now) for m in self.by_native.values()]
        market = self.by_native.get(params.get("symbol", ""))
        if market is None:
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        if endpoint == "/depth":
            limit = min(int(params.get("limit", 500)), MAX_DEPTH_LIMIT)
            return 200, wire.depth(market, limit, now)
        if endpoint == "/klines":
            interval = INTERVALS_MS.get(params.get("interval", ""))
            if interval is None:
                return 400, {"code": -1120, "msg": "Invalid interval."}
            market.track(interval)
            return 200, wire.klines([*market.closed[interval], market.candles[interval]], params)
        if endpoint == "/aggTrades":
            return 200, [wire.rest_agg_trade(t) for t in self._trades(market, params)]
        if endpoint == "/openInterest":
            units = self.derivatives[market.symbol].open_interest
            return 200, wire.open_interest(native_symbol(market.symbol), units, now)
        if endpoint == "/ticker/24hr":
            return 200, wire.rest_ticker(market, now)
        return 404, {"code": -1, "msg": "Not found"}

    def _trades(self, market: Market, params: Mapping[str, str]) -> list[Trade]:
        """From `fromId` on (the oldest still kept if it is older), or in `startTime` to
        `endTime` (ms, inclusive), or the newest."""
        limit = min(int(params.get("limit", 500)), MAX_TRADES_LIMIT)
        history = market.served()
        if "fromId" in params:
            return trades_from(history, int(params["fromId"]), limit)
        if "startTime" in params or "endTime" in params:
            start, end = int(params.get("startTime", 0)), int(params.get("endTime", 2**62))
            return [t for t in history if start <= t.time <= end][:limit]
        return list(history)[-limit:]
