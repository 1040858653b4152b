"""`book_updates` rows from one book event (pure): a snapshot, or the levels one update set.

Both venues' full-depth books (`sources/depth_diff.py` for Binance's diff stream, the Coinbase
decoder's level2 book) hand each event they apply to `update_rows`, so a row means the same on
both: the level's new size (0 removes it) after the event (`event_time`, `sequence`). Within one
event a price is set once per side (the venue's last word on it), so the order of an event's
rows never matters to a replay (`book_replay.py`). A snapshot's zero sizes are left out, as the
book leaves them out. `record_id` is the venue event and the level: (exchange, symbol,
"book_update", snapshot or update, event_time, sequence, side, price).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from streamer.book import is_zero
from streamer.records import BookUpdate, Level, Millis

_new_row = tuple.__new__


def update_rows(
    exchange: str,
    symbol: str,
    event_time: Millis,
    received_at: Millis,
    sequence: int,
    bids: Iterable[Level],
    asks: Iterable[Level],
    snapshot: bool,
    ids: Callable[[object], str],
) -> list[BookUpdate]:
    """One row per level the event sets; `ids` is `record_ids(exchange, symbol, "book_update")`."""
    head = f"{'snapshot' if snapshot else 'update'}\x1f{event_time}\x1f{sequence}\x1f"
    rows: list[BookUpdate] = []
    for side, levels in (("bid", bids), ("ask", asks)):
        key = f"{head}{side}\x1f"
        for price, size in dict(levels).items():
            if snapshot and is_zero(size):
                continue
            rows.append(_new_row(BookUpdate, (exchange, symbol, event_time, received_at, side,
                                              price, size, snapshot, sequence,
                                              ids(key + price))))  # fmt: skip
    return rows
