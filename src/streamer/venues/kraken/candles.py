"""Which closed `ohlc` rows of a read to publish, and which holes to fetch (pure).

The `ohlc` channel's closed candles (final once a later one begins) pass through the source's
`CandleLedger`: a candle published before (a snapshot's repeat after a reconnect, a REST
backfill that got there first) is dropped and counted as `duplicate_candles`; a jump in a
symbol's open times is a hole for the `Backfiller`.
"""

from __future__ import annotations

from streamer.records import Candle, Item
from streamer.sources.base import FeedStats
from streamer.sources.candles import CandleLedger, Gap


def admit_closed(
    ledger: CandleLedger, items: list[Item], stats: FeedStats
) -> tuple[list[Item], list[Gap]]:
    """(the rows to publish, the holes to fetch)."""
    if Candle not in map(type, items):  # most reads: trades, books, tickers
        return items, []
    out: list[Item] = []
    gaps: list[Gap] = []
    for item in items:
        if type(item) is Candle and item.is_closed:
            fresh, gap = ledger.admit(item.symbol, item.open_time)
            if gap is not None:
                gaps.append(gap)
            if not fresh:
                stats.extra["duplicate_candles"] += 1
                continue
        out.append(item)
    return out, gaps
