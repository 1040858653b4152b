"""OKX's asyncio shell: connections to `/ws/v5/public` and `/ws/v5/business`, subscriptions
within OKX's limits, the `ping`/`pong` keep-alive, books, trade backfills and the REST polls.

Connections. Each channel is asked on its path (`symbols.route`): `trades-all` and `candle1m`
on `/business`, the rest on `/public`, where one `liquidation-orders` subscription (`instType`
`SWAP`) covers every swap. Each path's subscriptions are cut into connections of at most
`args_per_connection`. OKX's limits (venues.md 2), each a named constant here:

* 3 connection requests a second per IP: one `AttemptWindow` (3 per 1.25 s, with a margin) for
  every connection of the source;
* 480 `subscribe`/`unsubscribe` requests an hour per connection: each session's own window;
* 64 KB of `args` in one request: a connection's subscriptions go in as few requests as fit;
* the 30 s idle cut: after `ping_idle` seconds without a frame the session sends the text
  `ping` and expects `pong` within `PONG_WAIT_SECONDS` (else it reconnects).

The silence watchdog covers the channels that push on their own (`mark-price` at least every
10 s, `index-tickers`); trades, candles, liquidations, funding and open interest are sparse by
nature, and books send a keep-alive only about once a minute, so they are not watched (the
`ping`/`pong` keeps the connection honest).

Books: the decoder's `DepthBooks` with the `prevSeqId` rule asks for REST snapshots
(`BookSnapshots`); trade holes are filled by id from `history-trades` (`TradeBackfiller`); the
settled funding and the instruments are polled (`polls`); closed candles go through a
`CandleLedger`, and what closed while a `/business` connection was down (or what the stream
skipped) is fetched from `market/history-candles` (`Backfiller`); all on one `OkxRest` and its
per-endpoint pace, and one semaphore for every REST fetch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

import orjson

from streamer.records import Item, Millis
from streamer.retry import Sleep
from streamer.selectors import Selector
from streamer.sources.attempts import AttemptWindow
from streamer.sources.backfill import MAX_FETCHES, Backfiller
from streamer.sources.base import Clock, Emit
from streamer.sources.candles import CandleLedger, Gap
from streamer.sources.feed import Feed, FeedSession, Grouped
from streamer.sources.rediscovery import Rediscovery
from streamer.sources.trade_backfill import TradeBackfiller
from streamer.sources.trade_gaps import Hole
from streamer.sources.transport import WsConnection
from streamer.sources.wsconnect import run_websocket
from streamer.timefmt import now_millis
from streamer.venues.okx.decode import OkxDecoder
from streamer.venues.okx.polls import (
    INSTRUMENTS_SECONDS,
    BookSnapshots,
    FundingHistory,
    InstrumentWatch,
)
from streamer.venues.okx.rest import OkxRest, symbols
from streamer.venues.okx.rows import CANDLE_MS
from streamer.venues.okx.settings import OkxSettings
from streamer.venues.okx.symbols import (
    BUSINESS,
    CANDLES,
    EXCHANGE,
    INDEX,
    LIQUIDATIONS,
    MARK,
    PUBLIC,
    channels,
    inst_id,
    is_perpetual,
    route,
)

log = logging.getLogger(__name__)

CLOSE_SETTLE_MS = 1_000  # wait after a candle closes before asking REST for it

SETTING = "STREAMER_OKX_WS_URL"
CONNECT_ATTEMPTS, CONNECT_WINDOW_SECONDS = 3, 1.25
"""OKX allows 3 connection requests a second per IP; a quarter second more than the venue's
window keeps requests sent a second apart from reaching it closer (a slow handshake before a
quick one)."""
SUBSCRIBES_PER_HOUR = 480  # subscribe/unsubscribe/login requests per connection
MAX_ARGS_BYTES = 64 * 1024  # the `args` of one request, as JSON
PING_IDLE_SECONDS = 20.0  # OKX cuts a connection idle for 30 s
PONG_WAIT_SECONDS = 10.0
STALE_CONNECTION_FACTOR = 3.0
WATCHED = (MARK, INDEX)
"""Channels that push on their own; the others may be silent on a live connection."""
Arg = dict[str, str]


def arg_of(channel: str, inst: str) -> Arg:
    return {"channel": channel, "instId": inst}


def key_of(arg: Arg) -> str:
    """The decoder's `heard` key of a subscription."""
    return f"{arg['channel']}:{arg.get('instId', arg.get('instType'))}"


