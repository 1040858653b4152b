"""Binance Spot's fields checked, and trade rows built: shared by the stream decoder and REST
(pure). Each check raises `FrameError` (or `TypeError`/`ValueError`) naming what is wrong."""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain
from typing import Any, Literal

from streamer.errors import FrameError
from streamer.ids import record_id
from streamer.numbers import NON_NEGATIVE, POSITIVE, POSITIVE_PAIR, book_numbers, dec, dec_pair
from streamer.records import Candle, Levels, Millis, Ticker, Trade
from streamer.timefmt import MAX_MILLIS, epoch_millis

EXCHANGE = "binance"
_new_row = tuple.__new__
_PLAIN_PAIR = POSITIVE_PAIR.fullmatch
"""Builds a row from a tuple in field order: a third of a keyword `Trade(...)`'s cost."""


def count(value: object, field: str) -> int:
    if type(value) is not int or value < 0:
        raise FrameError(f"field {field!r} is not a count: {value!r}"[:200])
    return value


def flag(value: object, field: str) -> bool:
    if type(value) is not bool:
        raise FrameError(f"field {field!r} is not a boolean: {value!r}"[:200])
    return value


PAIR = frozenset({2})


def levels(levels: object, field: str) -> Any:
    """One side of a partial book as sent, `[[price, size], ...]` best first: its shape."""
    if type(levels) is not list:
        raise TypeError(f"field {field!r} is not a list")
    try:
        pairs = set(map(list.__len__, levels)) <= PAIR  # TypeError: a level is not a list
    except TypeError:
        pairs = False
    if not pairs:
        raise FrameError(f"field {field!r} holds a level that is not [price, size]")
    return levels


def as_sent(levels: Any, field: str) -> Any:
    return levels


_PRICES = slice(0, None, 2)
_LEVEL_FIELDS = {side: (f"{side} price", f"{side} size") for side in ("bids", "asks", "b", "a")}


def numbers(levels: Any, field: str, measured: bool = False) -> Levels:
    """A side's prices (> 0) and sizes (>= 0) checked at once, kept as the venue's pairs
    (`measured`: parsed as `SureFitText`)."""
    flat = list(chain.from_iterable(levels))
    numbers = book_numbers(flat, _PRICES, _LEVEL_FIELDS[field], measured)
    if numbers is flat:  # valid as sent
        return tuple(map(tuple, levels))
    it = iter(numbers)  # exponents rewritten: pair the new text two at a time
    return tuple(zip(it, it, strict=True))


def trade_row(
    symbol: str,
    trade_id: object,
    id_field: str,
    buyer_is_maker: object,
    event_time: object,
    price_text: object,
    size_text: object,
    received_at: Millis,
    record_id: Callable[[object], str],
    exchange: str = EXCHANGE,
) -> Trade:
    """A trade row from `@trade`/`@aggTrade` or REST `historicalTrades`/`aggTrades` fields,
    each checked (`FrameError`, or `ValueError` from the numbers, names what is wrong);
    `exchange` is `binance_usdm` for USD-M's."""
    if type(trade_id) is not int or trade_id < 0:
        raise FrameError(f"field {id_field!r} is not a count: {trade_id!r}"[:200])
    if type(buyer_is_maker) is not bool:
        raise FrameError(f"field 'm' is not a boolean: {buyer_is_maker!r}"[:200])
    if type(event_time) is not int or not 0 <= event_time <= MAX_MILLIS:
        raise FrameError(f"field 'T' is not epoch milliseconds: {event_time!r}"[:200])
    price, size = dec_pair(price_text, size_text, ("p", "q"))
    side = "sell" if buyer_is_maker else "buy"  # the taker's side
    return _new_row(Trade, (exchange, symbol, event_time, received_at, str(trade_id), price,
                            size, side, record_id(trade_id)))  # fmt: skip


