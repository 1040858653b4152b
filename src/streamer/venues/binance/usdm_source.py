"""Binance USD-M's asyncio shell: routed combined-stream connections, books, trade backfills and
a watchdog for acknowledged-but-silent subscriptions.

Every stream is asked on its routed path (`usdm_streams.route`): `<ws>/public/stream?streams=`
for the diff depth and `@trade` streams, `<ws>/market/stream?streams=` for `@aggTrade` and the
all-market `!markPrice@arr@1s` and `!forceOrder@arr` (one subscription each for the whole
market; the decoder keeps the selected symbols). Each path's streams are cut into connections
of at most `streams_per_connection` (a setting, 200 by default) and a request line Binance
accepts; the streams ride in the URL, so no control message is sent at start, and the few sent
later (`UNSUBSCRIBE`) are paced under `MAX_CONTROL_PER_SECOND` per connection.

Candles and tickers (`<s>@kline_<interval>`, `<s>@ticker`) ride `/market` too. Closed candles
pass the `CandleLedger` (`admit`), which drops repeats and reports a jump in open times; that
hole, and after each (re)connect every candle closed since the newest published (`connected`),
is fetched from `/fapi/v1/klines` by the shared `Backfiller` within `UsdmRest`'s weight, as on
Spot.

Full books: the decoder's `DepthBooks` with the `pu` chain rule asks for REST snapshots
(`GET /fapi/v1/depth?limit=1000`, weight 20), fetched by `DepthSnapshots` under the shared
weight budget. Trade holes are filled by id from `/fapi/v1/aggTrades` (`fromId`, weight 20).

A subscription can be acknowledged and then deliver nothing (a `/market` stream on the wrong
path). Each connection's watchdog knows the streams that always tick (`usdm_streams.watched`:
the mark prices every second, each depth and ticker stream) and the sparse ones it ignores
(`forceOrder`, trades, klines); it is checked on every read and once a second by a timer (a
connection whose every stream is silent gets no reads), so a silent one is flagged within
`stale_seconds`: `binance_usdm.subscription_silent`, `subscriptions_silent` in the feed's
stats, and a fresh connection.

REST-driven datasets run beside the connections, each one task in the feed's group, on the same
`UsdmRest` (`usdm_polls`): `open_interest` (`OpenInterestPolls`, every `open_interest_seconds`),
`funding_rates` (`usdm_funding`: a backfill of `funding_lookback_hours`, then each settled rate)
and `instruments` (`usdm_instruments`: at start and on every change, looked at each rediscovery
period). They read the selection as it is now, so rediscovery's changes are followed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

import orjson

from streamer.records import Item
from streamer.retry import Sleep
from streamer.selectors import Selector
from streamer.sources.attempts import AttemptWindow
from streamer.sources.backfill import MAX_FETCHES, Backfiller
from streamer.sources.base import Clock, Emit
from streamer.sources.candles import INTERVAL_MS, CandleLedger, Gap
from streamer.sources.feed import Feed, FeedSession, Grouped
from streamer.sources.rediscovery import Rediscovery
from streamer.sources.trade_backfill import TradeBackfiller
from streamer.sources.trade_gaps import Hole
from streamer.sources.transport import WsConnection
from streamer.sources.wsconnect import run_websocket
from streamer.timefmt import now_millis
from streamer.venues.binance.depth_snapshots import DepthSnapshots
from streamer.venues.binance.source import MAX_REQUEST_TARGET, combined_url, plan_batches
from streamer.venues.binance.usdm_client import DEPTH_PATH, SNAPSHOT_LEVELS, UsdmRest, symbols
from streamer.venues.binance.usdm_decode import UsdmDecoder
from streamer.venues.binance.usdm_funding import FundingSettlements
from streamer.venues.binance.usdm_instruments import INSTRUMENTS_SECONDS, InstrumentWatch
from streamer.venues.binance.usdm_polls import (
    FUNDING_REQUESTS,
    FUNDING_WINDOW_SECONDS,
    FundingIntervals,
    OpenInterestPolls,
)
from streamer.venues.binance.usdm_settings import UsdmSettings
from streamer.venues.binance.usdm_streams import (
    EXCHANGE_USDM,
    MARKET,
    PUBLIC,
    kline_stream,
    native_symbol,
    route,
    watched,
)

log = logging.getLogger(__name__)

SETTING = "STREAMER_BINANCE_USDM_WS_URL"
MAX_CONTROL_PER_SECOND = 10  # incoming messages a connection may send (over: cut, then a ban)
CONNECT_ATTEMPTS, CONNECT_WINDOW_SECONDS = 280, 300.0  # Spot's 300 per 5 minutes, less 20
SNAPSHOTS_PER_MINUTE = 75
"""1,500 of USD-M's 2,400 weight a minute at most (1,000 levels weigh 20): a whole market of
500 books takes under 7 minutes after a mass reconnect (30 a minute took 16). The rest leaves
room for the open-interest polls (one per symbol a minute) and the trade and candle backfills."""
PATHS = (PUBLIC, MARKET)
WATCH_CHECKS_PER_PERIOD = 4  # the timer looks this often per watchdog period
STALE_CONNECTION_FACTOR = 3.0
"""A wholly silent connection is closed after this many `stale_seconds`: the stream watchdog
(which names the silent subscriptions) speaks first, the transport's timer is the backstop."""


