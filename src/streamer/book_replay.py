"""Order books rebuilt from `book_updates` rows (pure), and those rows read from a local lake.

`replay(rows, depth)` takes the rows of one book (one exchange and symbol) in any order, sorts
them by (`event_time`, `sequence`), and yields the book's top `depth` levels after each event:
the `is_snapshot` rows of an event replace the whole book, the others set one level each (size
0 removes it). Rows before the first snapshot are skipped: there is nothing to apply them to.
A repeated row (at-least-once delivery) changes nothing. The books it yields are the ones the
service published in `order_books` at the same (`event_time`, `sequence`), level for level.

    from streamer.book_replay import lake_rows, replay
    for book in replay(lake_rows(Path("data"), "binance", "BTC-USDT"), depth=20):
        print(book.event_time, book.sequence, book.bids[0], book.asks[0])

Prices and sizes may be text (the records) or `Decimal` (DuckDB); levels come back as text
when given text. Time is whatever the rows carry (epoch ms in `lake_rows`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import groupby
from pathlib import Path
from typing import Any, Protocol

from streamer.book import OrderBook
from streamer.records import Dec, Level, Levels


class UpdateRow(Protocol):
    """What `replay` reads of a row: `BookUpdate` records fit, and so do `lake_rows`."""

    @property
    def event_time(self) -> Any: ...
    @property
    def sequence(self) -> int: ...
    @property
    def side(self) -> str: ...
    @property
    def price(self) -> Any: ...
    @property
    def size(self) -> Any: ...
    @property
    def is_snapshot(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class ReplayedBook:
    """The top levels of a book after the event (`event_time`, `sequence`)."""

    event_time: Any
    sequence: int
    bids: Levels
    asks: Levels


@dataclass(frozen=True, slots=True)
class LakeRow:
    event_time: int  # epoch ms
    sequence: int
    side: str
    price: Decimal
    size: Decimal
    is_snapshot: bool


def _text(value: Any) -> Dec:
    if isinstance(value, Decimal):
        value = format(value.normalize(), "f")
    return Dec(str(value))


def replay(rows: Iterable[UpdateRow], depth: int) -> Iterator[ReplayedBook]:
    """The book after each event of `rows` (one book's rows), oldest first."""
    ordered = sorted(rows, key=lambda r: (r.event_time, r.sequence, not r.is_snapshot))
    book = OrderBook()
    started = False
    for (event_time, sequence), group in groupby(ordered, key=lambda r: (r.event_time,
                                                                          r.sequence)):  # fmt: skip
        event = list(group)
        snapshot = [r for r in event if r.is_snapshot]
        if snapshot:
            book.replace(_levels(snapshot, "bid"), _levels(snapshot, "ask"))
            started = True
        if not started:
            continue
        updates = [r for r in event if not r.is_snapshot]
        book.update(_levels(updates, "bid"), _levels(updates, "ask"))
        bids, asks = book.top(depth)
        yield ReplayedBook(event_time, sequence, bids, asks)


def _levels(rows: list[UpdateRow], side: str) -> list[Level]:
    return [(_text(r.price), _text(r.size)) for r in rows if r.side == side]


def lake_rows(root: Path, exchange: str, symbol: str) -> list[LakeRow]:
    """One book's `book_updates` rows from the local lake (each once, by `record_id`)."""
    from streamer import query

    _, found = query.run(
        root,
        "SELECT DISTINCT ON (record_id) epoch_ms(event_time), sequence, side, price, size, "
        "is_snapshot FROM crypto_book_updates "
        f"WHERE exchange = {_quoted(exchange)} AND symbol = {_quoted(symbol)}",
    )
    return [LakeRow(*row) for row in found]


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
