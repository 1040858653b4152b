"""Binance USD-M's `instruments` rows: one per selected contract at start, and a new one whenever
a contract's listing changes (status, tick or lot size, funding interval...).

`GET /fapi/v1/exchangeInfo` (weight 1) is asked every `every` seconds (the rediscovery period,
or `INSTRUMENTS_SECONDS`), and at the next look (`NAP_SECONDS`) after the selection gained a
contract without a row; its rows (with `fundingInfo`'s intervals) are compared with the last
row written per contract by `record_id`, which is derived from the listed values and not the
observation time (`usdm_rest.instrument_row`), so an unchanged listing writes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping

from streamer.records import Instrument, Item
from streamer.retry import Sleep
from streamer.sources.base import Clock, Emit, FeedStats
from streamer.sources.rest import RestClient
from streamer.venues.binance.usdm_client import EXCHANGE_INFO
from streamer.venues.binance.usdm_polls import FundingIntervals, Monotonic, Symbols, fetch, publish
from streamer.venues.binance.usdm_rest import instruments
from streamer.venues.binance.usdm_streams import EXCHANGE_USDM

log = logging.getLogger(__name__)

INSTRUMENTS_SECONDS = 3600.0  # between looks at the listing, without a rediscovery period
NAP_SECONDS = 10.0  # between looks at the selection (a new contract's row within it)


def changed(
    rows: Iterable[Item], selected: Iterable[str], written: Mapping[str, str]
) -> list[Item]:
    """The rows of `rows` to write: rejects, and the row of each selected contract whose
    `record_id` differs from the one last written for it (or that has none)."""
    wanted = set(selected)
    return [
        row
        for row in rows
        if type(row) is not Instrument
        or (row.symbol in wanted and written.get(row.symbol) != row.record_id)
    ]


class InstrumentWatch:
    def __init__(
        self,
        rest: RestClient,
        symbols: Symbols,
        intervals: FundingIntervals,
        every: float,
        stats: FeedStats,
        *,
        clock: Clock,
        sleep: Sleep = asyncio.sleep,
        monotonic: Monotonic | None = None,
        nap_seconds: float = NAP_SECONDS,
    ) -> None:
        self.rest = rest
        self.symbols = symbols
        self.intervals = intervals
        self.every = every
        self.stats = stats
        self.clock = clock
        self.sleep = sleep
        self.monotonic = monotonic
        self.nap = nap_seconds
        self.written: dict[str, str] = {}  # contract -> the record_id of its last row

    async def run(self, emit: Emit) -> None:
        """Look until cancelled."""
        now = self.monotonic or asyncio.get_running_loop().time
        looked: float | None = None
        asked: set[str] = set()  # the selection at the last look
        while True:
            symbols = set(self.symbols())
            for gone in set(self.written) - symbols:
                del self.written[gone]  # dropped: written again if it comes back
            if looked is None or now() - looked >= self.every or symbols - asked:
                looked, asked = now(), symbols
                await self.check(emit)
            await self.sleep(min(self.nap, max(0.0, looked + self.every - now())))

    async def check(self, emit: Emit) -> None:
        """Ask the listing once; write the rows that changed."""
        body = await fetch(self.rest, EXCHANGE_INFO, {}, self.stats)
        if body is None:
            return
        hours = await self.intervals.get(emit)
        received_at = self.clock()
        rows = changed(instruments(body, received_at, hours), self.symbols(), self.written)
        for row in rows:
            if type(row) is Instrument:
                if row.symbol in self.written:
                    self.stats.extra["instruments_changed"] += 1
                    log.info("%s.instrument_changed symbol=%s status=%s tick=%s lot=%s",
                             EXCHANGE_USDM, row.symbol, row.status, row.tick_size,
                             row.lot_size)  # fmt: skip
                self.written[row.symbol] = row.record_id
        await publish(rows, received_at, self.stats, emit)
