"""Binance Spot market streams (`wss://stream.binance.com:9443`, Binance.US, the simulator).

The streams of the configured symbols (`binance_decode.stream_names`) ride in the URL as
*combined* streams (`/stream?streams=a/b/c`, at most `MAX_STREAMS_PER_CONNECTION` streams and
`MAX_REQUEST_TARGET` characters per connection), so no control message is ever sent. Decoding,
the candle ledger's decisions and the silence watchdog are pure (`binance_decode`,
`watchdog`); this module is the thin asyncio shell around them: one `run_websocket` per
planned connection in a TaskGroup, each rotated through an overlapping session before
Binance's 24 h cut, and REST backfills of candle and trade holes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from functools import partial

import orjson

from streamer.records import Item
from streamer.retry import Sleep
from streamer.selectors import Selector
from streamer.sources.attempts import AttemptWindow
from streamer.sources.backfill import MAX_FETCHES, Backfiller
from streamer.sources.base import Clock, Emit
from streamer.sources.candles import INTERVAL_MS, CandleLedger, Gap, RecentIds
from streamer.sources.feed import Feed, FeedSession, Grouped
from streamer.sources.rediscovery import Rediscovery
from streamer.sources.trade_backfill import TradeBackfiller
from streamer.sources.trade_gaps import Hole
from streamer.sources.transport import WsConnection
from streamer.sources.wsconnect import run_websocket
from streamer.timefmt import now_millis
from streamer.venues.binance.decode import (
    EXCHANGE,
    BinanceDecoder,
    native_symbol,
    stream_names,
    symbol_streams,
    ticking_streams,
)
from streamer.venues.binance.depth_snapshots import DepthSnapshots
from streamer.venues.binance.listings import symbols as listed
from streamer.venues.binance.rest import BinanceRest
from streamer.venues.binance.settings import BinanceSettings

log = logging.getLogger(__name__)

SETTING = "STREAMER_BINANCE_WS_URL"
ELSEWHERE = "wss://stream.binance.us:9443 with STREAMER_BINANCE_REST_URL=https://api.binance.us"
"""What to use where Binance refuses the location (HTTP 451)."""
MAX_STREAMS_PER_CONNECTION = 1024  # the venue's documented limit per connection
MAX_REQUEST_TARGET = 7_900
"""Characters of `/stream?streams=...`: Binance has been seen to refuse request lines over
about 8,004 characters (exchanges.md 1.11), which four streams a symbol reach at ~110 symbols."""
CONNECT_ATTEMPTS, CONNECT_WINDOW_SECONDS = 280, 300.0  # the venue's 300 per 5 minutes, less 20
OVERLAP_TAIL_SECONDS = 5.0  # rows stay de-duplicated this long after the old session closed


def plan_batches(
    streams: Sequence[str],
    *,
    max_streams: int = MAX_STREAMS_PER_CONNECTION,
    max_target: int = MAX_REQUEST_TARGET,
) -> list[list[str]]:
    """`streams` in order, cut into connections within both limits: at most `max_streams`
    streams and a request target (`/stream?streams=a/b/c`) of at most `max_target` chars."""
    batches: list[list[str]] = []
    batch: list[str] = []
    size = len("/stream?streams=")
    for name in streams:
        extra = len(name) + (1 if batch else 0)  # "/" between names
        if batch and (len(batch) == max_streams or size + extra > max_target):
            batches.append(batch)
            batch, size = [], len("/stream?streams=")
            extra = len(name)
        batch.append(name)
        size += extra
    if batch:
        batches.append(batch)
    return batches


def combined_url(ws_url: str, streams: Sequence[str]) -> str:
    return f"{ws_url}/stream?streams={'/'.join(streams)}"


def plan_connections(ws_url: str, streams: Sequence[str], **limits: int) -> list[str]:
    """The combined-stream URLs of `plan_batches(streams)`."""
    return [combined_url(ws_url, batch) for batch in plan_batches(streams, **limits)]


class Planned:
    """One planned connection: its streams, which a refresh may shrink while it runs (the next
    session or reconnect asks for what is left), and its sessions (two during a rotation)."""

    def __init__(self, index: int, ws_url: str, streams: list[str]) -> None:
        self.index = index
        self.ws_url = ws_url
        self.streams = streams
        self.sessions: set[_Session] = set()
        self.task: asyncio.Task[None] | None = None

    def url(self) -> str:
        return combined_url(self.ws_url, self.streams)


class BinanceSource(Feed):
    """The Binance Spot feed: one combined-stream connection per 1024 streams."""

    settings: BinanceSettings
    rest: BinanceRest

    def __init__(
        self,
        settings: BinanceSettings,
        *,
        clock: Clock = now_millis,
        sleep: Sleep = asyncio.sleep,
        rediscovery: Rediscovery | None = None,
    ) -> None:
        super().__init__(EXCHANGE, settings, clock=clock, sleep=sleep, rediscovery=rediscovery)
        self.decoder = BinanceDecoder(settings, self.stats)
        self.plans = [
            Planned(i, settings.ws_url, batch)
            for i, batch in enumerate(plan_batches(stream_names(settings)))
        ]
        self._control_id = 0
        interval_ms = INTERVAL_MS.get(settings.kline_interval)
        self.ledger = CandleLedger(interval_ms) if interval_ms else None
        self.rest = BinanceRest(
            settings.rest_url, clock=clock, sleep=sleep, counts=self.stats.extra
        )
        fetches = asyncio.Semaphore(MAX_FETCHES)  # every REST backfill of this source together
        self.backfill = (
            Backfiller(EXCHANGE, self.ledger, self.stats, self._fetch, fetches=fetches)
            if self.ledger
            else None
        )
        self.trade_gaps = self.decoder.trade_gaps
        self.trade_backfill = TradeBackfiller(
            EXCHANGE, self.trade_gaps, self.stats, self._fetch_trades, fetches, sleep=sleep
        )
        self.snapshots = (
            DepthSnapshots(self.decoder, self.rest, fetches, self.stats, clock=clock, sleep=sleep)
            if self.decoder.books is not None
            else None
        )
        self.recent = RecentIds()
        self.attempts = AttemptWindow(CONNECT_ATTEMPTS, CONNECT_WINDOW_SECONDS)
        self.dedupe_until = 0.0  # loop time; rows are de-duplicated while sessions overlap

    @property
    def urls(self) -> list[str]:
        """The URL of every running connection, as its next session would ask for it."""
        return [plan.url() for plan in self.plans if plan.streams]

    def book_sequences(self) -> Mapping[str, int]:
        books = self.decoder.books
        return books.sequences() if books is not None else {}

    def grouped(self) -> Iterable[Grouped]:
        helpers: list[Grouped] = [self.trade_backfill]
        helpers += [h for h in (self.backfill, self.snapshots) if h is not None]
        return helpers

    def start(self, group: asyncio.TaskGroup, emit: Emit) -> None:
        for plan in self.plans:
            plan.task = group.create_task(self._connection(plan, emit))

    async def listed(self, selector: Selector) -> tuple[tuple[str, ...], int]:
        return await listed(self.rest, selector)

    # -- the market changes -------------------------------------------------------------

    def subscribe(self, symbols: Sequence[str], emit: Emit) -> None:
        """New listings: decoded from now on, streamed on new connections of their own (the
        running ones are left alone), opened within the shared connection-attempt budget."""
        held = set(self.settings.symbols)
        symbols = [s for s in symbols if s not in held]
        if not symbols or self._group is None:
            return
        self.decoder.add_symbols(symbols)
        self.settings = replace(self.settings, symbols=(*self.settings.symbols, *symbols))
        streams = [name for symbol in symbols for name in symbol_streams(symbol, self.settings)]
        for batch in plan_batches(streams):
            plan = Planned(len(self.plans), self.settings.ws_url, batch)
            self.plans.append(plan)
            plan.task = self._group.create_task(self._connection(plan, emit))
            log.info("binance.connection_added connection=%d streams=%d", plan.index, len(batch))

    async def unsubscribe(self, symbols: Sequence[str]) -> None:
        """Halted or delisted symbols: `UNSUBSCRIBE`d live on the connections that carry them,
        which keep running; a connection left with no stream is closed."""
        if not symbols:
            return
        gone = {name for s in symbols for name in symbol_streams(s, self.settings)}
        dropped = set(symbols)
        self.settings = replace(
            self.settings, symbols=tuple(s for s in self.settings.symbols if s not in dropped)
        )
        for plan in self.plans:
            removed = [name for name in plan.streams if name in gone]
            if not removed:
                continue
            plan.streams = [name for name in plan.streams if name not in gone]
            if not plan.streams and plan.task is not None:
                plan.task.cancel()
                log.info("binance.connection_closed connection=%d (no streams left)", plan.index)
                continue
            self._control_id += 1
            message = {"method": "UNSUBSCRIBE", "params": removed, "id": self._control_id}
            for session in list(plan.sessions):
                session.watchdog.forget(removed)
                if session.ws is not None:
                    await session.ws.send(orjson.dumps(message).decode())
            log.info("binance.unsubscribed connection=%d streams=%d", plan.index, len(removed))

    # -- candles without holes ----------------------------------------------------------

    def backfill_missed(self, emit: Emit) -> None:
        """After a (re)connect: fetch every candle that closed since the newest published."""
        if self.ledger is not None and self.backfill is not None:
            for gap in self.ledger.missing(self.settings.symbols, self._clock()):
                self.backfill.later(gap, emit)

    @property
    def backfills_pending(self) -> int:
        return self.backfill.pending if self.backfill is not None else 0

    # -- trades without holes (trade_gaps, trade_backfill) --------------------------------

    def after_read(self, emit: Emit) -> None:
        """After each socket read: fill the trade holes its frames revealed, and fetch the
        snapshots full books ask for."""
        super().after_read(emit)
        books = self.decoder.books
        if books is not None and books.wanted and self.snapshots is not None:
            self.snapshots.take(emit)

    async def _fetch_trades(self, symbol: str, holes: list[Hole]) -> list[Item]:
        track = self.decoder.trade_gaps.tracks[symbol]
        native = native_symbol(symbol)
        return await self.rest.trades(symbol, native, self.settings.trades, track.record_id, holes)

    async def _fetch(self, gap: Gap) -> list[Item]:
        interval = self.settings.kline_interval
        native = native_symbol(gap.symbol)
        return await self.rest.klines(gap.symbol, native, interval, gap.start, gap.end)

    # -- connections ----------------------------------------------------------------------

    async def _connection(self, plan: Planned, emit: Emit) -> None:
        """One planned connection, kept up for good and rotated before Binance's 24 h limit.

        At `rotate_seconds` a second session opens to the same streams; once it has delivered
        every ticker and book stream, the old one is closed. While both run, rows are
        de-duplicated by `record_id`, so nothing is missed and nothing is doubled.
        """
        sessions: set[asyncio.Task[None]] = set()
        try:
            await self._rotate(plan, emit, sessions)
        finally:
            running = list(sessions)
            for task in running:  # the source is stopping: no session may outlive it
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def _rotate(self, plan: Planned, emit: Emit, sessions: set[asyncio.Task[None]]) -> None:
        loop = asyncio.get_running_loop()
        old: asyncio.Task[None] | None = None
        index = plan.index
        while True:
            session = _Session(self, plan, emit)
            new = asyncio.create_task(self._session(session))
            sessions.add(new)
            plan.sessions.add(session)
            new.add_done_callback(sessions.discard)
            new.add_done_callback(partial(_ended, plan, session))
            if old is not None:
                self.dedupe_until = float("inf")
                try:
                    async with asyncio.timeout(max(30.0, self.settings.stale_seconds)):
                        await session.ready.wait()
                except TimeoutError:
                    log.warning("binance.rotation_unready connection=%d (closing old anyway)",
                                index)  # fmt: skip
                old.cancel()
                await asyncio.gather(old, return_exceptions=True)
                self.dedupe_until = loop.time() + OVERLAP_TAIL_SECONDS  # the old's late frames
                self.stats.extra["rotations"] += 1
                log.info("binance.rotated connection=%d", index)
            old = new
            done, _ = await asyncio.wait({new}, timeout=self.settings.rotate_seconds)
            if new in done:
                new.result()  # a SourceError ends the source; nothing else ends a session
                return

    async def _session(self, session: _Session) -> None:
        await run_websocket(
            session.plan.url,  # read at every attempt: a refresh may have dropped streams
            source=EXCHANGE,
            setting=SETTING,
            on_connect=session.on_connect,
            on_frames=session.on_frames,
            stats=self.stats,
            clock=self._clock,
            stale_after=self.settings.stale_seconds,
            sleep=self._sleep,
            attempts=self.attempts,
            elsewhere=ELSEWHERE,
        )


def _ended(plan: Planned, session: _Session, _: object) -> None:
    plan.sessions.discard(session)


class _Session(FeedSession):
    """One session of one planned connection: its socket, its stream watchdog (over the
    ticker and book streams), and whether it has delivered every watched stream yet (`ready`,
    what a rotation waits for)."""

    feed: BinanceSource
    decoder: BinanceDecoder

    def __init__(self, source: BinanceSource, plan: Planned, emit: Emit) -> None:
        super().__init__(source, source.decoder, ticking_streams(plan.streams), emit, plan.index)
        self.plan = plan

    async def connected(self, ws: WsConnection) -> None:
        log.info("binance.streaming connection=%d of=%d", self.index, len(self.feed.plans))
        self.feed.backfill_missed(self.emit)

    def flag(self) -> bool:
        return self.decoder.shutdown_requested

    def fresh(self, rows: list[Item], now: float) -> list[Item]:
        source = self.feed
        return source.recent.fresh_items(rows) if now < source.dedupe_until else rows

    async def control(self, ws: WsConnection, flag: bool) -> bool:
        if not flag:
            return False
        self.feed.stats.extra["server_shutdowns"] += 1
        log.warning("binance.server_shutdown connection=%d reconnecting", self.index)
        await ws.close(1000, "serverShutdown")
        return True
