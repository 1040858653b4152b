"""Candle holes are fetched at most a few at a time, whatever the number of symbols with one,
and a hole already filled while it waited is not fetched again."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from streamer.records import Candle, Dec, Item, Millis
from streamer.sources.backfill import Backfiller
from streamer.sources.base import FeedStats
from streamer.sources.candles import CandleLedger, Gap

MINUTE = 60_000


def candle(symbol: str, open_time: int) -> Candle:
    t, one = Millis(open_time), Dec("1")
    close = Millis(open_time + MINUTE - 1)
    return Candle("binance", symbol, t, t, "1m", t, close, one, one, one, one, one, None, None,
                  True, "rest", f"{symbol}{open_time}")  # fmt: skip


async def test_a_storm_of_holes_is_fetched_a_few_at_a_time() -> None:
    running = 0
    most = 0

    async def fetch(gap: Gap) -> list[Item]:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.005)
        running -= 1
        return [candle(gap.symbol, gap.start)]

    published: list[Item] = []

    async def emit(items: Sequence[Item]) -> None:
        published.extend(items)

    stats = FeedStats()
    backfill = Backfiller(
        "binance", CandleLedger(MINUTE), stats, fetch, fetches=asyncio.Semaphore(3)
    )
    async with asyncio.TaskGroup() as group:
        backfill.group = group
        for i in range(60):
            backfill.later(Gap(f"S{i}-USDT", MINUTE, MINUTE), emit)
    assert most == 3
    assert len(published) == 60 and stats.backfilled == 60 and backfill.pending == 0


async def test_a_hole_filled_while_it_waited_is_narrowed_or_not_fetched_again() -> None:
    asked: list[Gap] = []

    async def fetch(gap: Gap) -> list[Item]:
        asked.append(gap)
        return [candle(gap.symbol, t) for t in range(gap.start, gap.end + 1, MINUTE)]

    async def emit(items: Sequence[Item]) -> None:
        pass

    ledger = CandleLedger(MINUTE)
    ledger.admit("S-USDT", 5 * MINUTE)  # the stream already had minute 5
    backfill = Backfiller("binance", ledger, FeedStats(), fetch)
    async with asyncio.TaskGroup() as group:
        backfill.group = group
        backfill.later(Gap("S-USDT", MINUTE, 5 * MINUTE), emit)  # after a reconnect
        backfill.later(Gap("S-USDT", MINUTE, 4 * MINUTE), emit)  # the stream's jump to 5
        backfill.later(Gap("S-USDT", 3 * MINUTE, 6 * MINUTE), emit)  # only 6 is left by then
    assert asked == [Gap("S-USDT", MINUTE, 4 * MINUTE), Gap("S-USDT", 6 * MINUTE, 6 * MINUTE)]
    assert backfill.pending == 0
