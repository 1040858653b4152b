"""Coinbase's read-at-a-time fast paths (pure): `decode_read` takes every frame of one socket
read, the most frequent ones (`market_trades` of one trade, `l2_data` updates, tickers) by a
path that changes no state until every check passes; anything else goes through `decode`,
which names a reject's reason. `tests/venues/test_read_paths.py` holds both to the same results.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

import msgspec

from streamer.errors import FrameError
from streamer.numbers import POSITIVE, POSITIVE_PAIR, opt_decimals, plain_book_side
from streamer.records import Item, Level, Millis, Trade
from streamer.sources.base import FeedStats
from streamer.sources.trade_gaps import TradeGaps
from streamer.timefmt import parse_rfc3339
from streamer.venues.coinbase.rest import TAKER_SIDE
from streamer.venues.coinbase.rows import (
    EXCHANGE,
    TICKER_NUMBERS,
    TICKER_SIGNS,
    new_row,
    ticker_row,
)
from streamer.venues.coinbase.state import ProductState
from streamer.venues.coinbase.wire import (
    BOOK_DECODER,
    BOOK_PREFIX,
    TICKER_DECODER,
    TICKER_PREFIX,
    TRADES_DECODER,
    TRADES_PREFIX,
)

_PRICES = slice(0, None, 2)
"""The prices of a side flattened from (price, size) levels."""
_TICKER_FIELDS = ("price", *TICKER_NUMBERS)
_TICKER_SIGNS = (POSITIVE, *TICKER_SIGNS)


class ReadPath:
    """The fast paths of `CoinbaseDecoder`, which holds the state they read and change."""

    stats: FeedStats
    trade_gaps: TradeGaps
    _products: dict[str, ProductState]
    _trade_seeds: dict[str, Any]
    _book_updates: bool

    def decode(self, raw: str | bytes, received_at: Millis) -> list[Item]:
        raise NotImplementedError

    def _check_sequence(self, sequence: object) -> bool:
        raise NotImplementedError

    def decode_read(self, payloads: list[bytes], received_at: Millis) -> list[Item]:
        """Every frame of one socket read -> its rows, in order: `decode` on each, with the
        most frequent frames (`market_trades` of one trade, inline in this loop; `l2_data`
        updates; tickers) taken by a path that changes no state until every check passes. Any
        other frame, or one a check refuses, goes through `decode`, which names the reason of
        a reject, so both give the same rows and the same rejects.
        """
        rows: list[Item] = []
        products = self._products
        gaps = self.trade_gaps
        plain_pair = POSITIVE_PAIR.fullmatch
        sides = TAKER_SIDE
        seeds = self._trade_seeds
        for raw in payloads:
            if raw[:26] == TRADES_PREFIX:
                try:
                    wire = TRADES_DECODER.decode(raw)
                except msgspec.MsgspecError:
                    wire = None
                events = wire.events if wire is not None else ()
                if len(events) == 1 and len(trades := events[0].trades) == 1:
                    t = trades[0]
                    product = products.get(t.product_id)
                    side = sides.get(t.side)
                    trade_id, price, size = t.trade_id, t.price, t.size
                    if (
                        product is not None
                        and side is not None
                        and type(trade_id) is str
                        and trade_id.isdigit()
                        and trade_id.isascii()
                        and plain_pair(price + "," + size) is not None
                    ):
                        try:
                            event_time = parse_rfc3339(t.time, "time")
                        except FrameError:
                            event_time = None
                        if event_time is not None:
                            assert wire is not None
                            if not self._check_sequence(wire.sequence_num):
                                continue
                            track = product.trades
                            number = int(trade_id)
                            if number == track.last + 1:
                                track.last = number
                                track.last_time = event_time
                            elif not gaps.off_sequence(track, number, event_time):
                                self.stats.extra["duplicate_trades"] += 1
                                continue
                            h = seeds[t.product_id].copy()
                            h.update(trade_id.encode())
                            row = (EXCHANGE, t.product_id, event_time, received_at, trade_id,
                                   price, size, side, h.hexdigest())  # fmt: skip
                            rows.append(new_row(Trade, row))
                            continue
            elif raw[:20] == BOOK_PREFIX and self._book_update(raw, received_at):
                continue
            elif raw[:19] == TICKER_PREFIX:
                tickers = self._tickers(raw, received_at)
                if tickers is not None:
                    rows += tickers
                    continue
            items = self.decode(raw, received_at)
            if items:
                rows += items
        return rows

    def _book_update(self, raw: bytes, received_at: Millis) -> bool:
        """An `l2_data` frame of one `update` event for a synced book, applied if every check
        passes (True); False, with nothing changed, sends it the general way. Only when no
        `book_updates` rows are kept (they are built the general way)."""
        if self._book_updates:
            return False
        try:
            book = BOOK_DECODER.decode(raw)
        except msgspec.MsgspecError:
            return False
        if len(book.events) != 1:
            return False
        event = book.events[0]
        product = self._products.get(event.product_id)
        if product is None or not product.synced or event.type != "update":
            return False
        bids: list[Level] = []
        asks: list[Level] = []
        for u in event.updates:
            level = (u.price_level, u.new_quantity)
            if u.side == "bid":
                bids.append(level)  # type: ignore[arg-type]  # checked below
            elif u.side == "offer":
                asks.append(level)  # type: ignore[arg-type]
            else:
                return False
        if not plain_book_side(list(chain.from_iterable(bids + asks)), _PRICES, measured=True):
            return False  # a bad number (a reject) goes the general way, which names it
        try:
            event_time = parse_rfc3339(book.timestamp, "timestamp")
        except FrameError:
            return False
        if self._check_sequence(book.sequence_num):
            if product.synced:  # a gap in the sequence has just dropped every book
                product.book.update(bids, asks)
                product.changed = True
                product.event_time = event_time
                product.received_at = received_at
                product.sequence = book.sequence_num
            else:
                self.stats.extra["unsynced_updates"] += 1
        return True

    def _tickers(self, raw: bytes, received_at: Millis) -> list[Item] | None:
        """A `ticker` frame's rows, if every check passes; None, with nothing changed, sends
        it the general way (`_ticker`, the same rows)."""
        try:
            msg = TICKER_DECODER.decode(raw)
            event_time = parse_rfc3339(msg.timestamp, "timestamp")
        except (msgspec.MsgspecError, FrameError):
            return None
        parsed = []
        for event in msg.events:
            for t in event.tickers:
                if t.product_id not in self._products:
                    return None
                numbers = (t.best_bid, t.best_bid_quantity, t.best_ask, t.best_ask_quantity,
                           t.high_24_h, t.low_24_h, t.volume_24_h,
                           t.price_percent_chg_24_h)  # fmt: skip
                try:
                    checked = opt_decimals([t.price, *numbers], _TICKER_FIELDS, _TICKER_SIGNS)
                except FrameError:
                    return None
                if checked[0] is None:
                    return None
                parsed.append((t.product_id, checked[0], checked[1:]))
        if not self._check_sequence(msg.sequence_num):
            return []
        return [
            ticker_row(product_id, event_time, received_at, price, numbers)
            for product_id, price, numbers in parsed
        ]
