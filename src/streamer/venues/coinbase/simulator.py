"""The simulated Coinbase Advanced Trade venue: the WebSocket (`/coinbase`), REST under
`/api/v3/brokerage`, and the feed its market driver fans out (events from `coinbase_wire`).

REST: products, candles, and market trades by time window (`/market/products/{id}/ticker`,
from the trades each market still serves, its `history_depth`), at most
`coinbase_rest_per_second` requests a second per IP. A client must subscribe within
`subscribe_timeout` or is closed. Each subscription is answered with snapshots, then updates;
every frame is an envelope whose `sequence_num` counts the connection's frames, numbered as it
is sent (so a frame lost on the way is a gap).
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from websockets.frames import Opcode

from streamer.simulator.limits import Windows
from streamer.simulator.listing import Listing, generated
from streamer.simulator.market import Change, Market, Trade
from streamer.simulator.outbox import Connection, fan_out
from streamer.simulator.truth import Book, Truth
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
from streamer.venues.coinbase import sim_wire as coinbase_wire
from streamer.venues.coinbase.sim_wire import NOTATION

CANDLE_MS = 300_000  # the `candles` channel's only granularity
CANDLE_INTERVAL = "5m"  # its name in the lake
CANDLE_EVERY_MS = 1000  # the channel sends the open candle's state once a second
CHANNELS = ("heartbeats", "ticker", "candles", "level2", "market_trades", "status")
TRUTH_DEPTH = 50  # levels of each book remembered per frame, for tests
RECENT_TRADES = 50  # trades in a market_trades snapshot
MAX_TRADES_LIMIT = 1000  # trades one market trades answer holds at most
HEARTBEAT_SECONDS = 1.0
PRODUCTS = "/market/products/"
TOO_MANY_L2 = "too many L2 streams requested in a single session"
DATA_OPCODES = (Opcode.TEXT, Opcode.BINARY)  # what counts towards the messages per second


@dataclass(frozen=True, slots=True)
class _Envelope:
    """One frame, stamped and numbered as it is sent to a connection. With `book` (product,
    its true top levels), that book is remembered under the frame's time and number."""

    channel: str
    events: list[dict[str, Any]]
    clock: Callable[[], int]
    truth: Truth
    book: tuple[str, Book] | None = None

    def render(self, sequence: int) -> str:
        stamp = self.clock()
        if self.book is not None:
            self.truth.book("coinbase", (stamp, sequence, self.book[0]), self.book[1])
        envelope = {
            "channel": self.channel,
            "timestamp": coinbase_wire.rfc3339(stamp),
            "sequence_num": sequence,
            "events": self.events,
        }
        return orjson.dumps(envelope).decode()


