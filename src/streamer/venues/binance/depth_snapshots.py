"""The shell that fetches the REST snapshots Binance's full books ask for (`depth_diff`).

A 5000-level snapshot weighs 250 of the 6000 request weight a minute, and after a network cut
every symbol asks at once: so snapshots are staggered, at most `SNAPSHOTS_PER_MINUTE` a minute
(half the weight at most, leaving the rest to candle and trade backfills), each inside the
source's REST cap (the semaphore its backfills share) and its one `WeightBudget`. One fetch
per symbol at a time; its answer goes to the decoder, whose rows are emitted. A snapshot too
old for the buffered events, or an answer that does not parse, is asked again (the symbol is
named in `wanted` again and the next read starts a new fetch).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from streamer.records import Item, Millis
from streamer.retry import Sleep
from streamer.sources.attempts import AttemptWindow
from streamer.sources.base import Clock, Emit, FeedStats
from streamer.sources.depth_diff import DepthBooks
from streamer.sources.rest import RestClient
from streamer.venues.binance.decode import native_symbol

log = logging.getLogger(__name__)

SNAPSHOT_LEVELS = 5000  # the most `GET /api/v3/depth` gives (weight 250)
SNAPSHOTS_PER_MINUTE = 12
SPOT_DEPTH = "/api/v3/depth"


class SnapshotDecoder(Protocol):
    """A decoder keeping full books (Spot's, USD-M's): its books and how it takes an answer."""

    @property
    def books(self) -> DepthBooks | None: ...

    def depth_snapshot(self, symbol: str, body: bytes, received_at: Millis) -> list[Item]: ...


class DepthSnapshots:
    """Spot's by default; USD-M passes its `path`, `levels`, pace and `native` names."""

    def __init__(
        self,
        decoder: SnapshotDecoder,
        rest: RestClient,
        fetches: asyncio.Semaphore,
        stats: FeedStats,
        *,
        clock: Clock,
        sleep: Sleep = asyncio.sleep,
        per_minute: int = SNAPSHOTS_PER_MINUTE,
        monotonic: Callable[[], float] | None = None,
        path: str = SPOT_DEPTH,
        levels: int = SNAPSHOT_LEVELS,
        native: Callable[[str], str] = native_symbol,
    ) -> None:
        assert decoder.books is not None
        self.books = decoder.books
        self.decoder = decoder
        self.rest = rest
        self.fetches = fetches
        self.stats = stats
        self.clock = clock
        self.sleep = sleep
        self.pace = AttemptWindow(per_minute, 60.0)
        self.monotonic = monotonic
        self.path, self.levels, self.native = path, levels, native
        self.group: asyncio.TaskGroup | None = None  # set while the source runs
        self.running: set[str] = set()

    @property
    def pending(self) -> int:
        return len(self.running | set(self.books.wanted))

    def take(self, emit: Emit) -> None:
        """Start a fetch for every symbol that wants a snapshot (none running for it)."""
        if self.group is None:
            return
        wanted = self.books.wanted
        for symbol in wanted:
            if symbol not in self.running:
                self.running.add(symbol)
                self.group.create_task(self._fetch(symbol, emit))
        wanted.clear()

    async def _fetch(self, symbol: str, emit: Emit) -> None:
        now = self.monotonic or asyncio.get_running_loop().time
        try:
            wait = self.pace.reserve(now())
            if wait > 0:
                log.info("%s.depth_snapshot_paced symbol=%s seconds=%.1f", self.books.exchange,
                         symbol, wait)  # fmt: skip
                await self.sleep(wait)
            params = {"symbol": self.native(symbol), "limit": str(self.levels)}
            async with self.fetches:
                body = await self.rest.get(self.path, params)
            self.stats.extra["depth_snapshots"] += 1
            rows = self.decoder.depth_snapshot(symbol, body, Millis(self.clock()))
            if rows:
                await emit(rows)
        finally:
            self.running.discard(symbol)
        if self.books.wanted:  # asked again (too old, a break while applying the buffer)
            self.take(emit)
