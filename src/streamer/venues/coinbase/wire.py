"""The typed wire shapes of the Coinbase frames that take the decoder's fast path.

msgspec parses these straight into structs, checking every field's JSON type in C as it goes;
a frame that does not fit (a missing field, a number where text belongs) raises, and the
decoder then takes its general path, which names the reason of the reject. Frames are chosen
for the fast path by how Coinbase starts them (`{"channel":"market_trades"`); another key order
only means the general path. No struct is tracked by the garbage collector (`gc=False`:
decoded JSON holds no reference cycles).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from streamer.numbers import SureFitText


class WireTrade(msgspec.Struct, gc=False):
    trade_id: str | int
    product_id: str
    price: str
    size: str
    side: str
    time: str


class WireTradeEvent(msgspec.Struct, gc=False):
    trades: list[WireTrade]


class WireTrades(msgspec.Struct, gc=False):
    sequence_num: int
    events: list[WireTradeEvent]


class WireLevel(msgspec.Struct, gc=False):
    side: str
    price_level: SureFitText
    new_quantity: SureFitText


class WireBookEvent(msgspec.Struct, gc=False):
    type: str
    product_id: str
    updates: list[WireLevel]


class WireBook(msgspec.Struct, gc=False):
    timestamp: str
    sequence_num: int
    events: list[WireBookEvent]


class WireTicker(msgspec.Struct, gc=False):
    product_id: str
    price: str
    best_bid: str | None = None
    best_bid_quantity: str | None = None
    best_ask: str | None = None
    best_ask_quantity: str | None = None
    high_24_h: str | None = None
    low_24_h: str | None = None
    volume_24_h: str | None = None
    price_percent_chg_24_h: str | None = None


class WireTickerEvent(msgspec.Struct, gc=False):
    tickers: list[WireTicker]


class WireTickers(msgspec.Struct, gc=False):
    timestamp: str
    sequence_num: int
    events: list[WireTickerEvent]


TradeFields = tuple[Any, Any, Any, Any, Any, Any]
"""(product, trade id, maker side, price, size, time), as both paths hand them on."""
BookEvent = tuple[Any, Any, Iterable[tuple[Any, Any, Any]]]
"""(product, event type, (side, price, new quantity) ...), as both paths hand them on."""

TRADES_DECODER = msgspec.json.Decoder(WireTrades)
TRADES_PREFIX = b'{"channel":"market_trades"'
TRADES_HEAD = frozenset({TRADES_PREFIX, TRADES_PREFIX.decode()})
BOOK_DECODER = msgspec.json.Decoder(WireBook)
TICKER_DECODER = msgspec.json.Decoder(WireTickers)
BOOK_PREFIX = b'{"channel":"l2_data"'
BOOK_HEAD = frozenset({BOOK_PREFIX, BOOK_PREFIX.decode()})
TICKER_PREFIX = b'{"channel":"ticker"'
"""How compact frames of each channel start: `decode_read` tells its bytes apart by these."""


def wire_fields(t: WireTrade) -> TradeFields:
    return (t.product_id, t.trade_id, t.side, t.price, t.size, t.time)
