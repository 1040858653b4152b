"""The simulated OKX v5: WebSockets on `/ws/v5/public` and `/ws/v5/business`, REST under
`/api/v5` (`sim_rest`), and the feed its market driver fans out (payloads from `sim_wire`).

Routes. `trades-all` and `candle1m` live on `/business`; `books`, `tickers`, `trades`,
`funding-rate`, `mark-price`, `index-tickers`, `open-interest` and `liquidation-orders` on
`/public`. A channel asked on the other path, or of an instrument OKX does not list, is
answered `{"event": "error", "code": "60018", "msg": "Wrong URL or channel:..."}` as OKX does.
Requests are `{"id", "op": "subscribe"|"unsubscribe", "args": [...]}`; each arg is
acknowledged `{"id", "event": "subscribe", "arg", "connId"}`. The text `ping` is answered
`pong`.

Channels. `trades-all` (and `trades`, each fill its own) as trades happen, `tradeId` counting
up per instrument; `books` every 100 ms with the changes since the last update (`seqId` the
market's sequence, `prevSeqId` the update before's; with `break_probability` an update is
lost, so the next one's `prevSeqId` does not link), a keep-alive (`prevSeqId == seqId`, no
levels) after `keepalive_ms` without one, `checksum` always 0, and on subscribe a whole-book
`snapshot` (`prevSeqId` -1) unless `snapshot_on_subscribe` is off (OKX is removing it); the
true top 50 after each update sent are `truth.books["okx"][(symbol, seqId)]`. Every second:
`tickers`, the open `candle1m` (`confirm` "0"; the closed one as it closes), `mark-price` (the
mid) and `index-tickers` (off it by a drifting premium); `open-interest` every 3 s;
`funding-rate` on subscribe and every `funding_every_ms`. `liquidation-orders` (`instType`
SWAP) pushes a swap's liquidations (at most one a second each) and replays the last
`replayed_liquidations` on subscribe. What went out on the derivative channels is kept in
`sent` for tests.

Limits (OKX docs "WebSocket / Connect", "Subscribe"; venues.md 2), each breach counted in
`breaches` as `okx.<name>` and logged once per connection: 3 connection requests a second per
IP (HTTP 429 `{"code": "50011"}` at the handshake); 480 `subscribe`/`unsubscribe` requests an
hour per connection (error 60014, nothing subscribed); 64 KB of `args` in one request (error
60012); a connection nothing was pushed to for `idle_seconds` (30) is closed (4004: a client
that neither listens to anything nor pings is cut). REST limits are per endpoint (`sim_rest`).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson

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
    Schedule,
    VenueConfig,
    build_markets,
    drive_markets,
)
from streamer.venues.okx import sim_rest
from streamer.venues.okx import sim_wire as wire
from streamer.venues.okx.sim_listing import Spec, listings
from streamer.venues.okx.sim_market import Chain, Swap
from streamer.venues.okx.symbols import (
    BOOKS,
    BUSINESS,
    CANDLES,
    EXCHANGE,
    FUNDING,
    INDEX,
    LIQUIDATIONS,
    MARK,
    OPEN_INTEREST,
    PUBLIC,
    TICKERS,
    TRADES,
    index_id,
    inst_id,
)

WS_ROOT = "/ws/v5"
AGGREGATED = "trades"
CHANNELS = {TRADES: BUSINESS, CANDLES: BUSINESS, BOOKS: PUBLIC, TICKERS: PUBLIC,
            AGGREGATED: PUBLIC, FUNDING: PUBLIC, MARK: PUBLIC, INDEX: PUBLIC,
            OPEN_INTEREST: PUBLIC, LIQUIDATIONS: PUBLIC}  # fmt: skip
"""Each channel served and the path it lives on."""
SWAP_ONLY = frozenset({FUNDING, MARK, OPEN_INTEREST})
BOOK_LEVELS = 400  # what `books` and `market/books` give at most
TRUTH_DEPTH = 50
BOOKS_EVERY_MS = 100
SECOND_MS = 1000
OPEN_INTEREST_EVERY_MS = 3000
CANDLE_MS = 60_000
SENT_KEPT = 10_000  # derivative elements remembered for tests, per channel
Key = tuple[str, str]  # (channel, instId or instType)


@dataclass(frozen=True, slots=True)
class OkxSimOptions:
    """OKX's limits (venues.md 2) and the simulator's dice; see the module docstring."""

    connects: int = 3
    connect_window: float = 1.0
    subscribes_per_hour: int = 480
    max_args_bytes: int = 64 * 1024
    idle_seconds: float = 30.0
    rest_limits: dict[str, int] = field(default_factory=lambda: dict(sim_rest.LIMITS))
    rest_window: float = sim_rest.WINDOW_SECONDS
    break_probability: float = 0.001
    snapshot_on_subscribe: bool = True
    keepalive_ms: int = 25_000
    funding_every_ms: int = 30_000
    liquidation_probability: float = 0.01
    replayed_liquidations: int = 20


def simulate(config: VenueConfig, context: Context) -> Okx:
    return Okx(listings(config), context, config.options or OkxSimOptions())


@dataclass(eq=False, slots=True)
class _Session:
    conn: Connection
    path: str  # PUBLIC or BUSINESS
    conn_id: str
    budget: Window  # subscribe/unsubscribe requests in the last hour
    keys: set[Key] = field(default_factory=set)
    active: bool = True  # something was pushed since the idle watcher last looked


class Okx(Listed):
    rest_prefix = "/api/v5"
    ws_path = f"{WS_ROOT}/{PUBLIC}"
    ws_paths = (f"{WS_ROOT}/{PUBLIC}", f"{WS_ROOT}/{BUSINESS}")

    def __init__(
        self, items: list[tuple[Listing, Spec]], context: Context, options: OkxSimOptions
    ) -> None:
        self.context = context
        self.options = options
        self.specs = {item.symbol: spec for item, spec in items}
        listed = [item for item, _ in items]
        self.markets = build_markets(EXCHANGE, listed, context, CANDLE_MS)
        self._list(listed)
        self.by_inst = {inst_id(symbol): m for symbol, m in self.markets.items()}
        now = context.clock()
        self.chains = {symbol: Chain(m.sequence, now) for symbol, m in self.markets.items()}
        self.swaps = {
            symbol: Swap.start(m, random.Random(f"{context.seed}:okx:{symbol}"), now)
            for symbol, m in self.markets.items()
            if self.specs[symbol].swap
        }
        self.indexes = {index_id(symbol): symbol for symbol in self.swaps}
        self.sessions: dict[Connection, _Session] = {}
        self.subscribers: dict[Key, dict[Connection, _Session]] = {}
        self.schedule = Schedule()
        self.dice = random.Random(f"{context.seed}:okx:dice")
        self.lost_updates = 0  # `books` updates lost on purpose (`prevSeqId` breaks)
        self.liquidations = 0  # liquidations made (and pushed)
        self.recent: collections.deque[dict[str, Any]] = collections.deque(
            maxlen=max(1, options.replayed_liquidations)
        )
        self.sent: collections.defaultdict[str, collections.deque[dict[str, Any]]] = (
            collections.defaultdict(lambda: collections.deque(maxlen=SENT_KEPT))
        )
        self.connects = Windows(options.connects, options.connect_window)
        self.rest_api = sim_rest.OkxRestApi(self, options)

    def environment(self, base: str) -> dict[str, str]:
        return {
            "STREAMER_OKX_WS_URL": f"ws://{base}",
            "STREAMER_OKX_REST_URL": f"http://{base}",
            "STREAMER_OKX_SYMBOLS": ",".join(self.symbols),
        }

    # ---- limits ----------------------------------------------------------------------------

    def admit(self, target: str, client: str, websocket: bool) -> Admission:
        now = self.context.monotonic()
        if not websocket:
            return self.rest_api.admit(target, client, now)
        if not self.connects.hit(client, now):
            self.context.breaches.record("okx.connects", client)
            return Admission((429, sim_rest.TOO_MANY))
        return ADMITTED

    def meter(self, client: str, who: str) -> Meter:
        """OKX counts requests (`subscribe`...), not frames: that is done per request."""
        return lambda opcode: True

    # ---- WebSocket -------------------------------------------------------------------------

    async def session(self, conn: Connection, query: str) -> None:
        request = conn.ws.request
        path = urlsplit(request.path).path if request is not None else self.ws_path
        budget = Window(self.options.subscribes_per_hour, 3600.0)
        state = _Session(conn, path.rsplit("/", 1)[-1], f"{conn.number:08x}", budget)
        self.sessions[conn] = state
        try:
            async with asyncio.TaskGroup() as group:
                watcher = group.create_task(self._watch_idle(state))
                try:
                    async for message in conn.ws:
                        self._receive(state, message)
                finally:
                    watcher.cancel()
        finally:
            self.sessions.pop(conn, None)
            for key in state.keys:
                self._unindex(key, conn)

    async def _watch_idle(self, state: _Session) -> None:
        """Close the connection once nothing was pushed to it for `idle_seconds`."""
        idle = self.options.idle_seconds
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(idle / 8)
            now = loop.time()
            if state.active:
                state.active, last = False, now
            elif now - last >= idle:
                self.context.breaches.record("okx.idle", state.conn.number,
                                             f"seconds={idle:g}")  # fmt: skip
                await state.conn.ws.close(4004, f"No data received in {idle:g}s.")
                return

    def _reply(self, state: _Session, body: dict[str, Any] | str) -> None:
        state.conn.outbox.push(body if isinstance(body, str) else orjson.dumps(body).decode())
        state.active = True

    def _receive(self, state: _Session, message: str | bytes) -> None:
        if message == "ping":
            self._reply(state, "pong")
            return
        text = message if isinstance(message, str) else message.decode(errors="replace")
        try:
            request = orjson.loads(message)
            op, ident, args = request["op"], request.get("id"), request["args"]
            if type(args) is not list or not args or any(type(a) is not dict for a in args):
                raise TypeError("args")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            self._reply(state, wire.error("60012", f"Invalid request: {text[:200]}",
                                          state.conn_id))  # fmt: skip
            return
        if op not in ("subscribe", "unsubscribe"):
            self._reply(state, wire.error("60019", f"Invalid op: {op}", state.conn_id, ident))
            return
        breaches = self.context.breaches
        if not state.budget.hit(self.context.monotonic()):
            breaches.record("okx.subscribes", state.conn.number)
            self._reply(state, wire.error("60014", "Requests too frequent.", state.conn_id, ident))
            return
        size = len(orjson.dumps(args))
        if size > self.options.max_args_bytes:
            breaches.record("okx.args_bytes", state.conn.number, f"bytes={size}")
            msg = f"Invalid request: the args of one request exceed 64 KB ({size} bytes)"
            self._reply(state, wire.error("60012", msg, state.conn_id, ident))
            return
        for arg in args:
            key = self._key(arg, state.path)
            if key is None:
                wrong = wire.wrong_channel(arg)
                self._reply(state, wire.error("60018", wrong, state.conn_id, ident))
                continue
            ack = {"event": op, "arg": arg, "connId": state.conn_id}
            self._reply(state, {"id": ident, **ack} if ident is not None else ack)
            if op == "subscribe" and key not in state.keys:
                self._subscribe(state, key)
            elif op == "unsubscribe" and key in state.keys:
                state.keys.discard(key)
                self._unindex(key, state.conn)

    def _key(self, arg: dict[str, Any], path: str) -> Key | None:
        """The subscription `arg` names on `path`, or None if OKX has no such thing there."""
        channel = arg.get("channel")
        if type(channel) is not str or CHANNELS.get(channel) != path:
            return None
        if channel == LIQUIDATIONS:
            return (channel, "SWAP") if arg.get("instType") == "SWAP" else None
        inst = arg.get("instId")
        if type(inst) is not str:
            return None
        if channel == INDEX:
            return (channel, inst) if inst in self.indexes else None
        market = self.by_inst.get(inst)
        if market is None or (channel in SWAP_ONLY and market.symbol not in self.swaps):
            return None
        return channel, inst

    def _subscribe(self, state: _Session, key: Key) -> None:
        channel, inst = key
        now = self.context.clock()
        market = self.by_inst.get(inst)
        if channel == BOOKS and market is not None:
            self._books(market, now)  # those listening already get the changes so far
        state.keys.add(key)
        self.subscribers.setdefault(key, {})[state.conn] = state
        if channel == BOOKS and market is not None and self.options.snapshot_on_subscribe:
            chain = self.chains[market.symbol]
            bids, asks = market.top("bid", BOOK_LEVELS), market.top("ask", BOOK_LEVELS)
            self._truth_book(market, chain.last)
            frame = wire.push(BOOKS, inst, [wire.book(bids, asks, chain.last, -1, now)])
            self._reply(state, {**frame, "action": "snapshot"})
        elif channel == FUNDING and market is not None:
            element = self._funding(market.symbol, now)
            self.sent[FUNDING].append(element)
            self._reply(state, wire.push(FUNDING, inst, [element]))
        elif channel == LIQUIDATIONS:
            for element in self.recent:  # OKX replays recent ones on subscribe
                self._reply(state, wire.push(LIQUIDATIONS, "SWAP", [element], key="instType"))

    def _unindex(self, key: Key, conn: Connection) -> None:
        if (subscribed := self.subscribers.get(key)) is not None:
            subscribed.pop(conn, None)
            if not subscribed:
                del self.subscribers[key]

    def _publish(self, key: Key, make: Callable[[], dict[str, Any]]) -> bool:
        """Push one frame to every subscriber of `key`; whether there was any."""
        subscribed = self.subscribers.get(key)
        if not subscribed:
            return False
        frame = orjson.dumps(make()).decode()
        for state in subscribed.values():
            state.conn.outbox.push(frame)
            state.active = True
        return True

    def disconnect(self, path: str) -> int:
        """Cut every connection on `path` (`public`, `business`) without a closing handshake,
        as a network cut does; how many were cut."""
        cut = [s for s in self.sessions.values() if s.path == path]
        for state in cut:
            if state.conn.ws.transport is not None:
                state.conn.ws.transport.abort()
        return len(cut)

    # ---- market driver ---------------------------------------------------------------------

    async def drive(self) -> None:
        await drive_markets(self, self.trading, self.sessions, self.context, self.weights)

    def tick(self, market: Market, now: int) -> None:
        symbol = market.symbol
        inst = inst_id(symbol)
        spec = self.specs[symbol]
        for candle in market.advance(now):
            self.context.truth.candle(EXCHANGE, symbol, "1m", candle, wire.NOTATION)
            closed = wire.candle(market, candle, spec.swap, spec.contract_value, True)
            self._publish((CANDLES, inst), functools.partial(wire.push, CANDLES, inst, [closed]))
        if self.schedule.due((symbol, BOOKS), now, BOOKS_EVERY_MS):
            self._books(market, now)
        if self.schedule.due((symbol, "second"), now, SECOND_MS):
            state = self.listings[symbol].status
            self._publish((TICKERS, inst), lambda: wire.push(TICKERS, inst, [
                wire.ticker(market, spec.swap, spec.contract_value, state, now)]))  # fmt: skip
            if (open_candle := market.candles.get(CANDLE_MS)) is not None:
                bar = wire.candle(market, open_candle, spec.swap, spec.contract_value, False)
                self._publish((CANDLES, inst), lambda: wire.push(CANDLES, inst, [bar]))
            if symbol in self.swaps:
                self._second(symbol, inst, now)
        swap = self.swaps.get(symbol)
        if swap is None:
            return
        if self.schedule.due((symbol, OPEN_INTEREST), now, OPEN_INTEREST_EVERY_MS):
            interest = wire.open_interest(inst, swap.open_interest, spec.contract_value,
                                          market.last_price, now)  # fmt: skip
            self._derivative(OPEN_INTEREST, inst, interest)
        if self.schedule.due((symbol, FUNDING), now, self.options.funding_every_ms):
            self._derivative(FUNDING, inst, self._funding(symbol, now))

    def _second(self, symbol: str, inst: str, now: int) -> None:
        swap = self.swaps[symbol]
        swap.drift()
        swap.settle(now)
        self._derivative(MARK, inst, wire.mark_price(inst, swap.mark(), now))
        index = index_id(symbol)
        self._derivative(INDEX, index, wire.index_ticker(index, swap.index(), swap.index_open, now))

    def _funding(self, symbol: str, now: int) -> dict[str, Any]:
        swap = self.swaps[symbol]
        premium = swap.premium_bp * 10**4
        return wire.funding_rate(inst_id(symbol), swap.rate(), swap.next_funding, 8, premium, now)

    def _derivative(self, channel: str, inst: str, element: dict[str, Any]) -> None:
        key = "instType" if channel == LIQUIDATIONS else "instId"
        if self._publish((channel, inst), lambda: wire.push(channel, inst, [element], key=key)):
            self.sent[channel].append(element)

    def _books(self, market: Market, now: int) -> None:
        """The next `books` update of `market` (lost with `break_probability`), or a
        keep-alive when nothing changed for `keepalive_ms`."""
        chain = self.chains[market.symbol]
        inst = inst_id(market.symbol)
        key = (BOOKS, inst)
        taken = chain.take(market.sequence)
        if taken is None:
            if key in self.subscribers and now - chain.sent_at >= self.options.keepalive_ms:
                chain.sent_at = now
                element = wire.book([], [], chain.last, chain.last, now)
                self._publish(key, lambda: {**wire.push(BOOKS, inst, [element]),
                                            "action": "update"})  # fmt: skip
            return
        seq, previous, changed = taken
        if self.dice.random() < self.options.break_probability:
            self.lost_updates += 1
            return
        if key not in self.subscribers:
            return
        bids = sorted(((p, q) for (side, p), q in changed.items() if side == "bid"), reverse=True)
        asks = sorted((p, q) for (side, p), q in changed.items() if side == "ask")
        self._truth_book(market, seq)
        chain.sent_at = now
        element = wire.book(bids, asks, seq, previous, now)
        self._publish(key, lambda: {**wire.push(BOOKS, inst, [element]), "action": "update"})

    def _truth_book(self, market: Market, seq: int) -> None:
        book = ([[wire.px(p), wire.sz(s)] for p, s in market.top("bid", TRUTH_DEPTH)],
                [[wire.px(p), wire.sz(s)] for p, s in market.top("ask", TRUTH_DEPTH)])  # fmt: skip
        self.context.truth.book(EXCHANGE, (market.symbol, seq), book)

    def event(self, market: Market, changes: list[Change], trade: Trade | None, now: int) -> None:
        self.chains[market.symbol].record(changes)
        if trade is None:
            return
        self.context.truth.trade(EXCHANGE, market.symbol, trade, wire.NOTATION)
        inst = inst_id(market.symbol)
        self._publish((TRADES, inst), lambda: wire.push(TRADES, inst, [wire.trade(market, trade)]))
        self._publish((AGGREGATED, inst), lambda: wire.push(AGGREGATED, inst, [
            wire.trade(market, trade, aggregated=True)]))  # fmt: skip
        swap = self.swaps.get(market.symbol)
        if swap is None:
            return
        made = swap.traded(trade, now, self.options.liquidation_probability)
        if made is not None:
            self.liquidations += 1
            detail = wire.liquidation_detail(*made, now)
            element = wire.liquidation(inst, [detail])
            self.recent.append(element)
            self._derivative(LIQUIDATIONS, "SWAP", element)

    # ---- REST ------------------------------------------------------------------------------

    def rest(self, endpoint: str, params: Mapping[str, str]) -> tuple[int, Any]:
        return self.rest_api.answer(endpoint, params)
