"""Full-depth books from a venue's diff stream and REST snapshots (pure: no I/O, no `await`).

Each symbol's `DiffBook` follows the procedure venues with a diff stream document; what differs
between them, how one event chains onto the book before it, is the `ChainRule` passed in
(Binance Spot's `U`/`u` ranges, `venues/binance/streams.py`; a previous-id link such as
Binance USD-M's `pu` or OKX's `prevSeqId` fits the same rule):

1. Diff events are buffered while the book is not synced, and the symbol is named in
   `DepthBooks.wanted` once: the venue's shell fetches a REST snapshot.
2. A snapshot older than the first buffered event (`ChainRule.predates`) is asked again.
3. Otherwise the book is the snapshot, its update id the snapshot's; buffered events it
   already holds (`final` at or below its id) are dropped and the rest applied, then live
   events, each by the rule: at or below the book's id, already in the book, ignored; an
   event that does not chain onto the book (`ChainRule.continues`) means events were missed,
   so the book is discarded and the procedure starts over (`depth_resyncs`); else every level
   is set to its new absolute size (0 removes it) and the book's id becomes the event's.

Every event applied gives its `book_updates` rows and the top-N `BookSnapshot` of the book
after it (`event_time` the event's, `sequence` its final id). The snapshot gives `is_snapshot`
rows with `sequence` = its id; a REST snapshot has no time, so its `event_time` is the time of
the first event kept on it (or, if none is, of the newest buffered), which sorts it after every
row before and before every row after: a replay in (`event_time`, `sequence`) order rebuilds
the book. Levels beyond the snapshot's are unknown until an event sets them.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import NamedTuple, Protocol

from streamer.book import OrderBook
from streamer.book_updates import update_rows
from streamer.ids import record_ids
from streamer.quality import ResyncCause
from streamer.records import Item, Levels, Millis, book_snapshot
from streamer.sources.base import FeedStats

log = logging.getLogger(__name__)

MAX_BUFFERED = 1000
"""Events buffered per symbol while its snapshot is awaited (100 s of `@depth@100ms`); older
ones are dropped, and a snapshot older than the oldest kept is asked again."""
_new_row = tuple.__new__


class DiffEvent(NamedTuple):
    first: int  # the first update id it holds (Binance `U`)
    final: int  # its last update id (Binance `u`): the book's id once applied
    bids: Levels
    asks: Levels
    event_time: Millis
    received_at: Millis
    previous: int | None = None  # the final id of the event before it, where sent (`pu`)


class ChainRule(Protocol):
    """How a venue's diff events chain: the one thing a diff-stream book leaves to the venue."""

    def continues(self, event: DiffEvent, book_id: int, after_snapshot: bool) -> bool:
        """`event` (not yet in the book: `final` > `book_id`) applies right after a book whose
        id is `book_id`; `after_snapshot`: it is the first event applied on a snapshot."""
        ...

    def predates(self, snapshot_id: int, first: DiffEvent) -> bool:
        """A snapshot with `snapshot_id` is too old for the buffer that starts with `first`."""
        ...


class DiffBook:
    """One symbol's book, its update id, and the events buffered while it is not synced."""

    __slots__ = ("book", "buffer", "fresh", "requested", "synced", "update_id")

    def __init__(self) -> None:
        self.book = OrderBook()
        self.update_id = 0
        self.synced = False
        self.fresh = False  # synced from a snapshot, and no event applied on it yet
        self.requested = False  # named in `wanted`, no snapshot since
        self.buffer: deque[DiffEvent] = deque(maxlen=MAX_BUFFERED)


