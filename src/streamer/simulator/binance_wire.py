"""Binance Spot payloads rendered from the synthetic market, in the venue's exact shapes."""

from __future__ import annotations

from typing import Any

from streamer.simulator.market import Candle, Market, Notation, Trade, quote_text, size_text

INTERVALS_MS = {
    "1s": 1_000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000,
    "30m": 1_800_000, "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000,
    "8h": 28_800_000, "12h": 43_200_000, "1d": 86_400_000,
}  # fmt: skip
NOTATION = Notation(decimals=8, trim=False)


def native(symbol: str) -> str:
    return symbol.replace("-", "")


def stream_prefix(symbol: str) -> str:
    """`BTC-USDT` -> `btcusdt`, as stream names spell it."""
    return native(symbol).lower()


def interval_name(interval_ms: int) -> str:
    for name, ms in INTERVALS_MS.items():
        if ms == interval_ms:
            return name
    return f"{interval_ms}ms"


def _p(ticks: int) -> str:
    return NOTATION.price(ticks)


def _signed(ticks: int) -> str:
    return ("-" if ticks < 0 else "") + _p(abs(ticks))


def trade(m: Market, t: Trade, event_time: int) -> dict[str, Any]:
    return {"e": "trade", "E": event_time, "s": native(m.symbol), "t": t.trade_id,
            "p": _p(t.price), "q": size_text(t.size), "T": t.time,
            "m": t.taker_side == "sell", "M": True}  # fmt: skip


def agg_trade(m: Market, t: Trade, event_time: int) -> dict[str, Any]:
    return {"e": "aggTrade", "E": event_time, "s": native(m.symbol), "a": t.trade_id,
            "p": _p(t.price), "q": size_text(t.size), "f": t.trade_id, "l": t.trade_id,
            "T": t.time, "m": t.taker_side == "sell", "M": True}  # fmt: skip


def depth(m: Market, levels: int) -> dict[str, Any]:
    return {
        "lastUpdateId": m.sequence,
        "bids": [[_p(p), size_text(s)] for p, s in m.top("bid", levels)],
        "asks": [[_p(p), size_text(s)] for p, s in m.top("ask", levels)],
    }


def ticker(m: Market, event_time: int) -> dict[str, Any]:
    (bid, bid_size), (ask, ask_size) = m.top("bid", 1)[0], m.top("ask", 1)[0]
    change = m.last_price - m.open_24h
    vwap = m.quote_volume_24h // m.volume_24h if m.volume_24h else m.last_price
    return {
        "e": "24hrTicker", "E": event_time, "s": native(m.symbol), "p": _signed(change),
        "P": f"{change / m.open_24h * 100:.3f}", "w": _p(vwap), "x": _p(m.open_24h),
        "c": _p(m.last_price), "Q": size_text(0), "b": _p(bid), "B": size_text(bid_size),
        "a": _p(ask), "A": size_text(ask_size), "o": _p(m.open_24h), "h": _p(m.high_24h),
        "l": _p(m.low_24h), "v": size_text(m.volume_24h), "q": quote_text(m.quote_volume_24h),
        "O": event_time - 86_400_000, "C": event_time, "F": m.first_trade_id,
        "L": m.next_trade_id - 1, "n": m.trade_count,
    }  # fmt: skip


def kline(m: Market, c: Candle, interval: str, closed: bool, event_time: int) -> dict[str, Any]:
    return {
        "e": "kline", "E": event_time, "s": native(m.symbol),
        "k": {
            "t": c.open_time, "T": c.close_time, "s": native(m.symbol), "i": interval,
            "f": c.first_id, "L": c.last_id, "o": _p(c.open), "c": _p(c.close),
            "h": _p(c.high), "l": _p(c.low), "v": size_text(c.volume), "n": c.trades,
            "x": closed, "q": quote_text(c.quote_volume), "V": size_text(c.volume // 2),
            "Q": quote_text(c.quote_volume // 2), "B": "0",
        },
    }  # fmt: skip


def rest_kline(c: Candle) -> list[Any]:
    return [c.open_time, _p(c.open), _p(c.high), _p(c.low), _p(c.close), size_text(c.volume),
            c.close_time, quote_text(c.quote_volume), c.trades, size_text(c.volume // 2),
            quote_text(c.quote_volume // 2), "0"]  # fmt: skip


_REST_TICKER = {  # GET /api/v3/ticker/24hr field -> the stream's 24hrTicker field
    "symbol": "s", "priceChange": "p", "priceChangePercent": "P", "weightedAvgPrice": "w",
    "prevClosePrice": "x", "lastPrice": "c", "lastQty": "Q", "bidPrice": "b", "bidQty": "B",
    "askPrice": "a", "askQty": "A", "openPrice": "o", "highPrice": "h", "lowPrice": "l",
    "volume": "v", "quoteVolume": "q", "openTime": "O", "closeTime": "C", "firstId": "F",
    "lastId": "L", "count": "n",
}  # fmt: skip


def rest_ticker(m: Market, now: int) -> dict[str, Any]:
    streamed = ticker(m, now)
    return {name: streamed[key] for name, key in _REST_TICKER.items()}