def plan_routes(
    ws_url: str, streams: Sequence[str], per_connection: int
) -> list[tuple[str, list[str]]]:
    """(routed base URL, streams) of each connection: `/public` ones first, then `/market`,
    each at most `per_connection` streams and a request line Binance accepts."""
    plans: list[tuple[str, list[str]]] = []
    for path in PATHS:
        mine = [name for name in streams if route(name) == path]
        base = f"{ws_url}/{path}"
        target = MAX_REQUEST_TARGET - len(path) - 1
        plans += [(base, b) for b in plan_batches(mine, max_streams=per_connection,
                                                  max_target=target)]  # fmt: skip
    return plans


class Planned:
    """One connection: its routed base, its streams (a refresh may shrink them), its session,
    and the pace of the control messages it sends."""

    def __init__(self, index: int, base: str, streams: list[str]) -> None:
        self.index = index
        self.base = base
        self.streams = streams
        self.session: _Session | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.control = AttemptWindow(MAX_CONTROL_PER_SECOND, 1.0)

    def url(self) -> str:
        return combined_url(self.base, self.streams)


class UsdmSource(Feed):
    """The Binance USD-M feed (`binance_usdm`)."""

    settings: UsdmSettings
    rest: UsdmRest

    def __init__(
        self,
        settings: UsdmSettings,
        *,
        clock: Clock = now_millis,
        sleep: Sleep = asyncio.sleep,
        rediscovery: Rediscovery | None = None,
    ) -> None:
        super().__init__(EXCHANGE_USDM, settings, clock=clock, sleep=sleep,
                         rediscovery=rediscovery)  # fmt: skip
        self.decoder = UsdmDecoder(settings.symbols, trades=settings.trades, depth=settings.depth,
                                   books=settings.book_updates,
                                   kline_interval=settings.kline_interval, tickers=True,
                                   keep_open_candles=settings.keep_open_candles,
                                   stats=self.stats)  # fmt: skip
        self.plans: list[Planned] = []
        self._add_plans(self.decoder.streams)
        self._control_id = 0
        self.rest = UsdmRest(settings.rest_url, clock=clock, sleep=sleep, counts=self.stats.extra)
        fetches = asyncio.Semaphore(MAX_FETCHES)  # every REST fetch of this source together
        interval_ms = INTERVAL_MS.get(settings.kline_interval)  # `1M` has no fixed length
        self.ledger = CandleLedger(interval_ms) if interval_ms else None
        fetch = self._fetch_candles
        self.backfill = (
            Backfiller(EXCHANGE_USDM, self.ledger, self.stats, fetch, fetches=fetches)
            if self.ledger is not None
            else None
        )
        self.trade_gaps = self.decoder.trade_gaps
        self.trade_backfill = TradeBackfiller(
            EXCHANGE_USDM, self.trade_gaps, self.stats, self._fetch_trades, fetches, sleep=sleep
        )
        self.snapshots = (
            DepthSnapshots(
                self.decoder,
                self.rest,
                fetches,
                self.stats,
                clock=clock,
                sleep=sleep,
                per_minute=SNAPSHOTS_PER_MINUTE,
                path=DEPTH_PATH,
                levels=SNAPSHOT_LEVELS,
                native=native_symbol,
            )
            if self.decoder.books is not None
            else None
        )
        self.attempts = AttemptWindow(CONNECT_ATTEMPTS, CONNECT_WINDOW_SECONDS)
        self._polls(clock, sleep)

    def _polls(self, clock: Clock, sleep: Sleep) -> None:
        """The REST-driven datasets: open interest, settled funding, instruments."""
        rest, stats = self.rest, self.stats
        every = self.rediscovery.every if self.rediscovery is not None else INSTRUMENTS_SECONDS
        pace = AttemptWindow(FUNDING_REQUESTS, FUNDING_WINDOW_SECONDS)
        intervals = FundingIntervals(rest, stats, pace, every, clock=clock, sleep=sleep)
        self.open_interest = OpenInterestPolls(rest, self._selected,
                                               self.settings.open_interest_seconds, stats,
                                               clock=clock, sleep=sleep)  # fmt: skip
        self.funding = FundingSettlements(rest, self._selected, intervals, pace,
                                          self.settings.funding_lookback_hours, stats,
                                          clock=clock, sleep=sleep)  # fmt: skip
        self.instruments = InstrumentWatch(rest, self._selected, intervals, every, stats,
                                           clock=clock, sleep=sleep)  # fmt: skip

    def _selected(self) -> tuple[str, ...]:
        return tuple(self.settings.symbols)

    def _add_plans(self, streams: Sequence[str]) -> list[Planned]:
        added = [
            Planned(len(self.plans) + i, base, batch)
            for i, (base, batch) in enumerate(
                plan_routes(self.settings.ws_url, streams, self.settings.streams_per_connection)
            )
        ]
        self.plans += added
        return added

    @property
    def urls(self) -> list[str]:
        """The URL of every connection, as its next session asks for it."""
        return [plan.url() for plan in self.plans if plan.streams]

    def book_sequences(self) -> Mapping[str, int]:
        books = self.decoder.books
        return books.sequences() if books is not None else {}

    def grouped(self) -> Iterable[Grouped]:
        helpers: list[Grouped] = [self.trade_backfill]
        return helpers + [h for h in (self.snapshots, self.backfill) if h is not None]

    def start(self, group: asyncio.TaskGroup, emit: Emit) -> None:
        for plan in self.plans:
            self._open(group, plan, emit)
        for poll in (self.open_interest, self.funding, self.instruments):
            group.create_task(poll.run(emit))

    def _open(self, group: asyncio.TaskGroup, plan: Planned, emit: Emit) -> None:
        session = plan.session = _Session(self, plan, emit)
        plan.tasks = [group.create_task(self._connection(session)),
                      group.create_task(self._watch(session))]  # fmt: skip

    async def listed(self, selector: Selector) -> tuple[tuple[str, ...], int]:
        return await symbols(self.rest, selector)

    # -- the market changes -------------------------------------------------------------

    def subscribe(self, symbols: Sequence[str], emit: Emit) -> None:
        """New listings: decoded from now on, on new connections of their own."""
        held = set(self.settings.symbols)
        new = [s for s in symbols if s not in held]
        if not new or self._group is None:
            return
        self.decoder.add_symbols(new)
        self.settings = replace(self.settings, symbols=(*self.settings.symbols, *new))
        streams = [n for s in new for n in self.decoder.symbol_streams(s) if n is not None]
        for plan in self._add_plans(streams):
            self._open(self._group, plan, emit)
            log.info("binance_usdm.connection_added connection=%d streams=%d", plan.index,
                     len(plan.streams))  # fmt: skip

    async def unsubscribe(self, symbols: Sequence[str]) -> None:
        """Delisted contracts: `UNSUBSCRIBE`d live (paced), a connection left empty closed."""
        if not symbols:
            return
        gone = {n for s in symbols for n in self.decoder.symbol_streams(s) if n is not None}
        dropped = set(symbols)
        self.settings = replace(
            self.settings, symbols=tuple(s for s in self.settings.symbols if s not in dropped)
        )
        loop = asyncio.get_running_loop()
        for plan in self.plans:
            removed = [name for name in plan.streams if name in gone]
            if not removed:
                continue
            plan.streams = [name for name in plan.streams if name not in gone]
            session = plan.session
            if not plan.streams:
                for task in plan.tasks:
                    task.cancel()
                log.info("binance_usdm.connection_closed connection=%d (no streams left)",
                         plan.index)  # fmt: skip
                continue
            if session is None:
                continue
            session.watchdog.forget(removed)
            if session.ws is not None:
                wait = plan.control.reserve(loop.time())
                if wait > 0:
                    await self._sleep(wait)
                self._control_id += 1
                message = {"method": "UNSUBSCRIBE", "params": removed, "id": self._control_id}
                await session.ws.send(orjson.dumps(message).decode())

    # -- candles without holes (as on Spot: `candles`, `backfill`) ------------------------

    def backfill_missed(self, streams: Sequence[str], emit: Emit) -> None:
        """After a (re)connect carrying `streams`: fetch every candle of their symbols that
        closed since the newest published."""
        if self.ledger is None or self.backfill is None:
            return
        carried = set(streams)
        interval = self.settings.kline_interval
        symbols = [s for s in self.settings.symbols if kline_stream(s, interval) in carried]
        for gap in self.ledger.missing(symbols, self._clock()):
            self.backfill.later(gap, emit)

    @property
    def backfills_pending(self) -> int:
        return self.backfill.pending if self.backfill is not None else 0

    async def _fetch_candles(self, gap: Gap) -> list[Item]:
        return await self.rest.klines(gap.symbol, native_symbol(gap.symbol),
                                      self.settings.kline_interval, gap.start, gap.end)  # fmt: skip

    # -- books and trades ---------------------------------------------------------------

    def after_read(self, emit: Emit) -> None:
        """Fill the trade holes a read revealed; fetch the snapshots books ask for."""
        super().after_read(emit)
        books = self.decoder.books
        if books is not None and books.wanted and self.snapshots is not None:
            self.snapshots.take(emit)

    async def _fetch_trades(self, symbol: str, holes: list[Hole]) -> list[Item]:
        track = self.trade_gaps.tracks[symbol]
        return await self.rest.trades(symbol, native_symbol(symbol), self.settings.trades,
                                      track.record_id, holes)  # fmt: skip

    # -- connections ----------------------------------------------------------------------

    async def _connection(self, session: _Session) -> None:
        await run_websocket(
            session.plan.url,  # read at every attempt: a refresh may have dropped streams
            source=EXCHANGE_USDM,
            setting=SETTING,
            on_connect=session.on_connect,
            on_frames=session.on_frames,
            stats=self.stats,
            clock=self._clock,
            stale_after=self.settings.stale_seconds * STALE_CONNECTION_FACTOR,
            sleep=self._sleep,
            attempts=self.attempts,
        )

    async def _watch(self, session: _Session) -> None:
        """The watchdog between reads: a connection whose streams all went silent has none."""
        loop = asyncio.get_running_loop()
        while True:
            # real time, as the watchdog's limit; `due` answers at most once per `every`
            await asyncio.sleep(session.watchdog.every / WATCH_CHECKS_PER_PERIOD)
            ws = session.ws
            if ws is None or ws.close_code is not None:
                continue  # between connections: the next one restarts the watchdog
            silent = session.watchdog.due(loop.time())
            if silent:
                await session.silent(ws, silent)


class _Session(FeedSession):
    """The session of one connection; its watchdog covers the streams that always tick."""

    feed: UsdmSource

    def __init__(self, source: UsdmSource, plan: Planned, emit: Emit) -> None:
        super().__init__(source, source.decoder, watched(plan.streams), emit, plan.index)
        self.plan = plan

    async def connected(self, ws: WsConnection) -> None:
        log.info("binance_usdm.streaming connection=%d path=%s streams=%d", self.index,
                 self.plan.base.rsplit("/", 1)[-1], len(self.plan.streams))  # fmt: skip
        self.feed.backfill_missed(self.plan.streams, self.emit)

    async def silent(self, ws: WsConnection, streams: list[str]) -> None:
        """An acknowledged subscription delivers nothing: flagged, then a fresh connection."""
        self.feed.stats.extra["subscriptions_silent"] += len(streams)
        self.feed.stats.quality.silent(len(streams))
        log.error("binance_usdm.subscription_silent connection=%d url=%.80s streams=%s "
                  "seconds=%.0f (acknowledged, no data: a wrong route?)", self.index,
                  self.plan.base, ",".join(streams[:5]), self.watchdog.limit)  # fmt: skip
        await super().silent(ws, streams)
