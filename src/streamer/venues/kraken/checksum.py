"""Kraken's `book` checksum (WebSocket v2), pure.

Kraken, "Book checksum (WebSocket v2)": after applying every level of a message and truncating
the book to the subscribed depth, take the top 10 asks from the lowest price up, then the top 10
bids from the highest down; for each level write the price, then the quantity, each as decimal
text with the point removed and the leading zeros stripped (`45285.2`, `0.00100000` ->
`452852100000`); the CRC32 of the asks' text followed by the bids' is the message's `checksum`,
an unsigned 32-bit integer. Sent on snapshots and on updates.

The text must carry the pair's full precision (`0.10000000`, not `0.1`). The wire sends it so
(the docs' example), and the decoder keeps each number's text as sent (never a float). A text
with fewer decimals than the pair's precision (`AssetPairs`: `pair_decimals` for prices,
`lot_decimals` for quantities) is padded with zeros to it: recordings that went through floats
lost them (`tests/fixtures/kraken/SOURCES.md`), and so would a venue that trims them.

`book_checksum` writes the text out every time (the reference); `BookChecksum`, what a pair's
book runs on every message, keeps each level's text, made once when the level first reaches
the top 10 (a message changes one or two of the 20 levels, so the other texts are reused).
"""

from __future__ import annotations

from zlib import crc32

from streamer.records import Level, Levels

LEVELS = 10
"""Levels a side the checksum covers, whatever the subscribed depth."""


def digits(text: str, decimals: int | None) -> str:
    """`0.00100000` -> `100000`: the number's digits without the point or leading zeros, its
    fraction padded with zeros to `decimals` places (None: as sent)."""
    whole, _, fraction = text.partition(".")
    if decimals is not None and len(fraction) < decimals:
        fraction = fraction.ljust(decimals, "0")
    return (whole + fraction).lstrip("0")


def book_checksum(
    bids: Levels, asks: Levels, price_decimals: int | None, qty_decimals: int | None
) -> int:
    """The checksum of a book whose best levels are `bids` (highest first) and `asks` (lowest
    first); only the first `LEVELS` of each count."""
    parts = [
        digits(price, price_decimals) + digits(qty, qty_decimals)
        for side in (asks, bids)
        for price, qty in side[:LEVELS]
    ]
    return crc32("".join(parts).encode())


KEPT = 4096
"""Level texts a `BookChecksum` holds at most (the top 10 a side change a level or two a
message): past that they are all dropped and made again as the levels come."""


class BookChecksum:
    """`book_checksum` of one pair's book at its precision, made of kept texts: each level's
    (price and quantity digits, padded; a level is a `(price, qty)` pair of texts, so a new
    quantity at a price is a new level with its own text), and each side's whole text with the
    levels it was made of, reused while that side's top 10 stays the same (a message mostly
    changes one side). The CRC32 runs over the asks' text, then on over the bids'."""

    __slots__ = ("_kept", "_sides", "_texts", "price_decimals", "qty_decimals")

    def __init__(
        self, price_decimals: int | None, qty_decimals: int | None, *, kept: int = KEPT
    ) -> None:
        self.price_decimals = price_decimals
        self.qty_decimals = qty_decimals
        self._kept = kept
        self._texts: dict[Level, bytes] = {}
        self._sides: list[tuple[Levels, bytes]] = [((), b""), ((), b"")]  # asks, bids

    def __call__(self, bids: Levels, asks: Levels) -> int:
        sides = self._sides
        asks, bids = asks[:LEVELS], bids[:LEVELS]
        ask_levels, ask_text = sides[0]
        if asks != ask_levels:
            ask_text = self._side(asks)
            sides[0] = (asks, ask_text)
        bid_levels, bid_text = sides[1]
        if bids != bid_levels:
            bid_text = self._side(bids)
            sides[1] = (bids, bid_text)
        return crc32(bid_text, crc32(ask_text))

    def _side(self, levels: Levels) -> bytes:
        texts = self._texts
        parts = list(map(texts.get, levels))
        if None in parts:
            if len(texts) >= self._kept:
                texts.clear()
            for index, text in enumerate(parts):
                if text is None:
                    price, qty = level = levels[index]
                    made = digits(price, self.price_decimals) + digits(qty, self.qty_decimals)
                    parts[index] = texts[level] = made.encode()
        return b"".join(parts)  # type: ignore[arg-type]  # no None left
