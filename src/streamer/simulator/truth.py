"""Ground truth: what the simulator sent, remembered (bounded) for tests to check the lake.

Values are the text the wire carried, so a test compares what arrived with what was sent, not
with a second rendering of the market. Each record keeps its newest `limit` entries.
"""

from __future__ import annotations

import collections
from typing import Any

from streamer.simulator.market import Candle, Notation, Trade

Book = tuple[list[list[str]], list[list[str]]]  # bids, asks: [price, size] best first


def _limit(record: dict[Any, Any], limit: int) -> None:
    while len(record) > limit:
        del record[next(iter(record))]


class Truth:
    """Trades, closed candles and books as sent, keyed the way the lake's rows are."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        # (venue, symbol) -> trade id -> (price, size, taker side, trade time ms)
        self.trades: collections.defaultdict[
            tuple[str, str], dict[str, tuple[str, str, str, int]]
        ] = collections.defaultdict(dict)
        # (venue, symbol, interval, open time ms) -> (open, high, low, close, volume)
        self.candles: dict[tuple[str, str, str, int], tuple[str, ...]] = {}
        # venue -> its key of a book (e.g. (symbol, update id)) -> the levels sent or true then
        self.books: collections.defaultdict[str, dict[tuple[Any, ...], Book]] = (
            collections.defaultdict(dict)
        )

    def trade(self, venue: str, symbol: str, trade: Trade, notation: Notation) -> None:
        record = self.trades[(venue, symbol)]
        record[str(trade.trade_id)] = (
            notation.price(trade.price),
            notation.size(trade.size),
            trade.taker_side,
            trade.time,
        )
        _limit(record, self.limit)

    def candle(
        self, venue: str, symbol: str, interval: str, candle: Candle, notation: Notation
    ) -> None:
        prices = (candle.open, candle.high, candle.low, candle.close)
        key = (venue, symbol, interval, candle.open_time)
        self.candles[key] = (*map(notation.price, prices), notation.size(candle.volume))
        _limit(self.candles, self.limit)

    def book(self, venue: str, key: tuple[Any, ...], book: Book) -> None:
        record = self.books[venue]
        record[key] = book
        _limit(record, self.limit)
