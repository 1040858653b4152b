"""A local limit order book for venues that send a full snapshot and then absolute updates.

Pure and synchronous: the decoder feeds it already-validated number text and reads the top N
levels back, with the venue's exact price and size text, best level first.

Each side keeps a list of `Decimal` sort keys, kept sorted with `bisect`, plus a dict from key
to the venue's `(price, size)` text. The keys are arranged so that the *best* level is at the
end of the list on both sides (bids by price, offers by negated price): most updates land near
the top of the book, so an insert or delete moves only the few keys behind it, and the top N
is a short slice from the end. No call ever sorts the book, except loading a snapshot once.

Keys are `Decimal`, never `float`, so "83281" and "83281.00" are the same level and no two
distinct prices can collide. A size of zero (in any spelling: "0", "0.00000000") removes the
level; removing a level that is not there is a no-op.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable
from decimal import Decimal

from streamer.records import Dec, Level, Levels


def is_zero(size: str) -> bool:
    """True for "0", "0.0", "0.00000000", ...; the text must already be a valid decimal."""
    return not size.strip("0.")


class BookSide:
    """One side of the book; `best_high` is True for bids (the highest price is best)."""

    __slots__ = ("_keys", "_levels", "best_high")

    def __init__(self, best_high: bool) -> None:
        self.best_high = best_high
        self._keys: list[Decimal] = []  # ascending; the best level is last
        self._levels: dict[Decimal, Level] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def _key(self, price: str) -> Decimal:
        key = Decimal(price)
        return key if self.best_high else key.copy_negate()  # copy_negate is exact

    def replace(self, levels: Iterable[Level]) -> None:
        """Discard every level and load these (a snapshot); zero sizes are skipped."""
        kept = [level for level in levels if level[1].strip("0.")]  # not is_zero(size)
        keys = map(Decimal, [price for price, _ in kept])
        if not self.best_high:
            keys = map(Decimal.copy_negate, keys)
        book = dict(zip(keys, kept, strict=True))
        self._levels = book
        self._keys = sorted(book)  # venues send a side in order: timsort takes it in one run

    def set(self, price: Dec, size: Dec) -> None:
        """Set the absolute size at `price`; a zero size removes the level."""
        key = self._key(price)
        levels = self._levels
        if is_zero(size):
            if levels.pop(key, None) is not None:
                keys = self._keys
                del keys[bisect_left(keys, key)]
            return
        if key not in levels:
            insort(self._keys, key)
        levels[key] = (price, size)

    def update(self, levels: Iterable[Level]) -> None:
        """`set` each level in order (the per-frame path, with `set`'s steps inlined)."""
        keys, book, negate = self._keys, self._levels, not self.best_high
        for level in levels:
            price, size = level
            key = Decimal(price).copy_negate() if negate else Decimal(price)
            if size.strip("0."):  # not is_zero(size)
                if key not in book:
                    insort(keys, key)
                book[key] = level
            elif book.pop(key, None) is not None:
                del keys[bisect_left(keys, key)]

    def clear(self) -> None:
        self._keys = []
        self._levels = {}

    def truncate(self, n: int) -> list[Level]:
        """Keep the best `n` levels; returns the levels dropped (a venue that sends no removal
        for a level pushed out of the subscribed depth, such as Kraken's `book`)."""
        keys = self._keys
        extra = len(keys) - max(n, 0)
        if extra <= 0:
            return []
        dropped = keys[:extra]
        del keys[:extra]
        levels = self._levels
        return [levels.pop(key) for key in dropped]

    def top(self, n: int) -> Levels:
        """The best `n` levels (fewer if the side is shorter), best first."""
        if n <= 0:
            return ()
        levels = self._levels
        return tuple([levels[k] for k in self._keys[: -n - 1 : -1]])

    def best_price(self) -> Decimal | None:
        if not self._keys:
            return None
        best = self._keys[-1]
        return best if self.best_high else best.copy_negate()


class OrderBook:
    """Bids and offers of one product."""

    __slots__ = ("asks", "bids")

    def __init__(self) -> None:
        self.bids = BookSide(best_high=True)
        self.asks = BookSide(best_high=False)

    def replace(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Load a full snapshot, discarding the previous state."""
        self.bids.replace(bids)
        self.asks.replace(asks)

    def update(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Apply absolute-size updates in order."""
        self.bids.update(bids)
        self.asks.update(asks)

    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()

    def truncate(self, n: int) -> tuple[list[Level], list[Level]]:
        """Keep the best `n` levels a side; returns the (bids, asks) dropped."""
        return self.bids.truncate(n), self.asks.truncate(n)

    def top(self, n: int) -> tuple[Levels, Levels]:
        """`(bids, asks)`, the best `n` levels of each side, best first."""
        return self.bids.top(n), self.asks.top(n)

    def crossed(self) -> bool:
        """True when the best bid is at or above the best ask (a book that cannot be right)."""
        bid = self.bids.best_price()
        ask = self.asks.best_price()
        return bid is not None and ask is not None and bid >= ask