def plan(symbols: Iterable[str], books: bool, per_connection: int) -> list[tuple[str, list[Arg]]]:
    """(path, args) of each connection: `/public` ones first, then `/business`."""
    args: dict[str, list[Arg]] = {PUBLIC: [], BUSINESS: []}
    indexes: set[str] = set()
    perpetual = False
    for symbol in symbols:
        perpetual = perpetual or is_perpetual(symbol)
        for channel, inst in channels(symbol, books=books):
            if channel == INDEX:
                if inst in indexes:
                    continue
                indexes.add(inst)
            args[route(channel)].append(arg_of(channel, inst))
    if perpetual:
        args[PUBLIC].insert(0, {"channel": LIQUIDATIONS, "instType": "SWAP"})
    return [(path, mine[i : i + per_connection]) for path, mine in args.items()
            for i in range(0, len(mine), per_connection)]  # fmt: skip


def requests(op: str, args: Sequence[Arg], request_id: int) -> list[str]:
    """`op` (`subscribe`, `unsubscribe`) requests for `args`, each with at most
    `MAX_ARGS_BYTES` of `args`."""
    out: list[str] = []
    batch: list[Arg] = []
    size = 2
    for arg in args:
        length = len(orjson.dumps(arg)) + 1
        if batch and size + length > MAX_ARGS_BYTES:
            out.append(orjson.dumps({"id": str(request_id + len(out)), "op": op,
                                     "args": batch}).decode())  # fmt: skip
            batch, size = [], 2
        batch.append(arg)
        size += length
    if batch:
        out.append(orjson.dumps({"id": str(request_id + len(out)), "op": op,
                                 "args": batch}).decode())  # fmt: skip
    return out


class Planned:
    """One connection: its path, its subscriptions, its session and tasks."""

    def __init__(self, index: int, path: str, args: list[Arg]) -> None:
        self.index = index
        self.path = path
        self.args = args
        self.session: _Session | None = None
        self.tasks: list[asyncio.Task[None]] = []


