"""Kraken payloads rendered from the synthetic market, in the venue's exact shapes (pure).

WebSocket v2 (docs.kraken.com/api/docs/websocket-v2/{book,trade,ticker,ohlc,status,
heartbeat,ping}): JSON objects whose prices and quantities are JSON *numbers* written with the
pair's full precision (`86000.10`, `0.50000000`), written as their text (`orjson.Fragment`)
rather than through floats, which would shorten them (a client that parses them through floats loses
the zeros the book checksum needs: that is its bug to have, not ours to hide). Prices carry
`PRICE_DECIMALS` (the market's 0.01 ticks: `pair_decimals` 2), quantities `LOT_DECIMALS` (the
market's 1e-8 units: `lot_decimals` 8). Timestamps are RFC 3339 with microseconds
(`interval_begin` with nanoseconds, as the venue writes it).

The book checksum here is the simulator's own, written from Kraken's description ("Book
checksum (WebSocket v2)") over the market's integers rather than text: a price in ticks of
0.01 written with two decimals, its point removed and leading zeros stripped, *is* the ticks'
decimal digits, and a quantity in units of 1e-8 with eight decimals is the units' digits. The
client (`checksum.py`) builds the same string from the text it received; a test comparing the
two therefore checks the client against the venue's rule, not against itself.

REST (`/0/public/...`): `{"error": [], "result": ...}`, decimals as strings, trade times as
seconds (a JSON number), `last` a nanosecond cursor (a string).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from streamer.simulator.market import Candle, Market, Notation, Trade
from streamer.venues.kraken.symbols import ws_symbol

PRICE_DECIMALS = 2
LOT_DECIMALS = 8
NOTATION = Notation(decimals=PRICE_DECIMALS, trim=False)
REST_PRICE = Notation(decimals=5, trim=False)  # REST writes `"105433.60000"` for a 0.1 tick
CHECKSUM_LEVELS = 10  # levels a side the checksum covers, whatever the depth
API_VERSION = "v2"
VERSION = "2.0.10"
Level = tuple[int, int]  # (price ticks, quantity units)


Raw = orjson.Fragment
"""A JSON number written exactly as its text."""


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def price(ticks: int) -> Raw:
    return Raw(NOTATION.price(ticks).encode())


def qty(units: int) -> Raw:
    return Raw(NOTATION.size(units).encode())


def signed(ticks: int) -> Raw:
    return Raw((("-" if ticks < 0 else "") + NOTATION.price(abs(ticks))).encode())


def micros_text(us: int) -> str:
    """Epoch microseconds -> `2026-07-10T00:00:00.000001Z`."""
    seconds = us // 1_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{us % 1_000_000:06d}Z"


def millis_text(ms: int) -> str:
    return micros_text(ms * 1000)


def nanos_text(ms: int) -> str:
    """`interval_begin`: nine digits of fraction."""
    return micros_text(ms * 1000)[:-1] + "000Z"


# ---- the book checksum (the simulator's own) -------------------------------------------------


def checksum(bids: Iterable[Level], asks: Iterable[Level]) -> int:
    """CRC32 of the top 10 asks (lowest first) then the top 10 bids (highest first), each level
    its price's digits then its quantity's (`bids`, `asks` best first)."""
    text = "".join(
        f"{p}{q}" for side in (asks, bids) for p, q in list(side)[:CHECKSUM_LEVELS]
    )  # ticks and units are the digits of the 2- and 8-decimal texts, without leading zeros
    return zlib.crc32(text.encode())


# ---- WebSocket v2 ----------------------------------------------------------------------------


def status(connection_id: int) -> str:
    return dumps({"channel": "status", "type": "update",
                  "data": [{"version": VERSION, "system": "online", "api_version": API_VERSION,
                            "connection_id": connection_id}]})  # fmt: skip


HEARTBEAT = dumps({"channel": "heartbeat"})


def answer(
    method: str | None, req_id: object, time_in: str, time_out: str, *,
    result: Mapping[str, Any] | None = None, error: str | None = None,
    symbol: str | None = None,
) -> str:  # fmt: skip
    """An acknowledgement: `result` and `success` true, or `error` and `success` false (a
    refused pair named by `symbol`; no `method` when the request named none)."""
    out: dict[str, Any] = {} if method is None else {"method": method}
    if error is None:
        out["result"] = dict(result or {})
        out["success"] = True
    else:
        out["error"] = error
        out["success"] = False
        if symbol is not None:
            out["symbol"] = symbol
    out["time_in"], out["time_out"] = time_in, time_out
    if req_id is not None:
        out["req_id"] = req_id
    return dumps(out)


def pong(req_id: object, time_in: str, time_out: str) -> str:
    out: dict[str, Any] = {"method": "pong"}
    if req_id is not None:
        out["req_id"] = req_id
    out["time_in"], out["time_out"] = time_in, time_out
    return dumps(out)


def v1_error(message: str) -> str:
    """The rate-limit answer as Kraken's docs quote it: `{"Error": "Exceeded msg rate"}`."""
    return dumps({"Error": message})


def subscription(channel: str, pair: str, arg: int, snapshot: bool | None) -> dict[str, Any]:
    """An acknowledgement's `result` (`snapshot` None: an unsubscribe's)."""
    result: dict[str, Any] = {"channel": channel}
    if channel == "book":
        result["depth"] = arg
    elif channel == "ohlc":
        result["interval"] = arg
    elif channel == "ticker" and snapshot is not None:
        result["event_trigger"] = "trades"
    if snapshot is not None:
        result["snapshot"] = snapshot
    result["symbol"] = pair
    return result


