"""Kraken's read-at-a-time fast path (pure): a v2 `trade` update, decoded straight into typed
structs (numbers kept as their text, as `decode.DECODER` keeps them) and checked as
`rows.trade_row` checks it. `trade_fields` changes no state: a frame it refuses goes through
`KrakenDecoder.decode`, which names a reject's reason, so both give the same rows and rejects
(`tests/venues/test_read_paths.py`).
"""

from __future__ import annotations

from typing import Any

import msgspec

from streamer.errors import FrameError
from streamer.numbers import POSITIVE_PAIR
from streamer.timefmt import parse_rfc3339
from streamer.venues.kraken.rows import SIDES, text

TRADE_PREFIX = b'{"channel":"trade","type":"update","data":['
"""How every v2 `trade` update begins."""


class WireTrade(msgspec.Struct, gc=False):
    symbol: Any
    side: Any
    price: Any  # a JSON number's text (`float_hook`), an int, or whatever was sent
    qty: Any
    trade_id: Any
    timestamp: Any


class WireTrades(msgspec.Struct, gc=False):
    channel: Any
    type: Any
    data: list[WireTrade]


TRADES_DECODER = msgspec.json.Decoder(WireTrades, float_hook=str)
TradeFields = tuple[str, int, int, str, str, str]
"""(normalized symbol, trade id, time in ms, price, size, side) of one trade."""


def trade_fields(raw: bytes, pairs: dict[str, str]) -> list[TradeFields] | None:
    """The trades of a v2 `trade` update when every entry is of a pair in `pairs` (v2 pair ->
    normalized symbol) and passes `rows.trade_row`'s checks (an id, a side, a positive price
    and size that fit as sent, an RFC 3339 time), else None."""
    try:
        wire = TRADES_DECODER.decode(raw)
    except msgspec.MsgspecError:
        return None
    if wire.channel != "trade" or wire.type != "update":
        return None
    out: list[TradeFields] = []
    plain_pair = POSITIVE_PAIR.fullmatch
    for t in wire.data:
        tid, price, size = t.trade_id, text(t.price), text(t.qty)
        side = SIDES.get(t.side) if type(t.side) is str else None
        symbol = pairs.get(t.symbol) if type(t.symbol) is str else None
        if (
            symbol is None
            or type(tid) is not int
            or tid < 0
            or side is None
            or type(price) is not str
            or type(size) is not str
            or plain_pair(price + "," + size) is None
        ):
            return None
        try:
            ms = parse_rfc3339(t.timestamp, "timestamp")
        except FrameError:
            return None
        out.append((symbol, tid, ms, price, size, side))
    return out