class OkxSource(Feed):
    """The OKX feed (`okx`)."""

    settings: OkxSettings
    rest: OkxRest
    ledger: CandleLedger
    backfill: Backfiller

    def __init__(
        self,
        settings: OkxSettings,
        *,
        clock: Clock = now_millis,
        sleep: Sleep = asyncio.sleep,
        rediscovery: Rediscovery | None = None,
        ping_idle: float = PING_IDLE_SECONDS,
        pong_wait: float = PONG_WAIT_SECONDS,
    ) -> None:
        super().__init__(EXCHANGE, settings, clock=clock, sleep=sleep, rediscovery=rediscovery)
        self.ping_idle, self.pong_wait = ping_idle, pong_wait
        self.decoder = OkxDecoder(settings.symbols, depth=settings.depth,
                                  books=settings.book_updates, stats=self.stats)  # fmt: skip
        self.plans: list[Planned] = []
        self._add_plans(settings.symbols)
        self._request_id = 0
        self.rest = OkxRest(settings.rest_url, clock=clock, sleep=sleep, counts=self.stats.extra)
        fetches = asyncio.Semaphore(MAX_FETCHES)  # every REST backfill of this source together
        self.ledger = CandleLedger(CANDLE_MS)
        self.backfill = Backfiller(EXCHANGE, self.ledger, self.stats, self._fetch_candles,
                                   fetches=fetches)  # fmt: skip
        self.trade_gaps = self.decoder.trade_gaps
        self.trade_backfill = TradeBackfiller(EXCHANGE, self.trade_gaps, self.stats,
                                              self._fetch_trades, fetches, sleep=sleep)  # fmt: skip
        self.snapshots = (
            BookSnapshots(self.decoder, self.rest, fetches, self.stats, clock=clock)
            if self.decoder.books is not None
            else None
        )
        self.attempts = AttemptWindow(CONNECT_ATTEMPTS, CONNECT_WINDOW_SECONDS)
        every = rediscovery.every if rediscovery is not None else INSTRUMENTS_SECONDS
        self.funding = FundingHistory(self.rest, self._selected, settings.funding_lookback_hours,
                                      settings.funding_poll_seconds, self.stats, clock=clock,
                                      sleep=sleep)  # fmt: skip
        self.instruments = InstrumentWatch(self.rest, self._selected, every, self.stats,
                                           sleep=sleep)  # fmt: skip

    def _selected(self) -> tuple[str, ...]:
        return tuple(self.settings.symbols)

    def _add_plans(self, symbols: Sequence[str]) -> list[Planned]:
        held = {key_of(arg) for p in self.plans for arg in p.args}
        added: list[Planned] = []
        for path, args in plan(symbols, self.settings.book_updates,
                               self.settings.args_per_connection):  # fmt: skip
            args = [arg for arg in args if key_of(arg) not in held]
            if args:
                added.append(Planned(len(self.plans) + len(added), path, args))
        self.plans += added
        return added

    def url(self, planned: Planned) -> str:
        return f"{self.settings.ws_url}/ws/v5/{planned.path}"

    def book_sequences(self) -> Mapping[str, int]:
        books = self.decoder.books
        return books.sequences() if books is not None else {}

    def grouped(self) -> Iterable[Grouped]:
        helpers: list[Grouped] = [self.trade_backfill, self.backfill]
        return helpers + ([self.snapshots] if self.snapshots is not None else [])

    def start(self, group: asyncio.TaskGroup, emit: Emit) -> None:
        for planned in self.plans:
            self._open(group, planned, emit)
        group.create_task(self.funding.run(emit))
        group.create_task(self.instruments.run(emit))

    def _open(self, group: asyncio.TaskGroup, planned: Planned, emit: Emit) -> None:
        session = planned.session = _Session(self, planned, emit)
        planned.tasks = [group.create_task(self._connection(session)),
                         group.create_task(self._keepalive(session))]  # fmt: skip

    async def listed(self, selector: Selector) -> tuple[tuple[str, ...], int]:
        return await symbols(self.rest, selector)

    def subscribe(self, symbols: Sequence[str], emit: Emit) -> None:
        """New listings: decoded from now on, on new connections of their own."""
        held = set(self.settings.symbols)
        new = [s for s in symbols if s not in held]
        if not new or self._group is None:
            return
        self.decoder.add_symbols(new)
        self.settings = replace(self.settings, symbols=(*self.settings.symbols, *new))
        for planned in self._add_plans(new):
            self._open(self._group, planned, emit)

    async def unsubscribe(self, symbols: Sequence[str]) -> None:
        """Delisted symbols: `unsubscribe`d live (within the session's budget)."""
        if not symbols:
            return
        dropped = set(symbols)
        self.settings = replace(
            self.settings, symbols=tuple(s for s in self.settings.symbols if s not in dropped)
        )
        gone = {key_of(arg_of(c, i)) for s in symbols for c, i in channels(s, books=True)}
        kept_indexes = {key_of(arg_of(c, i)) for s in self.settings.symbols
                        for c, i in channels(s, books=True) if c == INDEX}  # fmt: skip
        gone -= kept_indexes
        for planned in self.plans:
            removed = [arg for arg in planned.args if key_of(arg) in gone]
            if not removed:
                continue
            planned.args = [arg for arg in planned.args if key_of(arg) not in gone]
            session = planned.session
            if not planned.args:
                for task in planned.tasks:
                    task.cancel()
                continue
            if session is not None and session.ws is not None:
                session.watchdog.forget([key_of(arg) for arg in removed])
                await session.send_requests("unsubscribe", removed)

    def next_request_id(self, count: int) -> int:
        first = self._request_id + 1
        self._request_id += count
        return first

    def after_read(self, emit: Emit) -> None:
        super().after_read(emit)
        books = self.decoder.books
        if books is not None and books.wanted and self.snapshots is not None:
            self.snapshots.take(emit)

    async def _fetch_trades(self, symbol: str, holes: list[Hole]) -> list[Item]:
        track = self.trade_gaps.tracks[symbol]
        return await self.rest.trades(symbol, inst_id(symbol), track.record_id, holes)

    # -- candles without holes (CandleLedger, Backfiller) --------------------------------

    def backfill_missed(self, symbols: Iterable[str], emit: Emit) -> None:
        """After a (re)connect: fetch every candle that closed since the newest published."""
        for gap in self.ledger.missing(symbols, self._clock()):
            self.backfill.later(gap, emit)

    async def _fetch_candles(self, gap: Gap) -> list[Item]:
        settle = gap.end + CANDLE_MS + CLOSE_SETTLE_MS - self._clock()
        if settle > 0:  # a minute that closed this instant: let the venue finalize it first
            await self._sleep(settle / 1000)
        return await self.rest.candles(gap.symbol, inst_id(gap.symbol), gap.start, gap.end)

    async def _connection(self, session: _Session) -> None:
        await run_websocket(
            lambda: self.url(session.planned),
            source=EXCHANGE,
            setting=SETTING,
            on_connect=session.on_connect,
            on_frames=session.on_frames,
            stats=self.stats,
            clock=self._clock,
            stale_after=self.settings.stale_seconds * STALE_CONNECTION_FACTOR,
            sleep=self._sleep,
            attempts=self.attempts,
        )

    async def _keepalive(self, session: _Session) -> None:
        """The text `ping` after `ping_idle` seconds without a frame; no `pong` (nor any
        frame) within `pong_wait`: a fresh connection. Also the watchdog between reads."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(self.ping_idle, self.pong_wait) / 4)  # real time
            ws = session.ws
            if ws is None or ws.close_code is not None:
                continue
            now = loop.time()
            if session.pinged is not None:
                if now - session.pinged > self.pong_wait:
                    self.stats.extra["pongs_missed"] += 1
                    log.warning("okx.pong_missed connection=%d seconds=%.0f (reconnecting)",
                                session.index, self.pong_wait)  # fmt: skip
                    session.pinged = None
                    await ws.close(1000, "no pong")
                continue
            if now - session.last_frame >= self.ping_idle:
                session.pinged = now
                self.stats.extra["pings"] += 1
                await ws.send("ping")
                continue
            silent = session.watchdog.due(now)
            if silent:
                await session.silent(ws, silent)


class _Session(FeedSession):
    feed: OkxSource

    def __init__(self, source: OkxSource, planned: Planned, emit: Emit) -> None:
        watched = [key_of(arg) for arg in planned.args if arg["channel"] in WATCHED]
        super().__init__(source, source.decoder, watched, emit, planned.index)
        self.planned = planned
        self.budget = AttemptWindow(SUBSCRIBES_PER_HOUR, 3600.0)
        self.last_frame = 0.0
        self.pinged: float | None = None
        self.requests_sent = 0

    async def connected(self, ws: WsConnection) -> None:
        loop = asyncio.get_running_loop()
        self.budget = AttemptWindow(SUBSCRIBES_PER_HOUR, 3600.0)  # a new connection's own
        self.last_frame, self.pinged = loop.time(), None
        await self.send_requests("subscribe", self.planned.args)
        self.feed.backfill_missed(self.candle_symbols(), self.emit)
        log.info("okx.streaming connection=%d path=%s args=%d", self.index, self.planned.path,
                 len(self.planned.args))  # fmt: skip

    def candle_symbols(self) -> list[str]:
        """The symbols whose `candle1m` this connection carries."""
        insts = {arg["instId"] for arg in self.planned.args if arg["channel"] == CANDLES}
        return [s for s in self.feed.settings.symbols if inst_id(s) in insts]

    async def send_requests(self, op: str, args: Sequence[Arg]) -> None:
        loop = asyncio.get_running_loop()
        texts = requests(op, args, self.feed.next_request_id(len(args)))
        for text in texts:
            wait = self.budget.reserve(loop.time())
            if wait > 0:
                self.feed.stats.extra["subscribes_paced"] += 1
                await self.feed._sleep(wait)
            ws = self.ws
            if ws is None:
                return
            self.requests_sent += 1
            await ws.send(text)

    async def on_frames(self, payloads: list[bytes], received_at: Millis) -> None:
        self.last_frame = asyncio.get_running_loop().time()
        self.pinged = None
        await super().on_frames(payloads, received_at)
