"""The simulated Kraken spot venue: WebSocket v2 on `/v2`, public REST under `/0/public`, and
the feed its market driver fans out (payloads from `sim_wire`).

WebSocket (`STREAMER_KRAKEN_WS_URL=ws://host:port/v2`). A connection gets `status` first, then
`heartbeat` whenever it has been sent nothing for `heartbeat_seconds`. Each request is answered
as v2 does: `ping` with `pong`; `subscribe`/`unsubscribe` with one acknowledgement per pair
(`result`, `success`, `time_in`, `time_out`, the request's `req_id`; or `success` false and an
`error`: an unknown pair, `Already subscribed`, `Subscription Not Found`, a bad depth or
interval). Channels:
- `book` at depth 10, 25, 100, 500 or 1000: a snapshot, then an update on every change inside
  the window (`sim_book.DepthView`: changed and entering levels, `qty` 0 for removed ones,
  nothing for levels pushed out), each with the CRC32 of the top 10 (`sim_wire.checksum`, the
  simulator's own) and a timestamp unique per pair in microseconds, under which the true top
  `TRUTH_DEPTH` levels are remembered (`truth.books["kraken"][(symbol, µs)]`, the `sequence`
  the client publishes);
- `trade`: a snapshot of the last `trade_snapshot` trades (50, as Kraken), then each trade;
  `trade_id` counts up per pair. Trades made while a client is away are not replayed beyond
  that snapshot: the client must fetch the hole from REST;
- `ticker` (event_trigger `trades`): a snapshot, then one after each trade;
- `ohlc` (`interval` minutes): the last two closed candles and the open one, then the open
  one after each trade (Kraken marks no candle closed).

Faults on purpose (`KrakenSimOptions`): `bad_checksum_probability` per book message, or
`corrupt(symbol)` for the next one of a pair (`bad_checksums` counts them); more than
`messages_per_second` requests on a connection are refused with `Exceeded msg rate` and not
applied (v2's acknowledgement with `error`, or v1's `{"Error": ...}`); `cut(hold_trades)` drops
every connection and refuses new ones (HTTP 503) until each configured pair has made that many
trades, so reconnecting clients find trade-id holes longer than the snapshot. Connections past
`connects` per `connect_window` per IP get HTTP 429, REST calls past `rest_calls` per
`rest_window` per IP `EGeneral:Too many requests`; every breach is in `context.breaches`.

REST (`/0/public`): `sim_rest.PublicRest` (`AssetPairs`, `Ticker`, `Trades` by `since` and
`last`, `Time`, `SystemStatus`). Recorded-frame replay is not supported here.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from websockets.frames import Opcode

from streamer.simulator.limits import Window, Windows
from streamer.simulator.listing import Listing
from streamer.simulator.market import Change, Market, Trade
from streamer.simulator.outbox import Connection
from streamer.simulator.venue import (
    ADMITTED,
    Admission,
    Context,
    Listed,
    Meter,
    VenueConfig,
    build_markets,
    drive_markets,
)
from streamer.venues.kraken import sim_wire as wire
from streamer.venues.kraken.sim_book import DepthView
from streamer.venues.kraken.sim_listing import listings
from streamer.venues.kraken.sim_rest import PublicRest
from streamer.venues.kraken.sim_wire import NOTATION
from streamer.venues.kraken.symbols import EXCHANGE, ws_symbol

WS_PATH = "/v2"
REST_PREFIX = "/0/public"
CHANNELS = ("book", "trade", "ticker", "ohlc")
DEPTHS = (10, 25, 100, 500, 1000)
OHLC_MINUTES = (1, 5, 15, 30, 60, 240, 1440, 10080, 21600)
MINUTE_MS = 60_000
TRUTH_DEPTH = 50
CLOSED_IN_SNAPSHOT = 2  # closed candles an ohlc snapshot repeats before the open one
RATE_LIMITED = "Exceeded msg rate"
REST_LIMITED = "EGeneral:Too many requests"


@dataclass(frozen=True, slots=True)
class KrakenSimOptions:
    """Kraken's limits and the simulator's dice:
    - `messages_per_second` (10 requests per connection; Kraken's limit is "dynamic", and the
      client asks at most 5 a second): past it `Exceeded msg rate`, the request not applied;
      `rate_limit_answer` "v2" (an acknowledgement with `error`) or "v1" (`{"Error": ...}`);
    - `connects` per `connect_window` (150 per 10 minutes per IP, Kraken's support pages;
      verify): HTTP 429;
    - `rest_calls` per `rest_window` (10 per 5 s per IP: the public endpoints' "about one a
      second", with room for a burst): `EGeneral:Too many requests`;
    - `bad_checksum_probability`: a book message carries a wrong checksum;
    - `trade_snapshot`: trades a `trade` snapshot replays (50).
    """

    messages_per_second: int = 10
    rate_limit_answer: str = "v2"
    connects: int = 150
    connect_window: float = 600.0
    rest_calls: int = 10
    rest_window: float = 5.0
    bad_checksum_probability: float = 0.0
    trade_snapshot: int = 50
    heartbeat_seconds: float = 1.0


def simulate(config: VenueConfig, context: Context) -> Kraken:
    return Kraken(listings(config), context, config.options or KrakenSimOptions())


@dataclass(slots=True, eq=False)
class _Session:
    window: Window
    subs: dict[tuple[str, str], int] = field(default_factory=dict)
    """(channel, symbol) -> its depth (book), interval (ohlc) or 0."""
    last_sent: float = 0.0  # time.monotonic() of the last frame pushed


class Kraken(Listed):
    rest_prefix = REST_PREFIX
    ws_path = WS_PATH

    def __init__(self, listed: list[Listing], context: Context, options: KrakenSimOptions) -> None:
        self.context = context
        self.options = options
        self.markets = build_markets(EXCHANGE, listed, context, MINUTE_MS)
        self._list(listed)
        self.by_ws = {ws_symbol(symbol): symbol for symbol in self.markets}
        self.public = PublicRest(self.listings, self.markets)
        self.sessions: dict[Connection, _Session] = {}
        self.listeners: dict[tuple[str, str, int], set[Connection]] = {}
        self.views: dict[str, dict[int, DepthView]] = {}  # symbol -> depth -> what was sent
        self.stamps: dict[str, int] = {}  # symbol -> its last book message's µs
        self.dice = random.Random(f"{context.seed}:kraken:dice")
        self.corrupted: set[str] = set()  # pairs whose next book message is wrong
        self.bad_checksums = 0  # book messages sent with a wrong checksum
        self.rate_limited = 0  # requests answered `Exceeded msg rate`
        self.held: dict[str, int] | None = None  # during a `cut`: symbol -> trade id to reach
        self.connects = Windows(options.connects, options.connect_window)
        self.rest_calls = Windows(options.rest_calls, options.rest_window)
        self._ids = itertools.count(1_000_000_000_000_000)

    def environment(self, base: str) -> dict[str, str]:
        return {
            "STREAMER_KRAKEN_WS_URL": f"ws://{base}{WS_PATH}",
            "STREAMER_KRAKEN_REST_URL": f"http://{base}",
            "STREAMER_KRAKEN_SYMBOLS": ",".join(self.symbols),
        }

    # ---- faults and limits -----------------------------------------------------------------

    def corrupt(self, symbol: str) -> None:
        """The next book message of `symbol` carries a wrong checksum."""
        self.corrupted.add(symbol)

    def cut(self, hold_trades: int = 0) -> int:
        """Drop every connection (no closing handshake) and, with `hold_trades`, refuse new ones
        until each configured pair made that many more trades; how many were dropped."""
        if hold_trades:
            self.held = {item.symbol: self.markets[item.symbol].next_trade_id + hold_trades
                         for item in self.listings.values()
                         if item.trading and not item.generated}  # fmt: skip
        dropped = list(self.sessions)
        for conn in dropped:
            if conn.ws.transport is not None:
                conn.ws.transport.abort()
        return len(dropped)

    def admit(self, target: str, client: str, websocket: bool) -> Admission:
        now, breaches = self.context.monotonic(), self.context.breaches
        if not websocket:
            if self.rest_calls.hit(client, now):
                return ADMITTED
            breaches.record("kraken.rest_calls", client)
            return Admission((200, wire.error(REST_LIMITED)))
        if self.held is not None:
            if any(self.markets[s].next_trade_id < n for s, n in self.held.items()):
                return Admission((503, wire.error("EService:Unavailable")))
            self.held = None
        if not self.connects.hit(client, now):
            breaches.record("kraken.connects", client)
            return Admission((429, wire.error("EGeneral:Too many requests")))
        return ADMITTED

    def meter(self, client: str, who: str) -> Meter:
        """Every frame passes: Kraken answers a request past its rate in-band (`_control`)."""

        def check(opcode: Opcode) -> bool:
            return True

        return check

    # ---- WebSocket -------------------------------------------------------------------------

    async def session(self, conn: Connection, query: str) -> None:
        state = _Session(Window(self.options.messages_per_second, 1.0))
        self.sessions[conn] = state
        self._push(conn, wire.status(next(self._ids)))
        try:
            async with asyncio.TaskGroup() as group:
                beat = group.create_task(self._heartbeats(conn, state))
                try:
                    async for message in conn.ws:
                        self._control(conn, state, message)
                finally:
                    beat.cancel()
        finally:
            self.sessions.pop(conn, None)
            for (channel, symbol), arg in state.subs.items():
                self._unlisten(conn, channel, symbol, arg)

    async def _heartbeats(self, conn: Connection, state: _Session) -> None:
        every = self.options.heartbeat_seconds
        while True:
            await asyncio.sleep(every)
            if time.monotonic() - state.last_sent >= every:
                self._push(conn, wire.HEARTBEAT)

    def _push(self, conn: Connection, text: str) -> None:
        conn.outbox.push(text)
        state = self.sessions.get(conn)
        if state is not None:
            state.last_sent = time.monotonic()

    def _publish(self, key: tuple[str, str, int], text: str) -> None:
        for conn in self.listeners.get(key, ()):
            self._push(conn, text)

    def _stamp_text(self) -> str:
        return wire.millis_text(self.context.clock())

    def _control(self, conn: Connection, state: _Session, message: str | bytes) -> None:
        time_in = self._stamp_text()
        try:
            request = orjson.loads(message)
        except orjson.JSONDecodeError:
            request = None
        request = request if type(request) is dict else {}
        method, req_id = request.get("method"), request.get("req_id")
        method = method if type(method) is str else None
        if not state.window.hit(self.context.monotonic()):
            self.rate_limited += 1
            self.context.breaches.record("kraken.messages", conn.number,
                                         f"limit={self.options.messages_per_second}/s")  # fmt: skip
            if self.options.rate_limit_answer == "v1":
                self._push(conn, wire.v1_error(RATE_LIMITED))
            else:
                self._push(conn, wire.answer(method, req_id, time_in, self._stamp_text(),
                                             error=RATE_LIMITED))  # fmt: skip
            return
        if method == "ping":
            self._push(conn, wire.pong(req_id, time_in, self._stamp_text()))
        elif method in ("subscribe", "unsubscribe"):
            for frame in self._subscription(conn, state, method, request.get("params"), req_id,
                                            time_in):  # fmt: skip
                self._push(conn, frame)
        else:
            error = "Malformed request" if method is None else f"Method not found: {method}"
            self._push(conn, wire.answer(method, req_id, time_in, self._stamp_text(),
                                         error=error))  # fmt: skip

    def _subscription(
        self, conn: Connection, state: _Session, method: str, params: object, req_id: object,
        time_in: str,
    ) -> list[str]:  # fmt: skip
        """The frames a (un)subscribe request is answered with, the subscriptions applied."""

        def refused(error: str, pair: object = None) -> str:
            shown = pair if type(pair) is str else None
            return wire.answer(method, req_id, time_in, self._stamp_text(), error=error,
                               symbol=shown)  # fmt: skip

        if type(params) is not dict:
            return [refused("Malformed request")]
        channel, pairs = params.get("channel"), params.get("symbol")
        if channel not in CHANNELS:
            return [refused(f"Channel {channel} not found"[:100])]
        if type(pairs) is not list or not pairs:
            return [refused("Invalid symbol: a non-empty list of pairs is required")]
        arg = 0
        if channel == "book":
            arg = params.get("depth", 10)
            if arg not in DEPTHS:
                return [refused(f"Invalid depth {arg!r}: one of 10, 25, 100, 500, 1000"[:100])]
        elif channel == "ohlc":
            arg = params.get("interval", 1)
            if arg not in OHLC_MINUTES:
                return [refused(f"Invalid interval {arg!r}"[:100])]
        snapshot = params.get("snapshot", True) is not False
        out: list[str] = []
        for pair in pairs:
            symbol = self.by_ws.get(pair) if type(pair) is str else None
            if symbol is None:
                out.append(refused(f"Currency pair not supported {pair}"[:100], pair))
                continue
            key = (channel, symbol)
            if method == "unsubscribe":
                if key not in state.subs:
                    out.append(refused("Subscription Not Found", pair))
                    continue
                held = state.subs.pop(key)
                self._unlisten(conn, channel, symbol, held)
                result = wire.subscription(channel, pair, held, None)
                out.append(wire.answer(method, req_id, time_in, self._stamp_text(), result=result))
                continue
            if key in state.subs:
                out.append(refused("Already subscribed", pair))
                continue
            state.subs[key] = arg
            self._listen(conn, channel, symbol, arg)
            result = wire.subscription(channel, pair, arg, snapshot)
            out.append(wire.answer(method, req_id, time_in, self._stamp_text(), result=result))
            if snapshot:
                out.append(self._snapshot(channel, self.markets[symbol], arg))
        return out

    def _listen(self, conn: Connection, channel: str, symbol: str, arg: int) -> None:
        self.listeners.setdefault((channel, symbol, arg), set()).add(conn)
        market = self.markets[symbol]
        if channel == "book":
            views = self.views.setdefault(symbol, {})
            if arg not in views:
                views[arg] = DepthView(market, arg)
        elif channel == "ohlc":
            market.track(arg * MINUTE_MS)

    def _unlisten(self, conn: Connection, channel: str, symbol: str, arg: int) -> None:
        key = (channel, symbol, arg)
        conns = self.listeners.get(key)
        if conns is None:
            return
        conns.discard(conn)
        if not conns:
            del self.listeners[key]
            if channel == "book":
                self.views.get(symbol, {}).pop(arg, None)

    def _snapshot(self, channel: str, market: Market, arg: int) -> str:
        now, symbol = self.context.clock(), market.symbol
        if channel == "book":
            bids, asks = self.views[symbol][arg].snapshot()
            stamp = self._stamp(market, now)
            crc = self._checksum(symbol, wire.checksum(bids, asks))
            return wire.book("snapshot", symbol, bids, asks, crc, stamp)
        if channel == "trade":
            count = self.options.trade_snapshot
            recent = list(itertools.islice(reversed(market.history), count))
            return wire.trades("snapshot", symbol, reversed(recent))
        if channel == "ticker":
            return wire.ticker("snapshot", market, now)
        interval = arg * MINUTE_MS
        candles = [*market.closed.get(interval, [])[-CLOSED_IN_SNAPSHOT:], market.candles[interval]]
        return wire.ohlc("snapshot", [wire.candle_entry(symbol, c, now) for c in candles])

    def _stamp(self, market: Market, now: int) -> int:
        """A new book message's time in µs (unique per pair), its true book remembered."""
        stamp = max(now * 1000, self.stamps.get(market.symbol, 0) + 1)
        self.stamps[market.symbol] = stamp
        book = (_texts(market.top("bid", TRUTH_DEPTH)), _texts(market.top("ask", TRUTH_DEPTH)))
        self.context.truth.book(EXCHANGE, (market.symbol, stamp), book)
        return stamp

    def _checksum(self, symbol: str, crc: int) -> int:
        """`crc`, or a wrong one when the dice or `corrupt` say so."""
        chance = self.options.bad_checksum_probability
        if symbol in self.corrupted or (chance and self.dice.random() < chance):
            self.corrupted.discard(symbol)
            self.bad_checksums += 1
            return crc ^ 0x5A5A5A5A
        return crc

    # ---- market driver ---------------------------------------------------------------------

    async def drive(self) -> None:
        await drive_markets(self, self.trading, self.sessions, self.context, self.weights)

    def tick(self, market: Market, now: int) -> None:
        for candle in market.advance(now):
            label = f"{candle.interval_ms // MINUTE_MS}m"
            self.context.truth.candle(EXCHANGE, market.symbol, label, candle, NOTATION)

    def event(self, market: Market, changes: list[Change], trade: Trade | None, now: int) -> None:
        symbol = market.symbol
        if changes and self.views.get(symbol):
            self._books(market, now)
        if trade is None:
            return
        self.context.truth.trade(EXCHANGE, symbol, trade, NOTATION)
        self._publish(("trade", symbol, 0), wire.trades("update", symbol, [trade]))
        if ("ticker", symbol, 0) in self.listeners:
            self._publish(("ticker", symbol, 0), wire.ticker("update", market, now))
        for interval, candle in market.candles.items():
            key = ("ohlc", symbol, interval // MINUTE_MS)
            if key in self.listeners:
                self._publish(key, wire.ohlc("update", [wire.candle_entry(symbol, candle, now)]))

    def _books(self, market: Market, now: int) -> None:
        """One update per depth whose window changed, all with one stamp and checksum."""
        symbol = market.symbol
        stamp = crc = 0
        for depth, view in self.views[symbol].items():
            bids, asks = view.update(market)
            if not bids and not asks:
                continue
            if not stamp:
                stamp = self._stamp(market, now)
                top = wire.CHECKSUM_LEVELS
                crc = self._checksum(symbol, wire.checksum(market.top("bid", top),
                                                           market.top("ask", top)))  # fmt: skip
            self._publish(("book", symbol, depth),
                          wire.book("update", symbol, bids, asks, crc, stamp))  # fmt: skip

    # ---- REST ------------------------------------------------------------------------------

    def rest(self, endpoint: str, params: Mapping[str, str]) -> tuple[int, Any]:
        return self.public.answer(endpoint, params, self.context.clock())


def _texts(levels: list[tuple[int, int]]) -> list[list[str]]:
    return [[NOTATION.price(p), NOTATION.size(q)] for p, q in levels]


__all__ = ["EXCHANGE", "Kraken", "KrakenSimOptions", "simulate"]
