"""The shell every streaming venue shares: the feed (its task group, backfills, rediscovery)
and the per-read step of one connection's session.

A venue's source subclasses `Feed` and says only what is its own: which connections to open
(`start`), how to ask its listing (`listed`), how to add and drop symbols while running
(`subscribe`, `unsubscribe`), and which rows to hold back (`admit`). Its sessions subclass
`FeedSession` and add their own control (a venue's shutdown notice, a book resync) through
`connected`, `flag`, `fresh` and `control`. Everything else is here, once:

* `Feed.run`: one `asyncio.TaskGroup` for the connections, the backfills and the refresh of
  a market selector; a `SourceError` (a refusal retrying cannot fix) ends the feed with that
  error, anything else is handled where it happens; the REST client is closed on the way out.
* `FeedSession.on_frames`, once per socket read: decode every frame (the venue's pure
  `decode_read`), count, start the trade backfills the read revealed, tell the silence
  watchdog which streams spoke, hand the admitted rows on with one `emit`, then let the venue
  act on its control flags, and reconnect a connection whose watched streams went silent.
* Resuming and checkpoints (`positions`): `resume` seeds the trade tracks and candle ledger
  from the saved checkpoints and turns on a `Progress` marker every `every` seconds, put in the
  queue once every row it covers is queued ahead of it (no emit of the feed is waiting);
  `drain`, on the way out, waits for open holes to be served, then puts the last marker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from streamer.checkpoints import Checkpoint
from streamer.errors import SourceError
from streamer.progress import Progress
from streamer.records import Item, Millis
from streamer.retry import Sleep
from streamer.selectors import Selector
from streamer.sources.backfill import Backfiller
from streamer.sources.base import Clock, Emit, FeedStats
from streamer.sources.candles import CandleLedger, admit_candles
from streamer.sources.positions import positions, seed
from streamer.sources.rediscovery import Change, Rediscovery, rediscover
from streamer.sources.trade_backfill import TradeBackfiller
from streamer.sources.trade_gaps import TradeGaps
from streamer.sources.transport import WsConnection
from streamer.sources.watchdog import SilenceWatchdog

log = logging.getLogger(__name__)


class ReadDecoder(Protocol):
    """A venue's pure decoder, as a session drives it."""

    heard: set[str]
    """What delivered since the session last looked: the watchdog's keys (streams, products)."""

    def decode_read(self, payloads: list[bytes], received_at: Millis) -> list[Item]: ...


class Grouped(Protocol):
    """A helper that starts tasks (fetches) in the feed's task group while the feed runs."""

    group: asyncio.TaskGroup | None