def _events(kind: str, name: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`[{"type": "snapshot" or "update", name: items}]`: the events of one channel frame."""
    return [{"type": kind, name: items}]


def _error(message: str) -> str:
    return orjson.dumps({"type": "error", "message": message}).decode()


def _without_product(candle: Mapping[str, Any]) -> dict[str, Any]:
    """A candle as REST writes it (the WebSocket's also names the product)."""
    return {k: v for k, v in candle.items() if k != "product_id"}


def replayed_candles(frames: list[str], product: str) -> list[dict[str, Any]]:
    """The last state of each candle of `product` in recorded frames, so REST agrees with the
    WebSocket replay."""
    latest: dict[str, dict[str, Any]] = {}
    for line in frames:
        try:
            msg = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(msg, dict) or msg.get("channel") != "candles":
            continue
        for event in msg.get("events", []):
            for candle in event.get("candles", []):
                if candle.get("product_id") == product:
                    latest[str(candle["start"])] = candle
    return list(latest.values())


QUOTES = ("USD",) * 10 + ("USDC",) * 5 + ("USDT",) * 3 + ("BTC",) * 2
DELISTED_EVERY = 40  # k % 40 == 13: status "delisted" (2.5 %)
DISABLED_EVERY = 60  # k % 60 == 29: "online" but trading_disabled (about 1.7 %)


@dataclass(frozen=True, slots=True)
class CoinbaseSimOptions:
    """The venue's limits, and what the simulator does past each:
    - `max_l2_products` (16 level2 products on one connection): the error "too many L2
      streams requested in a single session", the subscribe ignored.
    - `connects_per_second` (8 per IP): HTTP 429.
    - `messages_per_second` (8 incoming text/binary messages per IP): close 1008.
    - `rest_per_second` (10 public REST requests per IP): HTTP 429.
    - `subscribe_timeout`: a connection that has not subscribed by then is closed.
    `record_books` remembers the true book after every level2 frame (`truth.books`).
    """

    max_l2_products: int = 16
    connects_per_second: int = 8
    messages_per_second: int = 8
    rest_per_second: int = 10
    subscribe_timeout: float = 5.0
    record_books: bool = False


def listings(config: VenueConfig) -> list[Listing]:
    """The configured products (online), then `config.markets` generated ones, a few delisted
    or with trading disabled."""

    def make(k: int, weight: float) -> Listing:
        base, quote = f"C{k:04d}", QUOTES[(k - 1) % len(QUOTES)]
        status = "delisted" if k % DELISTED_EVERY == 13 else "online"
        disabled = k % DISABLED_EVERY == 29
        trading = status == "online" and not disabled
        return Listing(f"{base}-{quote}", base, quote, status, trading,
                       weight if trading else 0.0, True, disabled=disabled)  # fmt: skip

    return generated(config.symbols, "online", config.markets, config.skew, make)


def simulate(config: VenueConfig, context: Context) -> Coinbase:
    return Coinbase(listings(config), context, config.options or CoinbaseSimOptions())


class Coinbase(Listed):
    rest_prefix = "/api/v3/brokerage"
    ws_path = "/coinbase"

    def __init__(
        self, listings: list[Listing], context: Context, options: CoinbaseSimOptions
    ) -> None:
        self.context = context
        self.options = options
        self.markets = build_markets("coinbase", listings, context, CANDLE_MS)
        self._list(listings)
        self.connects = Windows(options.connects_per_second, 1.0)
        self.messages = Windows(options.messages_per_second, 1.0)
        self.requests = Windows(options.rest_per_second, 1.0)
        self.recent = {s: collections.deque[Trade](maxlen=RECENT_TRADES) for s in self.markets}
        self.listeners: dict[Connection, dict[str, set[str]]] = {}  # -> channel -> products
        self.schedule = Schedule()
        self.started = time.monotonic()

    def environment(self, base: str) -> dict[str, str]:
        return {
            "STREAMER_COINBASE_WS_URL": f"ws://{base}{self.ws_path}",
            "STREAMER_COINBASE_REST_URL": f"http://{base}",
            "STREAMER_COINBASE_SYMBOLS": ",".join(self.symbols),
        }

    def _frame(
        self, channel: str, events: list[dict[str, Any]], book_of: Market | None = None
    ) -> _Envelope:
        book = None
        if book_of is not None and self.options.record_books:
            book = (book_of.symbol, coinbase_wire.book_top(book_of, TRUTH_DEPTH))
        return _Envelope(channel, events, self.context.clock, self.context.truth, book)

    # ---- limits ----------------------------------------------------------------------------

    def admit(self, target: str, client: str, websocket: bool) -> Admission:
        now = self.context.monotonic()
        if websocket and not self.connects.hit(client, now):
            self.context.breaches.record("coinbase.connects", client)
            return Admission((429, {"message": "too many connection attempts"}))
        if not websocket and not self.requests.hit(client, now):
            self.context.breaches.record("coinbase.rest_requests", client)
            return Admission((429, {"message": "Too many requests"}))
        return ADMITTED

    def meter(self, client: str, who: str) -> Meter:
        """Eight incoming messages a second from one IP, over all its connections."""
        clock, breaches, messages = self.context.monotonic, self.context.breaches, self.messages

        def check(opcode: Opcode) -> bool:
            if opcode not in DATA_OPCODES or messages.hit(client, clock()):
                return True
            breaches.record("coinbase.messages", who, f"client={client}")
            return False

        return check

    # ---- WebSocket -------------------------------------------------------------------------

    async def session(self, conn: Connection, query: str) -> None:
        try:
            async with asyncio.timeout(self.options.subscribe_timeout):
                first = await conn.ws.recv()
        except TimeoutError:
            await conn.ws.close(1008, "subscribe required within 5 seconds")
            return
        channels: dict[str, set[str]] = {}
        if self.context.replay is not None:
            for line in self.context.replay.frames("coinbase"):
                conn.outbox.push(line)
        else:
            self.listeners[conn] = channels
        try:
            async with asyncio.TaskGroup() as group:
                heartbeats = group.create_task(self._heartbeats(conn, channels))
                self._subscribe(conn, channels, first)
                async for message in conn.ws:
                    self._subscribe(conn, channels, message)
                heartbeats.cancel()
        finally:
            self.listeners.pop(conn, None)

    def _subscribe(
        self, conn: Connection, channels: dict[str, set[str]], message: str | bytes
    ) -> None:
        try:
            request = orjson.loads(message)
            kind, channel = request["type"], request["channel"]
            products = list(request.get("product_ids", []))
        except (orjson.JSONDecodeError, KeyError, TypeError):
            conn.outbox.push(_error("bad request"))
            return
        if channel not in CHANNELS or kind not in ("subscribe", "unsubscribe"):
            conn.outbox.push(_error(f"Failed to subscribe: unknown channel {channel}"))
            return
        current = channels.setdefault(channel, set())
        if kind == "unsubscribe":
            current.difference_update(products)
            return
        cap = self.options.max_l2_products
        if channel == "level2" and len(current | set(products)) > cap:
            self.context.breaches.record("coinbase.l2_products", conn.number)
            conn.outbox.push(_error(TOO_MANY_L2))
            return
        current.update(products)
        if self.context.replay is not None:
            return  # a replay sends exactly the recorded frames, acks included
        for product in products:
            market = self.markets.get(product)
            if market is None or not self.listings[product].trading:
                continue  # unknown or not trading: acknowledged, then silent
            snapshot = self._snapshot(channel, market)
            if snapshot is not None:
                conn.outbox.push(snapshot)
        acked = {ch: sorted(p) if ch != "heartbeats" else ["heartbeats"]
                 for ch, p in channels.items()}  # fmt: skip
        conn.outbox.push(self._frame("subscriptions", [{"subscriptions": acked}]))

    def _snapshot(self, channel: str, market: Market) -> _Envelope | None:
        """What a new subscriber to `channel` gets first for `market`."""
        if channel == "level2":
            now = self.context.clock()
            return self._frame("l2_data", [coinbase_wire.l2_snapshot(market, now)], market)
        if channel == "market_trades":
            trades = [coinbase_wire.trade(market, t) for t in reversed(self.recent[market.symbol])]
            return self._frame(channel, _events("snapshot", "trades", trades))
        if channel == "ticker":
            return self._ticker("snapshot", market)
        if channel == "candles":
            return self._candle("snapshot", market)
        return None

    def _l2_update(self, market: Market, changes: list[Change], now: int) -> _Envelope:
        return self._frame("l2_data", [coinbase_wire.l2_update(market, changes, now)], market)

    def _ticker(self, kind: str, market: Market) -> _Envelope:
        return self._frame("ticker", _events(kind, "tickers", [coinbase_wire.ticker(market)]))

    def _candle(self, kind: str, market: Market) -> _Envelope:
        candle = coinbase_wire.candle(market, market.candles[CANDLE_MS])
        return self._frame("candles", _events(kind, "candles", [candle]))

    async def _heartbeats(self, conn: Connection, channels: dict[str, set[str]]) -> None:
        counter = 0
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            if "heartbeats" in channels:
                counter += 1
                uptime = time.monotonic() - self.started
                beat = coinbase_wire.heartbeat(self.context.clock(), counter, uptime)
                conn.outbox.push(self._frame("heartbeats", [beat]))

    def _publish(self, channel: str, market: Market, make: Callable[[], _Envelope]) -> None:
        """Send the frame `make` builds (once) to every subscriber of `channel` for `market`."""
        symbol = market.symbol
        fan_out((c for c, ch in self.listeners.items() if symbol in ch.get(channel, ())), make)

    # ---- market driver ---------------------------------------------------------------------

    async def drive(self) -> None:
        await drive_markets(self, self.trading, self.listeners, self.context, self.weights)

    def tick(self, market: Market, now: int) -> None:
        for candle in market.advance(now):
            truth = self.context.truth
            truth.candle("coinbase", market.symbol, CANDLE_INTERVAL, candle, NOTATION)
        if self.schedule.due((market.symbol, "candles"), now, CANDLE_EVERY_MS):
            self._publish("candles", market, lambda: self._candle("update", market))

    def event(self, market: Market, changes: list[Change], trade: Trade | None, now: int) -> None:
        if changes:
            self._publish("level2", market, lambda: self._l2_update(market, changes, now))
        if trade is None:
            return
        self.context.truth.trade("coinbase", market.symbol, trade, NOTATION)
        self.recent[market.symbol].append(trade)
        traded = _events("update", "trades", [coinbase_wire.trade(market, trade)])
        self._publish("market_trades", market, lambda: self._frame("market_trades", traded))
        self._publish("ticker", market, lambda: self._ticker("update", market))

    # ---- REST ------------------------------------------------------------------------------

    def rest(self, endpoint: str, params: Mapping[str, str]) -> tuple[int, Any]:
        if endpoint == PRODUCTS.rstrip("/"):
            if params.get("product_type", "SPOT") != "SPOT":
                return 200, {"products": [], "num_products": 0}
            products = [coinbase_wire.product(self.markets[s], item)
                        for s, item in self.listings.items()]  # fmt: skip
            return 200, {"products": products, "num_products": len(products)}
        if not endpoint.startswith(PRODUCTS):
            return 404, {"error": "NOT_FOUND"}
        product, *rest = endpoint.removeprefix(PRODUCTS).split("/")
        market = self.markets.get(product)
        if market is None:
            return 404, {"error": "NOT_FOUND", "message": "product not found"}
        if not rest:
            return 200, coinbase_wire.product(market, self.listings[product])
        if rest == ["candles"]:
            return 200, {"candles": self._candles(market, params)}
        if rest == ["ticker"]:
            return 200, self._market_trades(market, params)
        return 404, {"error": "NOT_FOUND"}

    def _market_trades(self, market: Market, params: Mapping[str, str]) -> dict[str, Any]:
        """The newest `limit` trades from `start` to `end` (UNIX seconds, both inclusive),
        newest first, from the trades still served (`history_depth`); with the best bid and
        ask."""
        limit = min(int(params["limit"]), MAX_TRADES_LIMIT)
        start, end = int(params.get("start", 0)), int(params.get("end", 2**40))
        picked = [t for t in market.served() if start <= t.time // 1000 <= end][-limit:]
        trades = [coinbase_wire.rest_trade(market, t) for t in reversed(picked)]
        bid, ask = market.top("bid", 1)[0][0], market.top("ask", 1)[0][0]
        return {"trades": trades, "best_bid": NOTATION.price(bid), "best_ask": NOTATION.price(ask)}

    def _candles(self, market: Market, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """Candles starting from `start` to `end` (epoch seconds), newest first."""
        start, end = int(params["start"]), int(params["end"])
        replay = self.context.replay
        if replay is None:
            closed = market.closed.get(CANDLE_MS, [])
            rows = [coinbase_wire.candle(market, c) for c in closed
                    if start <= c.open_time // 1000 <= end]  # fmt: skip
        else:
            rows = [c for c in replayed_candles(replay.frames("coinbase"), market.symbol)
                    if start <= int(c["start"]) <= end]  # fmt: skip
        return [_without_product(r) for r in sorted(rows, key=lambda r: -int(r["start"]))]
