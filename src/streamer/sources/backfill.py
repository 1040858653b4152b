"""The shell around `CandleLedger` both exchanges share: fill candle holes from REST.

Each gap is fetched in a background task of the source's TaskGroup, one fetch at a time per
symbol and at most `MAX_FETCHES` at a time in all (after a network cut hundreds of symbols
have a hole at once: they queue here instead of storming the venue's REST limit); the source
passes the same semaphore to its trade backfills and book snapshots (`fetches`), so the cap is
one for all its REST work. A gap is narrowed to the candles still missing when its turn comes
(a reconnect and the stream's first candle after it often report the same hole), and skipped
if none is. Of what comes back, only candles the ledger has not published yet are emitted.
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

    def later(self, gap: Gap, emit: Emit) -> None:
        if self.group is not None:
            self.pending += 1
            self.group.create_task(self._fill(gap, emit))

    async def _fill(self, gap: Gap, emit: Emit) -> None:
        try:
            async with self._locks.setdefault(gap.symbol, asyncio.Lock()):
                wanted = self.ledger.unseen(gap)
                if wanted is None:
                    log.debug("%s.backfill_filled symbol=%s from=%d to=%d", self.source,
                              gap.symbol, gap.start, gap.end)  # fmt: skip
                    return
                gap = wanted
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
        finally:
            self.pending -= 1