class Feed:
    """A streaming venue's feed. Subclasses set `rest`, `trade_gaps` and `trade_backfill`
    in their `__init__` and implement `start`, `listed`, `subscribe` and `unsubscribe`."""

    rest: Any  # a `sources.rest.RestClient`, closed when the feed ends
    trade_gaps: TradeGaps
    trade_backfill: TradeBackfiller
    ledger: CandleLedger | None = None  # closed candles published (venues with candle backfill)
    backfill: Backfiller | None = None  # their REST backfill

    def __init__(
        self,
        name: str,
        settings: Any,
        *,
        clock: Clock,
        sleep: Sleep,
        rediscovery: Rediscovery | None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.stats = FeedStats()
        self.rediscovery = rediscovery
        self._clock = clock
        self._sleep = sleep
        self._group: asyncio.TaskGroup | None = None
        self._every: float | None = None  # seconds between `Progress` markers (None: none)
        self._emit: Emit | None = None  # while running: `emit`, counting the calls waiting
        self._emitting = 0
        self._idle = asyncio.Event()
        self._idle.set()

    # -- what a venue says ---------------------------------------------------------------

    def start(self, group: asyncio.TaskGroup, emit: Emit) -> None:
        """Create the connections' tasks (and any periodic one) in `group`."""
        raise NotImplementedError

    async def listed(self, selector: Selector) -> tuple[tuple[str, ...], int]:
        """(the symbols `selector` picks today, how many trade), on the feed's REST client."""
        raise NotImplementedError

    def subscribe(self, symbols: Sequence[str], emit: Emit) -> None:
        """New listings, collected from now on (on new connections: the others keep running)."""
        raise NotImplementedError

    async def unsubscribe(self, symbols: Sequence[str]) -> None:
        """Halted or delisted symbols, dropped live from the connections that carry them."""
        raise NotImplementedError

    def grouped(self) -> Iterable[Grouped]:
        """The helpers that start tasks in the feed's group (backfills, snapshot fetches)."""
        return (self.trade_backfill,)

    def admit(self, items: list[Item], emit: Emit) -> list[Item]:
        """The rows of one read to hand on: with a candle ledger, closed candles already
        published are dropped and a jump in open times starts a backfill (`admit_candles`)."""
        ledger, backfill = self.ledger, self.backfill
        if ledger is None or backfill is None:
            return items
        items, gaps = admit_candles(ledger, items, self.stats)
        for gap in gaps:
            backfill.later(gap, emit)
        return items

    def after_read(self, emit: Emit) -> None:
        """After each socket read: fill the trade holes its frames revealed."""
        gaps = self.trade_gaps
        if gaps.found or gaps.lost:
            self.trade_backfill.take(emit)

    # -- resuming and checkpoints (`positions`) ------------------------------------------

    def resume(self, saved: Mapping[str, Checkpoint], every: float) -> None:
        """Start each symbol at its checkpoint (called before `run`) and put a `Progress`
        marker in the queue every `every` seconds while running."""
        seeded = seed(self.trade_gaps, self.ledger, saved)
        self._every = every
        log.info("%s.resume checkpoints=%d trades_seeded=%d symbols=%d", self.name, len(saved),
                 seeded, len(self.settings.symbols))  # fmt: skip

    def checkpoints(self) -> tuple[Checkpoint, ...]:
        """Each symbol's position with every row before it handed on."""
        symbols = self.settings.symbols
        books = self.book_sequences()
        return positions(self.name, symbols, self.trade_gaps, self.ledger, self.backfill, books)

    def book_sequences(self) -> Mapping[str, int]:
        """Each kept book's sequence (venues whose books carry one say so)."""
        return {}

    @property
    def holes_open(self) -> int:
        """Symbols with trade holes open or being fetched, plus candle gaps being fetched."""
        candles = self.backfill.pending if self.backfill is not None else 0
        return self.trade_backfill.pending + candles

    async def mark(self) -> bool:
        """Put a `Progress` marker in the queue once no emit of this feed is waiting (so
        every row its positions cover is ahead of it); False when not running."""
        emit = self._emit
        if emit is None or self._every is None:
            return False
        while self._emitting:
            self._idle.clear()
            await self._idle.wait()
        marker = Progress(self.name, self.checkpoints())
        if marker.checkpoints:
            await emit([marker])  # type: ignore[list-item]  # the pipeline takes it apart
        return True

    async def drain(self, seconds: float) -> None:
        """Stopping: give open holes up to `seconds` to be served (the live streams keep
        running meanwhile), then put the last marker."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        # A 50 ms poll of two helpers' counts, once, at shutdown: simpler than an event each.
        while self.holes_open and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(min(0.05, max(0.0, deadline - loop.time())))
        left = self.holes_open
        (log.warning if left else log.info)(
            "%s.drained holes_left=%d (%s)", self.name, left,
            "the next start fetches them" if left else "every hole served")  # fmt: skip
        await self.mark()

    async def _marks(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            await self.mark()

    def _counting(self, emit: Emit) -> Emit:
        async def counted(items: Sequence[Item]) -> None:
            self._emitting += 1
            try:
                await emit(items)
            finally:
                self._emitting -= 1
                if not self._emitting:
                    self._idle.set()

        return counted

    # -- the shared part -------------------------------------------------------------------

    async def run(self, emit: Emit) -> None:
        helpers = list(self.grouped())
        if self._every is not None:
            emit = self._emit = self._counting(emit)
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                for helper in helpers:
                    helper.group = group
                self.start(group, emit)
                if self.rediscovery is not None:
                    group.create_task(self._rediscover(self.rediscovery, emit))
                if self._every is not None:
                    group.create_task(self._marks(self._every))
        except* SourceError as group_error:
            raise group_error.exceptions[0] from None
        finally:
            self._group = None
            self._emit = None
            for helper in helpers:
                helper.group = None
            await self.rest.aclose()

    async def _rediscover(self, rediscovery: Rediscovery, emit: Emit) -> None:
        async def apply(delta: Change) -> None:
            await self.unsubscribe(delta.removed)
            self.subscribe(delta.added, emit)

        await rediscover(
            self.name, rediscovery, lambda: self.settings.symbols, self.listed, apply, self._sleep
        )


class FeedSession:
    """One session of one connection: its socket, the decoder of its frames, and the watchdog
    over the streams that should tick on their own (`ready` once each has spoken)."""

    def __init__(
        self,
        feed: Feed,
        decoder: ReadDecoder,
        watched: Iterable[str],
        emit: Emit,
        index: int,
    ) -> None:
        self.feed = feed
        self.decoder = decoder
        self.emit = emit
        self.index = index
        self.ws: WsConnection | None = None
        self.ready = asyncio.Event()
        self.watchdog = SilenceWatchdog(
            watched, feed.settings.stale_seconds, quiet=feed.stats.quiet
        )
        self._loop = asyncio.get_running_loop()  # its clock: the watchdog's limit is real time

    # -- what a venue adds -------------------------------------------------------------

    async def connected(self, ws: WsConnection) -> None:
        """A new connection is up: subscribe if the venue needs it, fetch what was missed."""

    def flag(self) -> bool:
        """Read right after decoding, before the rows are handed on (a shared decoder's
        per-read state may change while `emit` waits): passed to `control`."""
        return False

    def fresh(self, rows: list[Item], now: float) -> list[Item]:
        """The rows not handed on already (e.g. while two sessions overlap)."""
        return rows

    async def control(self, ws: WsConnection, flag: bool) -> bool:
        """Act on the venue's control state after a read; True if `ws` was closed."""
        return False

    # -- the shared part -------------------------------------------------------------------

    async def on_connect(self, ws: WsConnection) -> None:
        self.ws = ws
        self.watchdog.restart(self._loop.time())
        await self.connected(ws)

    async def on_frames(self, payloads: list[bytes], received_at: Millis) -> None:
        """One socket read: every frame decoded, then the rows handed on with one `emit`."""
        feed, decoder, watchdog = self.feed, self.decoder, self.watchdog
        stats = feed.stats
        now = self._loop.time()
        rows = decoder.decode_read(payloads, received_at)
        flag = self.flag()
        stats.count_read(len(payloads), rows, received_at)
        feed.after_read(self.emit)
        heard = decoder.heard
        if heard:
            for key in heard:
                watchdog.heard(key, now)
            heard.clear()
        if not self.ready.is_set() and watchdog.all_heard:
            self.ready.set()
        if rows:
            rows = feed.admit(rows, self.emit)
            if rows:
                rows = self.fresh(rows, now)
                if rows:
                    await self.emit(rows)
        ws = self.ws
        if ws is None or await self.control(ws, flag):
            return
        silent = watchdog.due(now)
        if silent:
            await self.silent(ws, silent)

    async def silent(self, ws: WsConnection, streams: list[str]) -> None:
        """Watched `streams` went silent on `ws` (each named once): a fresh connection."""
        self.feed.stats.stalls += 1
        log.warning("%s.stream_stale connection=%d streams=%s (reconnecting)", self.feed.name,
                    self.index, ",".join(streams[:5]))  # fmt: skip
        await ws.close(1000, "stale stream")
