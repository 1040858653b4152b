"""Kraken's `book` channel kept and proven, one pair at a time (pure: no I/O, no `await`).

Each message (a snapshot, or an update of absolute quantities, `qty` 0 removing a level) is
applied whole, the book is cut to the subscribed depth (Kraken sends no removal for a level
pushed out of it), and the CRC32 of the top 10 levels (`checksum.book_checksum`) is compared
with the message's `checksum`. Only a book that passed gives rows: `book_updates` (every level
the message set, plus a 0 for each level the cut dropped, so a replay rebuilds the same book)
and the `order_books` row of its top `levels`.

A mismatch means the local book is wrong: it is dropped, counted (`book_checksum_mismatches`),
nothing of that message is published, the pair is named in `failed` for the shell to
resubscribe, and its updates are ignored (`book_updates_unsynced`) until a new snapshot.

`sequence` is the message's timestamp in epoch microseconds (Kraken numbers no book message);
`event_time` the same instant in milliseconds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from streamer.book import OrderBook
from streamer.book_updates import update_rows
from streamer.ids import record_ids
from streamer.quality import ResyncCause
from streamer.records import Dec, Item, Level, Levels, Millis, book_snapshot
from streamer.sources.base import FeedStats
from streamer.venues.kraken.checksum import LEVELS, BookChecksum
from streamer.venues.kraken.symbols import EXCHANGE

log = logging.getLogger(__name__)
_new_row = tuple.__new__
ZERO = Dec("0")


class PairBook:
    """One pair's book, whether it is synced, and its checksum (built with the pair's
    precision, `pair_decimals` and `lot_decimals`: None until `AssetPairs` says)."""

    __slots__ = ("book", "book_ids", "checksum", "synced", "update_ids")

    def __init__(self, symbol: str) -> None:
        self.book = OrderBook()
        self.synced = False
        self.checksum = BookChecksum(None, None)
        self.book_ids = record_ids(EXCHANGE, symbol, "book")
        self.update_ids = record_ids(EXCHANGE, symbol, "book_update")


class KrakenBooks:
    """Every pair's `PairBook`, and the rows their verified messages give."""

    def __init__(
        self,
        symbols: Iterable[str],
        depth: int,
        levels: int,
        stats: FeedStats,
        *,
        updates: bool = True,
    ) -> None:
        self.depth = depth
        self.levels = min(levels, depth)
        self.stats = stats
        self.updates = updates
        self.books: dict[str, PairBook] = {}
        self.failed: dict[str, None] = {}
        """Pairs whose book failed its checksum: the shell resubscribes them (ordered set)."""
        self.add(symbols)

    def add(self, symbols: Iterable[str]) -> None:
        for symbol in symbols:
            if symbol not in self.books:
                self.books[symbol] = PairBook(symbol)

    def set_precision(self, symbol: str, price_decimals: int, qty_decimals: int) -> None:
        """The pair's decimals from `AssetPairs` (`pair_decimals`, `lot_decimals`)."""
        state = self.books.get(symbol)
        if state is not None:
            state.checksum = BookChecksum(price_decimals, qty_decimals)

    def reset(self) -> None:
        """A new connection: every book waits for its snapshot."""
        for state in self.books.values():
            state.synced = False
            state.book.clear()
        self.failed.clear()

    def message(
        self, symbol: str, snapshot: bool, bids: Levels, asks: Levels, checksum: int,
        event_time: Millis, sequence: int, received_at: Millis,
    ) -> list[Item]:  # fmt: skip
        """One verified-or-not book message of `symbol` (its levels checked): its rows, or none
        (an update before the snapshot, or a checksum that failed)."""
        state = self.books[symbol]
        book = state.book
        if snapshot:
            book.replace(bids, asks)
            state.synced = True
        elif not state.synced:
            self.stats.extra["book_updates_unsynced"] += 1
            return []
        else:
            book.update(bids, asks)
        dropped_bids, dropped_asks = book.truncate(self.depth)
        top_bids, top_asks = book.top(max(self.levels, LEVELS))
        ours = state.checksum(top_bids, top_asks)
        if ours != checksum:
            self._fail(symbol, state, checksum, ours)
            return []
        rows: list[Item] = []
        if self.updates:
            rows += update_rows(EXCHANGE, symbol, event_time, received_at, sequence,
                                _with_removals(bids, dropped_bids),
                                _with_removals(asks, dropped_asks), snapshot,
                                state.update_ids)  # fmt: skip
        n = self.levels
        rows.append(book_snapshot(EXCHANGE, symbol, event_time, received_at, n, top_bids[:n],
                                  top_asks[:n], sequence, state.book_ids(sequence)))  # fmt: skip
        return rows

    def _fail(self, symbol: str, state: PairBook, theirs: int, ours: int) -> None:
        self.stats.extra["book_checksum_mismatches"] += 1
        self.stats.quality.resync(symbol, ResyncCause.CHECKSUM_MISMATCH)
        log.warning("kraken.book_checksum_mismatch symbol=%s venue=%d ours=%d (resubscribing)",
                    symbol, theirs, ours)  # fmt: skip
        state.synced = False
        state.book.clear()
        self.failed[symbol] = None


def _with_removals(levels: Levels, dropped: list[Level]) -> Iterable[Level]:
    """The message's levels, then a 0 for each level the depth cut dropped (`update_rows`
    keeps the last word on a price, so a level set and dropped by one message reads 0)."""
    if not dropped:
        return levels
    return (*levels, *((price, ZERO) for price, _ in dropped))
