"""Binance USD-M's settled funding rates (`funding_rates`): a backfill at start, then each
newly settled rate once its funding time has passed.

Settled rates only: the predicted rate of the mark-price stream is `derivative_tickers`'.
`GET /fapi/v1/fundingRate?symbol=&startTime=&limit=1000` (oldest first) gives them; it and
`fundingInfo` share a limit of their own (`usdm_polls.FUNDING_PACE`), so every request here is
paced within it, and goes through the source's `UsdmRest` like every poll (`usdm_polls.fetch`).

* Start (and a perpetual added by rediscovery): `funding_lookback_hours` back, page by page
  (0: none).
* Then per perpetual (`FundingTracks`, pure): the next funding is expected one interval
  (`fundingInfo`, default 8 h) after the newest one handed on, and asked `settle_seconds` after
  it; an answer without it is asked again every `retry_seconds`, for at most `patience_seconds`
  (`<venue>.funding_late`, counted as `funding_late`), after which the one after it is waited
  for. Every ask starts after the newest funding handed on, so a late rate still arrives with
  the next one and none is handed on twice in one process (its `record_id` is the symbol and
  the funding time, so a repeat across processes de-duplicates as well).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from streamer.records import FundingRate, Item, Millis
from streamer.retry import Sleep
from streamer.sources.attempts import AttemptWindow
from streamer.sources.base import Clock, Emit, FeedStats
from streamer.sources.rest import RestClient
from streamer.venues.binance.usdm_client import FUNDING_RATE
from streamer.venues.binance.usdm_polls import (
    FundingIntervals,
    Monotonic,
    Symbols,
    fetch,
    paced,
    publish,
)
from streamer.venues.binance.usdm_rest import DEFAULT_FUNDING_HOURS, funding_rates
from streamer.venues.binance.usdm_streams import EXCHANGE_USDM, PERP, native_symbol

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000
PAGE = 1000  # `fundingRate`'s largest `limit`
SETTLE_SECONDS = 5.0  # after a funding time, before its rate is asked
RETRY_SECONDS = 15.0
PATIENCE_SECONDS = 900.0
NAP_SECONDS = 10.0
"""The longest wait between looks at the clock and the selection (a perpetual added by
rediscovery is backfilled within it)."""


def next_funding(now: int, hours: int) -> int:
    """The first funding time after `now` on a schedule of `hours` from midnight UTC."""
    interval = hours * HOUR_MS
    return now - now % interval + interval


@dataclass(slots=True)
class Track:
    seen: int  # the newest funding time handed on (or, with none, the last one before start)
    hours: int
    expected: int  # the funding time waited for
    ask_at: int  # when to ask next (epoch ms)


class FundingTracks:
    """When to ask each perpetual's settled rate, and which rows of an answer are new (pure:
    times are epoch ms passed in)."""

    def __init__(self, settle_ms: int, retry_ms: int, patience_ms: int) -> None:
        self.settle_ms, self.retry_ms, self.patience_ms = settle_ms, retry_ms, patience_ms
        self.tracks: dict[str, Track] = {}
        self.late: list[tuple[str, int]] = []  # (symbol, funding time) given up, for the shell

    def add(self, symbol: str, newest: int | None, hours: int, now: int) -> None:
        """Track `symbol` from its newest funding fetched (None: the one before `now`)."""
        interval = hours * HOUR_MS
        seen = now - now % interval if newest is None else newest
        expected = seen + interval
        if expected + self.patience_ms < now:  # long overdue: none is pending, wait the next
            expected = next_funding(now, hours)
        self.tracks[symbol] = Track(seen, hours, expected, expected + self.settle_ms)

    def drop(self, symbols: Iterable[str]) -> None:
        for symbol in symbols:
            self.tracks.pop(symbol, None)

    def due(self, now: int) -> list[str]:
        return [symbol for symbol, track in self.tracks.items() if track.ask_at <= now]

    def next_ask(self) -> int | None:
        return min((track.ask_at for track in self.tracks.values()), default=None)

    def answered(self, symbol: str, rows: list[Item], hours: int, now: int) -> list[Item]:
        """The rows of an answer to hand on (rejects, and fundings newer than any handed on),
        and when to ask next: after the next funding, or again soon if the expected one is
        not there yet (for at most the patience, then the one after it is waited for)."""
        track = self.tracks[symbol]
        track.hours = hours
        fresh = [r for r in rows if type(r) is not FundingRate or r.event_time > track.seen]
        times = [r.event_time for r in fresh if type(r) is FundingRate]
        if times:
            track.seen = max(times)
        interval = hours * HOUR_MS
        if track.seen >= track.expected - interval // 2:  # settled (times may be a few ms off)
            track.expected = track.seen + interval
            track.ask_at = track.expected + self.settle_ms
        elif now - track.expected >= self.patience_ms:
            self.late.append((symbol, track.expected))
            track.expected += interval
            track.ask_at = track.expected + self.settle_ms
        else:
            track.ask_at = now + self.retry_ms
        return fresh

    def failed(self, symbol: str, now: int) -> None:
        """The ask failed (counted by the poll): ask again after the retry wait."""
        self.tracks[symbol].ask_at = now + self.retry_ms


class FundingSettlements:
    """The `funding_rates` rows of the selected perpetuals (see the module docstring)."""

    def __init__(
        self,
        rest: RestClient,
        symbols: Symbols,
        intervals: FundingIntervals,
        pace: AttemptWindow,
        lookback_hours: float,
        stats: FeedStats,
        *,
        clock: Clock,
        sleep: Sleep = asyncio.sleep,
        monotonic: Monotonic | None = None,
        settle_seconds: float = SETTLE_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
        patience_seconds: float = PATIENCE_SECONDS,
        nap_seconds: float = NAP_SECONDS,
    ) -> None:
        self.rest = rest
        self.symbols = symbols
        self.intervals = intervals
        self.pace = pace
        self.lookback_ms = round(lookback_hours * HOUR_MS)
        self.stats = stats
        self.clock = clock
        self.sleep = sleep
        self.monotonic = monotonic
        self.nap = nap_seconds
        self.tracks = FundingTracks(round(settle_seconds * 1000), round(retry_seconds * 1000),
                                    round(patience_seconds * 1000))  # fmt: skip

    async def run(self, emit: Emit) -> None:
        """Backfill, then follow every funding until cancelled."""
        while True:
            await self._follow(emit)
            for symbol in self.tracks.due(self.clock()):
                await self._ask(symbol, emit)
            for symbol, funding_time in self.tracks.late:
                self.stats.extra["funding_late"] += 1
                log.warning("%s.funding_late symbol=%s funding_time=%d (not published yet; "
                            "waiting for the next)", EXCHANGE_USDM, symbol,
                            funding_time)  # fmt: skip
            self.tracks.late.clear()
            ask = self.tracks.next_ask()
            wait = self.nap if ask is None else (ask - self.clock()) / 1000
            await self.sleep(min(max(wait, 0.0), self.nap))

    def _hours(self, hours: dict[str, int], symbol: str) -> int:
        return hours.get(native_symbol(symbol), DEFAULT_FUNDING_HOURS)

    async def _follow(self, emit: Emit) -> None:
        """Backfill the perpetuals newly selected; forget the ones dropped."""
        selected = [s for s in self.symbols() if s.endswith(f"-{PERP}")]
        tracks = self.tracks.tracks
        self.tracks.drop([s for s in tracks if s not in set(selected)])
        new = [s for s in selected if s not in tracks]
        if not new:
            return
        hours = await self.intervals.get(emit)
        for symbol in new:
            newest = await self._backfill(symbol, self._hours(hours, symbol), emit)
            self.tracks.add(symbol, newest, self._hours(hours, symbol), self.clock())

    async def _backfill(self, symbol: str, hours: int, emit: Emit) -> int | None:
        """The settled fundings of the lookback, page by page; the newest funding time."""
        if self.lookback_ms <= 0:
            return None
        start, newest = self.clock() - self.lookback_ms, None
        while True:
            rows = await self._get(symbol, start, hours, emit)
            if rows is None:
                return newest
            times = [r.event_time for r in rows if type(r) is FundingRate]
            if times:
                newest = max(times)
                start = newest + 1
            self.stats.extra["funding_backfilled"] += len(times)
            if len(times) < PAGE:
                return newest

    async def _ask(self, symbol: str, emit: Emit) -> None:
        track = self.tracks.tracks[symbol]
        hours = self._hours(await self.intervals.get(emit), symbol)
        rows = await self._get(symbol, track.seen + 1, hours, None)
        if rows is None:
            self.tracks.failed(symbol, self.clock())
            return
        fresh = self.tracks.answered(symbol, rows, hours, self.clock())
        await publish(fresh, Millis(self.clock()), self.stats, emit)

    async def _get(
        self, symbol: str, start: int, hours: int, emit: Emit | None
    ) -> list[Item] | None:
        """One page from `start` on (the rows handed on at once when `emit` is given)."""
        await paced(self.pace, self.monotonic or asyncio.get_running_loop().time, self.sleep)
        params = {"symbol": native_symbol(symbol), "startTime": str(start), "limit": str(PAGE)}
        body = await fetch(self.rest, FUNDING_RATE, params, self.stats)
        if body is None:
            return None
        received_at = self.clock()
        rows = funding_rates(body, symbol, received_at, hours)
        if emit is not None:
            await publish(rows, received_at, self.stats, emit)
        return rows
