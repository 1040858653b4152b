"""Coinbase Advanced Trade's rows built from checked fields, and the candle ledger's decision on
decoded rows (pure)."""

from __future__ import annotations

from typing import Any

from streamer.errors import FrameError
from streamer.ids import record_id
from streamer.numbers import ANY, NON_NEGATIVE, POSITIVE, book_numbers
from streamer.records import Candle, Dec, Item, Level, Millis, Ticker, Trade
from streamer.sources.candles import CandleLedger, Gap
from streamer.venues.coinbase.rest import CANDLE_MS, INTERVAL
from streamer.venues.coinbase.state import ProductState

EXCHANGE = "coinbase"
TICKER_NUMBERS = (
    "best_bid", "best_bid_quantity", "best_ask", "best_ask_quantity", "high_24_h", "low_24_h",
    "volume_24_h", "price_percent_chg_24_h",
)  # fmt: skip
TICKER_SIGNS = (NON_NEGATIVE, NON_NEGATIVE, NON_NEGATIVE, NON_NEGATIVE, POSITIVE, POSITIVE,
                NON_NEGATIVE, ANY)  # fmt: skip
"""The sign rule of each of `TICKER_NUMBERS` (an empty side's best bid or ask is 0)."""
_LEVEL_FIELDS = ("price_level", "new_quantity")
new_row = tuple.__new__
"""Builds a row from a tuple in field order: a third of a keyword `Trade(...)`'s cost."""


def levels(prices: list[str], sizes: list[str]) -> list[Level]:
    """Prices (> 0) and sizes (>= 0) checked at once, paired."""
    n = len(prices)
    checked: list[Dec] = book_numbers(prices + sizes, slice(0, n), _LEVEL_FIELDS)
    return list(zip(checked[:n], checked[n:], strict=True))


def trade_id_text(value: object) -> str:
    if type(value) is str and value:
        return value
    if type(value) is int:
        return str(value)
    raise FrameError(f"field 'trade_id' is not an id: {value!r}"[:200])


def ticker_row(
    symbol: str, event_time: Millis, received_at: Millis, price: str, numbers: list[Any]
) -> Ticker:
    """A ticker row from its checked number text (`numbers` in `TICKER_NUMBERS` order, None
    where absent). The venue sends no 24 h open, quote volume or trade count (None)."""
    bid, bid_size, ask, ask_size, high, low, volume, change = numbers
    rid = record_id(EXCHANGE, symbol, "ticker", event_time, price, volume)
    return new_row(Ticker, (EXCHANGE, symbol, event_time, received_at, price, bid, bid_size,
                             ask, ask_size, None, high, low, volume, None, change, None,
                             rid))  # fmt: skip


def id_order(parsed: tuple[ProductState, Trade]) -> tuple[int, str]:
    """Numeric order of decimal id text (shorter is smaller), without parsing it."""
    trade_id = parsed[1].trade_id
    return len(trade_id), trade_id


def closed(candle: Candle) -> Candle:
    """The last update of a candle, marked final (a later `start` arrived)."""
    rid = record_id(EXCHANGE, candle.symbol, "ohlcv", INTERVAL, candle.open_time)
    return candle._replace(is_closed=True, record_id=rid)


def closed_candle_gaps(ledger: CandleLedger, items: list[Item]) -> tuple[list[Item], list[Gap]]:
    """(the rows to publish, the candles to fetch from REST): closed candles come from REST.

    The `candles` channel sends a candle's state once a second, so its last update before the
    next candle starts can miss the final trades. A WebSocket close therefore only names the
    candles closed since the newest one published; REST has their final values, and the
    ledger publishes each candle once.
    """
    out: list[Item] = []
    gaps: list[Gap] = []
    for item in items:
        if type(item) is Candle and item.is_closed:
            newest = ledger.newest.get(item.symbol)
            if newest is None or item.open_time > newest:
                start = item.open_time if newest is None else newest + CANDLE_MS
                gaps.append(Gap(item.symbol, start, item.open_time))
            continue
        out.append(item)
    return out, gaps
