"""The shell both exchanges share: fill the trade holes `TradeGaps` found, from REST.

A symbol with holes gets one task in the source's TaskGroup, so there is one fetch at a time
per symbol. The task waits `SETTLE_SECONDS` (frames that were only late shrink the holes
meanwhile), claims the symbol's holes, fetches them under the source's REST cap (the semaphore
the candle backfills use too: at most `backfill.MAX_FETCHES` fetches at a time in all, and the
venue client keeps the request weight), publishes the fetched trades that fall in a hole, and
goes on while new holes appeared. A fetched trade has the `record_id` its live row would have
had, so a trade that arrived both ways is one trade after de-duplication.

Nothing is skipped silently: ids the venue no longer serves are logged
(`<venue>.trade_hole_unserved`) and counted in `FeedStats.extra` (`trade_ids_unserved`,
`trade_holes_unserved`), and so are holes still open when the source stops
(`<venue>.trade_hole_abandoned`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from streamer.records import Item, Trade
from streamer.retry import Sleep
from streamer.sources.base import Emit, FeedStats
from streamer.sources.trade_gaps import Hole, TradeGaps

log = logging.getLogger(__name__)

Fetch = Callable[[str, list[Hole]], Awaitable[list[Item]]]
"""(symbol, holes) -> the venue's trades around them (rejects for answers that do not parse)."""
SETTLE_SECONDS = 1.0
FILL_TIMES_KEPT = 10_000


class TradeBackfiller:
    def __init__(
        self,
        source: str,
        gaps: TradeGaps,
        stats: FeedStats,
        fetch: Fetch,
        fetches: asyncio.Semaphore,
        *,
        settle: float = SETTLE_SECONDS,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.source = source
        self.gaps = gaps
        self.stats = stats
        self.fetch = fetch
        self.fetches = fetches
        self.settle = settle
        self.sleep = sleep
        self.group: asyncio.TaskGroup | None = None  # set while the source runs
        self.running: set[str] = set()  # symbols with a fill task
        self.fill_ms: list[int] = []
        """Real milliseconds from a hole's task starting to its trades being published."""

    @property
    def pending(self) -> int:
        """Symbols with a fill task or an open hole."""
        waiting = {s for s, track in self.gaps.tracks.items() if track.holes or track.fetching}
        return len(self.running | waiting)

    def take(self, emit: Emit) -> None:
        """Start a fill task for every symbol with new holes (the shell calls this after a read
        when `gaps.found` is not empty)."""
        gaps = self.gaps
        if gaps.opened:
            quality = self.stats.quality
            for hole in gaps.opened:
                quality.gap(hole.symbol, hole.first, hole.last)
            gaps.opened.clear()
        if gaps.lost:
            for hole in gaps.lost:
                self._unserved(hole, [(hole.first, hole.last)], "too many open holes")
            gaps.lost.clear()
        if self.group is None:
            return  # not running: the holes stay open and are reported when the source stops
        for symbol in gaps.found:
            if symbol not in self.running:
                self.running.add(symbol)
                self.group.create_task(self._fill(symbol, emit))
        gaps.found.clear()

    async def _fill(self, symbol: str, emit: Emit) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await self.sleep(self.settle)
            while holes := self.gaps.claim(symbol):
                async with self.fetches:
                    items = await self.fetch(symbol, holes)
                publish = self._in_holes(items, holes)
                if publish:
                    await emit(publish)
                # Done only once its trades are queued: until then a checkpoint stays before
                # the hole (`Feed.positions`), so a kill meanwhile leaves it for the next start.
                self.gaps.done(symbol, holes)
                self.fill_ms.append(round((loop.time() - started) * 1000))
                del self.fill_ms[:-FILL_TIMES_KEPT]
        except asyncio.CancelledError:
            for hole in self.gaps.open_holes(symbol):
                self.stats.extra["trade_holes_abandoned"] += 1
                log.warning("%s.trade_hole_abandoned symbol=%s first=%d last=%d missing=%d "
                            "(stopped before it was filled)", self.source, symbol, hole.first,
                            hole.last, hole.size)  # fmt: skip
            raise
        finally:
            self.running.discard(symbol)

    def _in_holes(self, items: list[Item], holes: list[Hole]) -> list[Item]:
        """The fetched trades inside `holes` (each once) and any rejects; counts what is left."""
        wanted = {hole.first: hole for hole in holes}
        bounds = sorted((hole.first, hole.last) for hole in holes)
        found: dict[int, Item] = {}
        rejects: list[Item] = []
        for item in items:
            if type(item) is not Trade:
                rejects.append(item)
                continue
            trade_id = int(item.trade_id)
            if trade_id not in found and any(lo <= trade_id <= hi for lo, hi in bounds):
                found[trade_id] = item
        for first, last in bounds:
            absent = _absent(found, first, last)
            if absent:
                self._unserved(wanted[first], absent, "not in the venue's history")
        stats = self.stats
        stats.quality.backfilled(holes[0].symbol, len(found))
        stats.backfilled += len(found)
        stats.extra["trades_backfilled"] += len(found)
        stats.extra["trade_holes_filled"] += len(holes)
        log.info("%s.trade_backfill symbol=%s holes=%d ids=%d fetched=%d published=%d",
                 self.source, holes[0].symbol, len(holes), sum(h.size for h in holes),
                 len(items), len(found))  # fmt: skip
        return [*rejects, *(found[trade_id] for trade_id in sorted(found))]

    def _unserved(self, hole: Hole, absent: list[tuple[int, int]], why: str) -> None:
        """The ids `absent` (ranges within `hole`) are not to be had: counted, logged, and
        written to `quality` as unrecoverable with `why`."""
        missing = sum(last - first + 1 for first, last in absent)
        self.stats.extra["trade_ids_unserved"] += missing
        self.stats.extra["trade_holes_unserved"] += 1
        for first, last in absent:
            self.stats.quality.unrecoverable(hole.symbol, first, last, why)
        log.warning("%s.trade_hole_unserved symbol=%s first=%d last=%d missing=%d reason=%s",
                    self.source, hole.symbol, hole.first, hole.last, missing, why)  # fmt: skip


def _absent(found: dict[int, Item], first: int, last: int) -> list[tuple[int, int]]:
    """The ranges of ids `first`..`last` not in `found`."""
    ranges: list[tuple[int, int]] = []
    start = None
    for trade_id in range(first, last + 2):
        if trade_id <= last and trade_id not in found:
            if start is None:
                start = trade_id
        elif start is not None:
            ranges.append((start, trade_id - 1))
            start = None
    return ranges
