"""Kraken v2 payload entries -> normalized rows (pure), shared by the decoder and REST.

Numbers arrive as JSON numbers; the decoder parses them with their text kept
(`wire.DECODER`), so each value here is the venue's digits (an integer may still come as an
`int`, whose text is exact). Timestamps are RFC 3339 with microseconds (`2023-10-06T17:35:55.
440295Z`); `micros` keeps them, for the book's `sequence`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streamer.errors import FrameError
from streamer.ids import record_id
from streamer.numbers import ANY, NON_NEGATIVE, POSITIVE, book_numbers, dec, dec_pair, opt_dec
from streamer.records import Candle, Dec, Levels, Millis, Ticker, Trade
from streamer.timefmt import parse_rfc3339
from streamer.venues.kraken.symbols import EXCHANGE

SIDES = {"buy": "buy", "sell": "sell"}  # v2 writes the taker's side
_new_row = tuple.__new__


def text(value: object) -> object:
    """A number's text: kept as sent (a str) or an exact integer's digits."""
    return str(value) if type(value) is int else value


def micros(value: object, field: str) -> tuple[Millis, int]:
    """An RFC 3339 timestamp -> (epoch ms, epoch µs)."""
    ms = parse_rfc3339(value, field)
    assert type(value) is str
    fraction = value[20:-1] if len(value) > 20 and value[19] == "." else ""
    return ms, ms * 1000 + int((fraction + "000000")[3:6] or 0)


def levels(entries: object, field: str) -> Levels:
    """A side's `[{"price", "qty"}, ...]` -> ((price, qty), ...), prices > 0, quantities >= 0."""
    if type(entries) is not list:
        raise FrameError(f"field {field!r} is not an array")
    if not entries:
        return ()  # an update often sets one side only
    values: list[str] = []
    add = values.append
    for entry in entries:
        if type(entry) is not dict:
            raise FrameError(f"a level of {field!r} is not an object: {entry!r}"[:200])
        add(str(text(entry["price"])))
        add(str(text(entry["qty"])))
    checked = book_numbers(values, slice(0, None, 2), ("price", "qty"))
    return tuple(zip(checked[0::2], checked[1::2], strict=True))


def trade_row(
    symbol: str, entry: dict[str, Any], received_at: Millis, ids: Callable[[object], str]
) -> Trade:
    trade_id = entry["trade_id"]
    if type(trade_id) is not int or trade_id < 0:
        raise FrameError(f"field 'trade_id' is not an id: {trade_id!r}"[:200])
    side = SIDES.get(entry["side"]) if type(entry["side"]) is str else None
    if side is None:
        raise FrameError(f"field 'side' is not buy or sell: {entry['side']!r}"[:200])
    price, size = dec_pair(text(entry["price"]), text(entry["qty"]), ("price", "qty"))
    event_time = parse_rfc3339(entry["timestamp"], "timestamp")
    return _new_row(Trade, (EXCHANGE, symbol, event_time, received_at, str(trade_id), price,
                            size, side, ids(trade_id)))  # fmt: skip


def ticker_row(symbol: str, entry: dict[str, Any], received_at: Millis) -> Ticker:
    """A `ticker` entry; `timestamp` (newer frames) is its time, else the receive time."""
    stamp = entry.get("timestamp")
    event_time = received_at if stamp is None else parse_rfc3339(stamp, "timestamp")
    get = entry.get

    def num(name: str, sign: int) -> Dec | None:
        return opt_dec(text(get(name)), name, sign)

    last = dec(text(entry["last"]), "last", POSITIVE)
    return Ticker(
        exchange=EXCHANGE,
        symbol=symbol,
        event_time=event_time,
        received_at=received_at,
        last_price=last,
        best_bid=num("bid", NON_NEGATIVE),
        best_bid_size=num("bid_qty", NON_NEGATIVE),
        best_ask=num("ask", NON_NEGATIVE),
        best_ask_size=num("ask_qty", NON_NEGATIVE),
        open_24h=None,
        high_24h=num("high", POSITIVE),
        low_24h=num("low", POSITIVE),
        volume_24h=num("volume", NON_NEGATIVE),
        quote_volume_24h=None,
        price_change_pct_24h=num("change_pct", ANY),
        trade_count_24h=None,
        record_id=record_id(EXCHANGE, symbol, "ticker", event_time, last),
    )


def candle_row(symbol: str, entry: dict[str, Any], received_at: Millis, *, closed: bool) -> Candle:
    """An `ohlc` entry: its candle (`interval` minutes from `interval_begin`). A closed candle's
    `record_id` leaves its last update's time out, so every copy of it shares one id."""
    minutes = entry["interval"]
    if type(minutes) is not int or not 0 < minutes <= 21_600:
        raise FrameError(f"field 'interval' is not minutes: {minutes!r}"[:200])
    label = f"{minutes}m"
    open_time = parse_rfc3339(entry["interval_begin"], "interval_begin")
    stamp = entry.get("timestamp")
    event_time = received_at if stamp is None else parse_rfc3339(stamp, "timestamp")
    trades = entry.get("trades")
    if trades is not None and (type(trades) is not int or trades < 0):
        raise FrameError(f"field 'trades' is not a count: {trades!r}"[:200])
    rid = (
        record_id(EXCHANGE, symbol, "ohlcv", label, open_time)
        if closed
        else record_id(EXCHANGE, symbol, "ohlcv", label, open_time, event_time)
    )
    return Candle(
        exchange=EXCHANGE,
        symbol=symbol,
        event_time=event_time,
        received_at=received_at,
        interval=label,
        open_time=open_time,
        close_time=Millis(open_time + minutes * 60_000 - 1),
        open=dec(text(entry["open"]), "open", POSITIVE),
        high=dec(text(entry["high"]), "high", POSITIVE),
        low=dec(text(entry["low"]), "low", POSITIVE),
        close=dec(text(entry["close"]), "close", POSITIVE),
        volume=dec(text(entry["volume"]), "volume", NON_NEGATIVE),
        quote_volume=None,
        trade_count=trades,
        is_closed=closed,
        origin="ws",
        record_id=rid,
    )
