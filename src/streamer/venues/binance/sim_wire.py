"""Binance Spot payloads rendered from the synthetic market, in the venue's exact shapes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from streamer.simulator.listing import Listing
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


def rest_trade(t: Trade) -> dict[str, Any]:
    """A `historicalTrades` (or `trades`) row."""
    return {"id": t.trade_id, "price": _p(t.price), "qty": size_text(t.size),
            "quoteQty": quote_text(t.size * t.price), "time": t.time,
            "isBuyerMaker": t.taker_side == "sell", "isBestMatch": True}  # fmt: skip


def rest_agg_trade(t: Trade) -> dict[str, Any]:
    """An `aggTrades` row (every simulated trade is its own aggregate)."""
    return {"a": t.trade_id, "p": _p(t.price), "q": size_text(t.size), "f": t.trade_id,
            "l": t.trade_id, "T": t.time, "m": t.taker_side == "sell", "M": True}  # fmt: skip


def levels(book: list[tuple[int, int]]) -> list[list[str]]:
    """(price ticks, size units) pairs as the wire writes a book side."""
    return [[_p(p), size_text(s)] for p, s in book]


def depth(m: Market, count: int) -> dict[str, Any]:
    return {
        "lastUpdateId": m.sequence,
        "bids": levels(m.top("bid", count)),
        "asks": levels(m.top("ask", count)),
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


_DEPTH_WEIGHTS = ((100, 5), (500, 25), (1000, 50))  # limit up to -> weight; above: 250
_FIXED_WEIGHTS = {"/exchangeInfo": 20, "/klines": 2, "/uiKlines": 2, "/aggTrades": 4,
                  "/trades": 25, "/historicalTrades": 25}  # fmt: skip


def weight(endpoint: str, params: Mapping[str, str]) -> int:
    """The documented request weight of a GET (exchanges.md 1.8, 1.11, 1.12); 1 otherwise."""
    if endpoint == "/depth":
        limit = int(params.get("limit", 100)) if params.get("limit", "").isdigit() else 100
        return next((w for top, w in _DEPTH_WEIGHTS if limit <= top), 250)
    if endpoint == "/ticker/24hr":
        if "symbol" in params:
            return 2
        if "symbols" not in params:
            return 80
        try:
            count = len(orjson.loads(params["symbols"]))
        except (orjson.JSONDecodeError, TypeError):
            return 2
        return 2 if count <= 20 else 40 if count <= 100 else 80
    return _FIXED_WEIGHTS.get(endpoint, 1)


def _permissions(listing: Listing) -> list[str]:
    return ["SPOT", "MARGIN"] if listing.margin else ["SPOT"]


def select(listings: list[Listing], params: Mapping[str, str]) -> list[Listing] | None:
    """The listings an exchangeInfo query asks for (None: `symbolStatus` with a symbol)."""
    if "symbol" in params or "symbols" in params:
        if "symbolStatus" in params:
            return None
        wanted = {params["symbol"]} if "symbol" in params else set(orjson.loads(params["symbols"]))
        listings = [item for item in listings if native(item.symbol) in wanted]
    if "symbolStatus" in params:
        listings = [item for item in listings if item.status == params["symbolStatus"]]
    if "permissions" in params:
        raw = params["permissions"]
        asked = set(orjson.loads(raw)) if raw.startswith("[") else {raw}
        listings = [item for item in listings if asked & set(_permissions(item))]
    return listings


def symbol_info(listing: Listing) -> dict[str, Any]:
    return {
        "symbol": native(listing.symbol), "status": listing.status,
        "baseAsset": listing.base, "baseAssetPrecision": 8,
        "quoteAsset": listing.quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True, "ocoAllowed": True, "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": listing.margin,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.01000000",
             "maxPrice": "1000000.00000000", "tickSize": "0.01000000"},
            {"filterType": "LOT_SIZE", "minQty": "0.00000001", "maxQty": "9000.00000000",
             "stepSize": "0.00000001"},
        ],
        "permissions": [], "permissionSets": [_permissions(listing)],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }  # fmt: skip


def exchange_info(listings: list[Listing], now: int, weight_limit: int) -> dict[str, Any]:
    rate_limits = [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
         "limit": weight_limit},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
        {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
        {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5,
         "limit": 61000},
    ]  # fmt: skip
    return {"timezone": "UTC", "serverTime": now, "rateLimits": rate_limits,
            "exchangeFilters": [], "symbols": [symbol_info(item) for item in listings]}  # fmt: skip