class DepthBooks:
    """Every symbol's `DiffBook`, and the rows their events give."""

    def __init__(
        self,
        exchange: str,
        symbols: tuple[str, ...],
        depth: int,
        stats: FeedStats,
        book_ids: dict[str, Callable[[object], str]],
        rule: ChainRule,
    ) -> None:
        self.exchange = exchange
        self.rule = rule
        self.depth = depth
        self.stats = stats
        self.books: dict[str, DiffBook] = {}
        self._book_ids = book_ids  # the top-N snapshots' record ids, by `u` (kept by the caller)
        self._update_ids: dict[str, Callable[[object], str]] = {}
        self.wanted: dict[str, None] = {}
        """Symbols whose REST snapshot should be fetched (an ordered set the shell drains)."""
        self.add(symbols)

    def add(self, symbols: Iterable[str]) -> None:
        """Keep the books of `symbols` too (new listings); a symbol kept already is left alone."""
        for symbol in symbols:
            if symbol not in self.books:
                self.books[symbol] = DiffBook()
                self._update_ids[symbol] = record_ids(self.exchange, symbol, "book_update")

    def sequences(self) -> dict[str, int]:
        """Each synced book's last update id (what a checkpoint records of the book)."""
        return {symbol: state.update_id for symbol, state in self.books.items() if state.synced}

    def want(self, symbol: str) -> None:
        self.books[symbol].requested = True
        self.wanted[symbol] = None

    def event(
        self, symbol: str, first: int, final: int, bids: Levels, asks: Levels,
        event_time: Millis, received_at: Millis, previous: int | None = None,
    ) -> list[Item]:  # fmt: skip
        """One diff event (its levels checked): the rows it gives (none while buffering)."""
        state = self.books[symbol]
        event = DiffEvent(first, final, bids, asks, event_time, received_at, previous)
        if not state.synced:
            state.buffer.append(event)
            if not state.requested:
                self.want(symbol)
            return []
        if final <= state.update_id:
            self.stats.extra["depth_stale_events"] += 1
            return []
        # The first event on a snapshot may be a live one (the snapshot was newer than every
        # buffered event): it is judged by the first-event rule all the same.
        if not self.rule.continues(event, state.update_id, state.fresh):
            self._lose(symbol, state, event)
            return []
        return self._apply(symbol, state, event)

    def snapshot(
        self, symbol: str, last_id: int, bids: Levels, asks: Levels, received_at: Millis
    ) -> list[Item]:
        """A REST snapshot (levels checked): the rows of the book it starts, or none if it is
        too old (then it is asked again)."""
        state = self.books[symbol]
        state.requested = False
        buffer = state.buffer
        if state.synced:
            return []  # a snapshot asked before a resync that has been answered already
        if not buffer or self.rule.predates(last_id, buffer[0]):
            self.stats.extra["depth_snapshots_too_old"] += 1
            self.want(symbol)
            return []
        kept = [event for event in buffer if event.final > last_id]
        stamp = (kept[0] if kept else buffer[-1]).event_time
        buffer.clear()
        state.book.replace(bids, asks)
        state.update_id = last_id
        state.synced = state.fresh = True
        log.info("%s.depth_synced symbol=%s bids=%d asks=%d update_id=%d", self.exchange, symbol,
                 len(state.book.bids), len(state.book.asks), last_id)  # fmt: skip
        rows: list[Item] = []
        rows += update_rows(self.exchange, symbol, stamp, received_at, last_id, bids, asks,
                            True, self._update_ids[symbol])  # fmt: skip
        for index, event in enumerate(kept):
            if not self.rule.continues(event, state.update_id, state.fresh):
                self._lose(symbol, state, event)
                buffer.extend(kept[index + 1 :])
                break
            rows += self._apply(symbol, state, event)
        return rows

    def replace(
        self, symbol: str, update_id: int, bids: Levels, asks: Levels, event_time: Millis,
        received_at: Millis,
    ) -> list[Item]:  # fmt: skip
        """A whole book the stream itself sent (e.g. OKX's `action: snapshot`): it replaces
        the book, synced or not, with `update_id` its id; what was buffered is older and
        dropped, a snapshot asked for and still coming is ignored when it comes. Its rows: the
        `is_snapshot` rows and the top-N book."""
        state = self.books[symbol]
        state.buffer.clear()
        state.book.replace(bids, asks)
        state.update_id = update_id
        state.synced, state.fresh = True, False
        if symbol in self.wanted:  # not fetched yet: no longer wanted (a fetch under way is)
            del self.wanted[symbol]
            state.requested = False
        rows: list[Item] = []
        rows += update_rows(self.exchange, symbol, event_time, received_at, update_id, bids,
                            asks, True, self._update_ids[symbol])  # fmt: skip
        top_bids, top_asks = state.book.top(self.depth)
        rows.append(book_snapshot(self.exchange, symbol, event_time, received_at, self.depth,
                                  top_bids, top_asks, update_id,
                                  self._book_ids[symbol](update_id)))  # fmt: skip
        return rows

    def _apply(self, symbol: str, state: DiffBook, event: DiffEvent) -> list[Item]:
        book = state.book
        book.update(event.bids, event.asks)
        state.update_id = final = event.final
        state.fresh = False
        event_time, received_at = event.event_time, event.received_at
        rows: list[Item] = []
        rows += update_rows(self.exchange, symbol, event_time, received_at, final, event.bids,
                            event.asks, False, self._update_ids[symbol])  # fmt: skip
        bids, asks = book.top(self.depth)
        rows.append(book_snapshot(self.exchange, symbol, event_time, received_at, self.depth,
                                  bids, asks, final, self._book_ids[symbol](final)))  # fmt: skip
        return rows

    def _lose(self, symbol: str, state: DiffBook, event: DiffEvent) -> None:
        """Events were missed: discard the book and start over from `event`."""
        log.warning("%s.depth_resync symbol=%s book=%d got=%d-%d", self.exchange, symbol,
                    state.update_id, event.first, event.final)  # fmt: skip
        self.stats.extra["depth_resyncs"] += 1
        # A sequence that went backwards is the venue starting over; a jump is a lost event.
        reset = event.final < state.update_id
        cause = ResyncCause.VENUE_RESET if reset else ResyncCause.SEQUENCE_BREAK
        self.stats.quality.resync(symbol, cause)
        state.synced = False
        state.book.clear()
        state.buffer.clear()
        state.buffer.append(event)
        if not state.requested:
            self.want(symbol)