def ticker_row(
    data: dict[str, Any],
    symbol: str,
    received_at: Millis,
    exchange: str = EXCHANGE,
    quotes: bool = True,
) -> Ticker:
    """A `24hrTicker` payload's row. USD-M's (`exchange` "binance_usdm", `quotes` False) has no
    best bid and ask (`b`, `B`, `a`, `A` are `bookTicker`'s): those four columns are null."""
    event_time = epoch_millis(data["E"], "E")
    return Ticker(
        exchange=exchange,
        symbol=symbol,
        event_time=event_time,
        received_at=received_at,
        last_price=dec(data["c"], "c", POSITIVE),
        best_bid=dec(data["b"], "b", NON_NEGATIVE) if quotes else None,
        best_bid_size=dec(data["B"], "B", NON_NEGATIVE) if quotes else None,
        best_ask=dec(data["a"], "a", NON_NEGATIVE) if quotes else None,
        best_ask_size=dec(data["A"], "A", NON_NEGATIVE) if quotes else None,
        open_24h=dec(data["o"], "o", POSITIVE),
        high_24h=dec(data["h"], "h", POSITIVE),
        low_24h=dec(data["l"], "l", POSITIVE),
        volume_24h=dec(data["v"], "v", NON_NEGATIVE),
        quote_volume_24h=dec(data["q"], "q", NON_NEGATIVE),
        price_change_pct_24h=dec(data["P"], "P"),
        trade_count_24h=count(data["n"], "n"),
        record_id=record_id(exchange, symbol, "ticker", event_time),
    )


def kline_row(
    data: dict[str, Any],
    k: dict[str, Any],
    interval: str,
    closed: bool,
    symbol: str,
    received_at: Millis,
    exchange: str = EXCHANGE,
) -> Candle:
    """A `kline` payload's row (`k` its candle, `interval` and `closed` checked): a closed
    candle's `record_id` leaves the event time out, so a REST backfill of it de-duplicates.
    USD-M's payload has the same shape (`exchange` "binance_usdm")."""
    event_time = epoch_millis(data["E"], "E")
    open_time = epoch_millis(k["t"], "t")
    rid = (
        record_id(exchange, symbol, "ohlcv", interval, open_time)
        if closed
        else record_id(exchange, symbol, "ohlcv", interval, open_time, event_time)
    )
    return Candle(
        exchange=exchange,
        symbol=symbol,
        event_time=event_time,
        received_at=received_at,
        interval=interval,
        open_time=open_time,
        close_time=epoch_millis(k["T"], "T"),
        open=dec(k["o"], "o", POSITIVE),
        high=dec(k["h"], "h", POSITIVE),
        low=dec(k["l"], "l", POSITIVE),
        close=dec(k["c"], "c", POSITIVE),
        volume=dec(k["v"], "v", NON_NEGATIVE),
        quote_volume=dec(k["q"], "q", NON_NEGATIVE),
        trade_count=count(k["n"], "n"),
        is_closed=closed,
        origin="ws",
        record_id=rid,
    )


def fast_trade(
    data: Any,
    trade_id: int,
    exchange: str,
    symbol: str,
    native: str,
    track: Any,
    gaps: Any,
    seed: Any,
    received_at: Millis,
) -> Trade | Literal[False] | None:
    """A typed `@trade`/`@aggTrade` payload's row, on the read path: `None` when it fails a
    check (the checked decoder then names the reject), `False` when its id is a repeat the
    trade gaps drop, else the row (its id tracked; its record id from `seed`, the hash of the
    stream's prefix)."""
    event_time, price, size = data.T, data.p, data.q
    if not (
        data.s == native
        and trade_id >= 0
        and 0 <= event_time <= MAX_MILLIS
        and _PLAIN_PAIR(price + "," + size) is not None
    ):
        return None
    if trade_id == track.last + 1:
        track.last = trade_id
        track.last_time = event_time
    elif not gaps.off_sequence(track, trade_id, event_time):
        return False
    text = str(trade_id)
    h = seed.copy()
    h.update(text.encode())
    return _new_row(Trade, (exchange, symbol, event_time, received_at, text, price, size,
                            "sell" if data.m else "buy", h.hexdigest()))  # fmt: skip