def _levels(levels: Iterable[Level]) -> list[dict[str, Raw]]:
    return [{"price": price(p), "qty": qty(q)} for p, q in levels]


def book(
    kind: str, symbol: str, bids: Iterable[Level], asks: Iterable[Level], crc: int, us: int
) -> str:
    """A `book` snapshot or update (`kind`) of one pair."""
    entry = {"symbol": ws_symbol(symbol), "bids": _levels(bids), "asks": _levels(asks),
             "checksum": crc, "timestamp": micros_text(us)}  # fmt: skip
    return dumps({"channel": "book", "type": kind, "data": [entry]})


def _trade(symbol: str, t: Trade) -> dict[str, Any]:
    return {"symbol": ws_symbol(symbol), "side": t.taker_side, "price": price(t.price),
            "qty": qty(t.size), "ord_type": "market" if t.trade_id % 3 else "limit",
            "trade_id": t.trade_id, "timestamp": millis_text(t.time)}  # fmt: skip


def trades(kind: str, symbol: str, items: Iterable[Trade]) -> str:
    return dumps({"channel": "trade", "type": kind,
                  "data": [_trade(symbol, t) for t in items]})  # fmt: skip


def _vwap(quote_volume: int, volume: int, fallback: int) -> int:
    return quote_volume // volume if volume else fallback


def ticker(kind: str, m: Market, now: int) -> str:
    """`ticker` (event_trigger `trades`): best bid and ask, last, 24 h figures."""
    bid, ask = m.best_bid(), m.best_ask()
    change = m.last_price - m.open_24h
    entry = {
        "symbol": ws_symbol(m.symbol), "bid": price(bid), "bid_qty": qty(m.bids[bid]),
        "ask": price(ask), "ask_qty": qty(m.asks[ask]), "last": price(m.last_price),
        "volume": qty(m.volume_24h),
        "vwap": price(_vwap(m.quote_volume_24h, m.volume_24h, m.last_price)),
        "low": price(m.low_24h), "high": price(m.high_24h), "change": signed(change),
        "change_pct": Raw(f"{change / m.open_24h * 100:.2f}".encode()),
        "timestamp": millis_text(now),
    }  # fmt: skip
    return dumps({"channel": "ticker", "type": kind, "data": [entry]})


def candle_entry(symbol: str, c: Candle, now: int) -> dict[str, Any]:
    return {
        "symbol": ws_symbol(symbol), "open": price(c.open), "high": price(c.high),
        "low": price(c.low), "close": price(c.close), "trades": c.trades,
        "volume": qty(c.volume), "vwap": price(_vwap(c.quote_volume, c.volume, c.close)),
        "interval_begin": nanos_text(c.open_time), "interval": c.interval_ms // 60_000,
        "timestamp": millis_text(now),
    }  # fmt: skip


def ohlc(kind: str, entries: list[dict[str, Any]]) -> str:
    return dumps({"channel": "ohlc", "type": kind, "data": entries})


# ---- REST ------------------------------------------------------------------------------------


def ok(result: Any) -> dict[str, Any]:
    return {"error": [], "result": result}


def error(*messages: str) -> dict[str, Any]:
    return {"error": list(messages)}


def trade_row(t: Trade) -> list[Any]:
    """`[price, volume, time, side, type, misc, trade_id]`; time in seconds as a JSON number."""
    seconds = Raw(f"{t.time // 1000}.{t.time % 1000:03d}0".encode())
    return [REST_PRICE.price(t.price), NOTATION.size(t.size), seconds,
            "b" if t.taker_side == "buy" else "s", "m" if t.trade_id % 3 else "l", "",
            t.trade_id]  # fmt: skip


def rest_candle(c: Candle) -> list[Any]:
    """An `OHLC` row `[time (s), open, high, low, close, vwap, volume, count]`, prices as REST
    writes them (`"105433.60000"`)."""
    p = REST_PRICE.price
    return [c.open_time // 1000, p(c.open), p(c.high), p(c.low), p(c.close),
            p(_vwap(c.quote_volume, c.volume, c.close)), NOTATION.size(c.volume),
            c.trades]  # fmt: skip


def nanos(t: Trade) -> int:
    return t.time * 1_000_000


def rest_ticker(m: Market) -> dict[str, Any]:
    """One pair of `Ticker`: a/b [price, whole lot volume, lot volume], c [last, volume],
    v/p/t [today, 24 h] (the market keeps only 24 h figures: both the same), l, h, o."""
    bid, ask = m.best_bid(), m.best_ask()
    p = REST_PRICE.price
    vwap = p(_vwap(m.quote_volume_24h, m.volume_24h, m.last_price))
    last = m.history[-1].size if m.history else 0
    volume = NOTATION.size(m.volume_24h)
    return {"a": [p(ask), "1", NOTATION.size(m.asks[ask])],
            "b": [p(bid), "1", NOTATION.size(m.bids[bid])],
            "c": [p(m.last_price), NOTATION.size(last)], "v": [volume, volume],
            "p": [vwap, vwap], "t": [m.trade_count, m.trade_count],
            "l": [p(m.low_24h)] * 2, "h": [p(m.high_24h)] * 2, "o": p(m.open_24h)}  # fmt: skip
