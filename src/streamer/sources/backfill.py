"""The shell around `CandleLedger` both exchanges share: fill candle holes from REST.

Each gap is fetched in a background task of the source's TaskGroup, one fetch at a time per
symbol and at most `MAX_FETCHES` at a time in all (after a network cut hundreds of symbols
have a hole at once: they queue here instead of storming the venue's REST limit); the source
passes the same semaphore to its trade backfills and book snapshots (`fetches`), so the cap is
one for all its REST work. A gap is narrowed to the candles still missing when its turn comes
(a reconnect and the stream's first candle after it often report the same hole), and skipped
if none is. Of what comes back, only candles the ledger has not published yet are emitted;
candles still missing after the fetch are written to `quality` as unrecoverable. A gap stays
`inflight` until its candles are queued, so a checkpoint never passes it (`positions`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from streamer.records import Candle, Item
from streamer.sources.base import Emit, FeedStats
from streamer.sources.candles import CandleLedger, Gap

log = logging.getLogger(__name__)

Fetch = Callable[[Gap], Awaitable[list[Item]]]
MAX_FETCHES = 4


class Backfiller:
    def __init__(
        self,
        source: str,
        ledger: CandleLedger,
        stats: FeedStats,
        fetch: Fetch,
        *,
        fetches: asyncio.Semaphore | None = None,
    ) -> None:
        self.source = source
        self._fetches = asyncio.Semaphore(MAX_FETCHES) if fetches is None else fetches
        self.ledger = ledger
        self.stats = stats
        self.fetch = fetch
        self.pending = 0
        self.group: asyncio.TaskGroup | None = None  # set while the source runs
        self._locks: dict[str, asyncio.Lock] = {}
        self.inflight: dict[str, list[Gap]] = {}
        """Each symbol's gaps waiting or being fetched (until their candles are queued)."""

    def later(self, gap: Gap, emit: Emit) -> None:
        if self.group is not None:
            self.pending += 1
            self.inflight.setdefault(gap.symbol, []).append(gap)
            self.group.create_task(self._fill(gap, emit))

    async def _fill(self, gap: Gap, emit: Emit) -> None:
        asked = gap
        try:
            async with self._locks.setdefault(gap.symbol, asyncio.Lock()):
                wanted = self.ledger.unseen(gap)
                if wanted is None:
                    log.debug("%s.backfill_filled symbol=%s from=%d to=%d", self.source,
                              gap.symbol, gap.start, gap.end)  # fmt: skip
                    return
                gap = wanted
                quality = self.stats.quality
                quality.gap(gap.symbol, gap.start, gap.end, "ohlcv")
                async with self._fetches:
                    items = await self.fetch(gap)
                publish: list[Item] = []
                for item in items:
                    if type(item) is Candle:
                        fresh, _ = self.ledger.admit(item.symbol, item.open_time)
                        if not fresh:
                            continue
                        self.stats.backfilled += 1
                    publish.append(item)
                log.info(
                    "%s.backfill symbol=%s from=%d to=%d fetched=%d published=%d",
                    self.source, gap.symbol, gap.start, gap.end, len(items), len(publish),
                )  # fmt: skip
                if publish:
                    await emit(publish)
                quality.backfilled(gap.symbol, len(publish), "ohlcv")
                self._unserved(gap)
        finally:
            self.pending -= 1
            gaps = self.inflight.get(asked.symbol, [])
            if asked in gaps:
                gaps.remove(asked)
            if not gaps:
                self.inflight.pop(asked.symbol, None)

    def _unserved(self, gap: Gap) -> None:
        """Candles of `gap` still unpublished after the fetch: counted, logged, and
        unrecoverable in `quality` (as ranges of open times)."""
        step = self.ledger.interval_ms
        ranges: list[list[int]] = []
        for open_time in self.ledger.absent(gap):
            if ranges and open_time == ranges[-1][1] + step:
                ranges[-1][1] = open_time
            else:
                ranges.append([open_time, open_time])
        for first, last in ranges:
            self.stats.extra["candles_unserved"] += (last - first) // step + 1
            self.stats.quality.unrecoverable(
                gap.symbol, first, last, "not in the venue's history", "ohlcv"
            )
            log.warning("%s.backfill_unserved symbol=%s from=%d to=%d", self.source, gap.symbol,
                        first, last)  # fmt: skip
