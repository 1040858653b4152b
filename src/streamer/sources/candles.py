"""Closed candles without holes or duplicates (pure).

`CandleLedger` remembers, per symbol, which closed candles were published (by open time) and
the newest one. The shell asks it two questions: is this candle new (`admit`, which also says
whether a gap opened before it), and what range to fetch from REST after a reconnect or a gap
(`missing_after`). Candles are identified by (exchange, symbol, interval, open_time); one
ledger serves one exchange and one interval.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from streamer.records import Candle, Item, Reject
from streamer.sources.base import FeedStats

INTERVAL_MS = {
    "1s": 1_000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000,
    "30m": 1_800_000, "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000,
    "8h": 28_800_000, "12h": 43_200_000, "1d": 86_400_000, "3d": 259_200_000,
    "1w": 604_800_000,
}  # fmt: skip
"""Fixed-length intervals; `1M` (calendar month) has no fixed length and is not backfilled."""


@dataclass(frozen=True, slots=True)
class Gap:
    symbol: str
    start: int  # open time of the first missing candle
    end: int  # open time of the last missing candle (inclusive)


class CandleLedger:
    """Published closed candles per symbol, bounded to the newest `keep` open times."""

    def __init__(self, interval_ms: int, keep: int = 10_000) -> None:
        self.interval_ms = interval_ms
        self.keep = keep
        self._seen: dict[str, set[int]] = {}
        self._order: dict[str, deque[int]] = {}
        self.newest: dict[str, int] = {}

    def admit(self, symbol: str, open_time: int) -> tuple[bool, Gap | None]:
        """(publish it?, the gap before it if one opened). A repeat is not published."""
        seen = self._seen.setdefault(symbol, set())
        if open_time in seen:
            return False, None
        gap = None
        newest = self.newest.get(symbol)
        if newest is not None and open_time > newest + self.interval_ms:
            gap = Gap(symbol, newest + self.interval_ms, open_time - self.interval_ms)
        seen.add(open_time)
        order = self._order.setdefault(symbol, deque())
        order.append(open_time)
        if len(order) > self.keep:
            seen.discard(order.popleft())
        if newest is None or open_time > newest:
            self.newest[symbol] = open_time
        return True, gap

    def unseen(self, gap: Gap) -> Gap | None:
        """`gap` narrowed to its first and last candle not published yet; None if none is left
        (an earlier fetch, or the stream, filled it while this one waited its turn)."""
        missing = self.absent(gap)
        return Gap(gap.symbol, missing[0], missing[-1]) if missing else None

    def absent(self, gap: Gap) -> list[int]:
        """The open times of `gap` not published."""
        seen = self._seen.get(gap.symbol, set())
        return [t for t in range(gap.start, gap.end + 1, self.interval_ms) if t not in seen]

    def seed(self, symbol: str, open_time: int) -> None:
        """Resume after a restart: candles up to `open_time` were written by the process
        before, so the first fetch after connecting starts after it."""
        if symbol not in self.newest:
            self.newest[symbol] = open_time

    def missing_after(self, symbol: str, now: int) -> Gap | None:
        """Candles that closed after the newest one published, up to `now` (after a drop)."""
        newest = self.newest.get(symbol)
        if newest is None:
            return None
        first = newest + self.interval_ms
        last_closed = (now // self.interval_ms) * self.interval_ms - self.interval_ms
        return Gap(symbol, first, last_closed) if last_closed >= first else None

    def missing(self, symbols: Iterable[str], now: int) -> list[Gap]:
        """`missing_after` for each of `symbols` that has a hole (what to fetch after a drop)."""
        gaps = (self.missing_after(symbol, now) for symbol in symbols)
        return [gap for gap in gaps if gap is not None]


def admit_candles(
    ledger: CandleLedger, items: list[Item], stats: FeedStats
) -> tuple[list[Item], list[Gap]]:
    """(the rows to publish, the holes to fetch): a closed candle already published is dropped
    (counted as `duplicate_candles`); a jump in a symbol's open times is a hole."""
    out: list[Item] = []
    gaps: list[Gap] = []
    if Candle not in map(type, items):  # a read of trades and books: nothing to decide
        return items, gaps
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


class RecentIds:
    """The newest `keep` record ids, to drop rows two overlapping connections both deliver."""

    def __init__(self, keep: int = 200_000) -> None:
        self.keep = keep
        self._ids: dict[str, None] = {}

    def fresh(self, rid: str) -> bool:
        if rid in self._ids:
            return False
        self._ids[rid] = None
        if len(self._ids) > self.keep:
            del self._ids[next(iter(self._ids))]
        return True

    def fresh_items(self, items: list[Item]) -> list[Item]:
        """The rows of `items` not seen before (rejects always pass)."""
        return [i for i in items if isinstance(i, Reject) or self.fresh(i.record_id)]
