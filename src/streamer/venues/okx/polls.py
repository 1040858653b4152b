"""OKX's REST-driven work beside the connections, each on the source's one `OkxRest`:

* `BookSnapshots`: the `market/books` snapshots the books ask for (`depth_diff.DepthBooks.wanted`),
  one fetch per symbol at a time, under the source's REST cap; a snapshot too old for the
  buffer, or an answer that does not parse, is asked again.
* `FundingHistory`: settled funding rates (`public/funding-rate-history`, the `realizedRate`)
  of each selected swap: at start those of the last `lookback_hours`, then every
  `every` seconds the ones settled since. The `funding-rate` channel gives only the predicted
  rate (`derivative_tickers`); the two are never mixed.
* `InstrumentWatch`: the selected symbols' `instruments` rows at start and whenever a listed
  value changes (looked at every `every` seconds).

Open interest needs no poll: the `open-interest` channel pushes it (every 3 s when it changes).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from streamer.errors import SourceError
from streamer.logsafe import shown
from streamer.records import Item, Millis
from streamer.retry import GaveUp, Sleep
from streamer.sources.base import FRAME_FAILURES, Clock, Emit, FeedStats, reason_for
from streamer.sources.base import reject as make_reject
from streamer.sources.depth_diff import DepthBooks
from streamer.sources.rest import poll_stop
from streamer.venues.okx.decode import OkxDecoder, rest_data
from streamer.venues.okx.rest import BOOK_LEVELS, BOOKS, FUNDING_HISTORY, OkxRest, instruments
from streamer.venues.okx.rows import funding_rows
from streamer.venues.okx.symbols import EXCHANGE, inst_id, is_perpetual

log = logging.getLogger(__name__)

INSTRUMENTS_SECONDS = 3600.0
Selected = Callable[[], tuple[str, ...]]


class BookSnapshots:
    def __init__(
        self, decoder: OkxDecoder, rest: OkxRest, fetches: asyncio.Semaphore, stats: FeedStats,
        *, clock: Clock,
    ) -> None:  # fmt: skip
        assert decoder.books is not None
        self.books: DepthBooks = decoder.books
        self.decoder = decoder
        self.rest = rest
        self.fetches = fetches
        self.stats = stats
        self.clock = clock
        self.group: asyncio.TaskGroup | None = None  # set while the source runs
        self.running: set[str] = set()

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
        try:
            params = {"instId": inst_id(symbol), "sz": str(BOOK_LEVELS)}
            async with self.fetches:
                body = await self.rest.get(BOOKS, params)
            self.stats.extra["depth_snapshots"] += 1
            rows = self.decoder.rest_book(symbol, body, Millis(self.clock()))
            if rows:
                await emit(rows)
        finally:
            self.running.discard(symbol)
        if self.books.wanted:  # asked again (too old, a break while applying the buffer)
            self.take(emit)


class FundingHistory:
    def __init__(
        self, rest: OkxRest, selected: Selected, lookback_hours: float, every: float,
        stats: FeedStats, *, clock: Clock, sleep: Sleep,
    ) -> None:  # fmt: skip
        self.rest = rest
        self.selected = selected
        self.lookback_ms = int(lookback_hours * 3_600_000)
        self.every = every
        self.stats = stats
        self.clock = clock
        self.sleep = sleep
        self.newest: dict[str, int] = {}  # symbol -> the newest funding time written

    async def run(self, emit: Emit) -> None:
        while True:
            for symbol in self.selected():
                if is_perpetual(symbol):
                    rows = await self.poll(symbol)
                    if rows:
                        await emit(rows)
            await self.sleep(self.every)

    async def poll(self, symbol: str) -> list[Item]:
        """The settled rates of `symbol` not written yet (or a Reject; none if REST gave up)."""
        params = {"instId": inst_id(symbol), "limit": "100"}
        try:
            body = await self.rest.get(FUNDING_HISTORY, params, stop=poll_stop(3),
                                       retry_refusals=False)  # fmt: skip
        except (GaveUp, SourceError) as exc:
            log.warning("okx.funding_poll_failed symbol=%s error=%s", symbol, shown(exc))
            return []
        now = Millis(self.clock())
        try:
            rows = funding_rows(rest_data(body, FUNDING_HISTORY), symbol, now)
        except FRAME_FAILURES as exc:
            return [make_reject(f"{EXCHANGE}:rest", reason_for(exc), body, now)]
        since = self.newest.get(symbol, now - self.lookback_ms - 1)
        fresh: list[Item] = [row for row in rows if row.event_time > since]
        if rows:
            self.newest[symbol] = max(since, rows[-1].event_time)
        self.stats.extra["funding_rates"] += len(fresh)
        return fresh


class InstrumentWatch:
    def __init__(
        self, rest: OkxRest, selected: Selected, every: float, stats: FeedStats, *, sleep: Sleep
    ) -> None:
        self.rest = rest
        self.selected = selected
        self.every = every
        self.stats = stats
        self.sleep = sleep
        self.written: dict[str, str] = {}  # symbol -> the record_id of its row written last

    async def run(self, emit: Emit) -> None:
        while True:
            try:
                rows = await instruments(self.rest, poll=True)
            except (GaveUp, SourceError, *FRAME_FAILURES) as exc:
                log.warning("okx.instruments_failed error=%s", shown(exc))
                rows = []
            wanted = set(self.selected())
            changed: list[Item] = [
                row for row in rows
                if row.symbol in wanted and self.written.get(row.symbol) != row.record_id
            ]  # fmt: skip
            for row in changed:
                self.written[row.symbol] = row.record_id  # type: ignore[union-attr]
            if changed:
                await emit(changed)
            await self.sleep(self.every)
