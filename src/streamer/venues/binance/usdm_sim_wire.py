"""Binance USD-M payloads rendered from the synthetic market, in the venue's exact shapes (pure).

Shapes follow the recorded frames in `tests/fixtures/binance_usdm/` (and what `usdm_wire`,
`usdm_decode` and `usdm_rest` read): futures trades carry no `M`, `@trade` carries `X`, diff
events carry `T` and `pu`, the REST depth snapshot carries `E` and `T`. Prices go out with two
decimals (the market's 0.01 ticks, `tickSize` "0.01"), sizes with eight (`stepSize`
"0.00000001", the market's unit), mark, index and settle prices and funding rates with eight,
as Binance writes them. Weights are USD-M's (`weight`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from streamer.simulator.listing import Listing
from streamer.simulator.market import Candle, Market, Notation, Trade, quote_text, size_text
from streamer.venues.binance.usdm_streams import CONTRACT_SYMBOL, PERP, native_symbol

NOTATION = Notation(decimals=2, trim=False)
RATE_UNIT = 10**8  # mark prices and funding rates are integers of 1e-8
PERPETUAL_DELIVERY_MS = 4_133_404_800_000  # 2100-12-25 08:00 UTC: a perpetual's `deliveryDate`
ONBOARD_MS = 1_569_398_400_000  # 2019-09-25, BTCUSDT's `onboardDate`
DELIVERY_HOUR = 8  # dated contracts deliver at 08:00 UTC
MAX_KLINES_LIMIT = 1500


@dataclass(frozen=True, slots=True)
class Contract:
    """What `exchangeInfo` says of a listing beyond its names: `contractType`, `deliveryDate`,
    and the `PRICE_FILTER`'s `tickSize` it lists (a test may change it; the market itself
    keeps its 0.01 ticks)."""

    contract_type: str  # PERPETUAL, CURRENT_QUARTER, NEXT_QUARTER
    delivery_ms: int
    tick_size: str = "0.01"

    @property
    def perpetual(self) -> bool:
        return self.contract_type == "PERPETUAL"


def contract_of(symbol: str, contract_type: str | None = None) -> Contract:
    """`BTC-USDT-PERP` -> a perpetual; `BTC-USDT-260626` -> delivering on 2026-06-26 08:00 UTC
    (`contract_type` CURRENT_QUARTER unless another is given)."""
    match = CONTRACT_SYMBOL.fullmatch(symbol)
    if match is None:
        raise ValueError(f"{symbol!r} is not a USD-M symbol (BASE-QUOTE-PERP or BASE-QUOTE-YYMMDD)")
    tail = match.group(3)
    if tail == PERP:
        return Contract("PERPETUAL", PERPETUAL_DELIVERY_MS)
    day = datetime.strptime(tail, "%y%m%d").replace(hour=DELIVERY_HOUR, tzinfo=UTC)
    return Contract(contract_type or "CURRENT_QUARTER", int(day.timestamp() * 1000))


def stream_prefix(symbol: str) -> str:
    """`BTC-USDT-PERP` -> `btcusdt`, as stream names spell it."""
    return native_symbol(symbol).lower()


def _p(ticks: int) -> str:
    return NOTATION.price(ticks)


def fixed(units: int) -> str:
    """An integer of 1e-8 as signed decimal text with eight digits (`-0.00010000`)."""
    sign = "-" if units < 0 else ""
    units = abs(units)
    return f"{sign}{units // RATE_UNIT}.{units % RATE_UNIT:08d}"


def levels(book: list[tuple[int, int]]) -> list[list[str]]:
    """(price ticks, size units) pairs as the wire writes a book side."""
    return [[_p(p), size_text(s)] for p, s in book]


def agg_trade(m: Market, t: Trade, event_time: int) -> dict[str, Any]:
    """`<s>@aggTrade`: every simulated trade is its own aggregate."""
    return {"e": "aggTrade", "E": event_time, "a": t.trade_id, "s": native_symbol(m.symbol),
            "p": _p(t.price), "q": size_text(t.size), "f": t.trade_id, "l": t.trade_id,
            "T": t.time, "m": t.taker_side == "sell"}  # fmt: skip


def trade(m: Market, t: Trade, event_time: int) -> dict[str, Any]:
    return {"e": "trade", "E": event_time, "T": t.time, "s": native_symbol(m.symbol),
            "t": t.trade_id, "p": _p(t.price), "q": size_text(t.size), "X": "MARKET",
            "m": t.taker_side == "sell"}  # fmt: skip


def rest_agg_trade(t: Trade) -> dict[str, Any]:
    return {"a": t.trade_id, "p": _p(t.price), "q": size_text(t.size), "f": t.trade_id,
            "l": t.trade_id, "T": t.time, "m": t.taker_side == "sell"}  # fmt: skip


def diff(
    m: Market, first: int, final: int, previous: int, bids: list[tuple[int, int]],
    asks: list[tuple[int, int]], now: int,
) -> dict[str, Any]:  # fmt: skip
    """`<s>@depth@100ms`: update ids `U` to `u`, `pu` the previous event's `u`."""
    return {"e": "depthUpdate", "E": now, "T": now, "s": native_symbol(m.symbol), "U": first,
            "u": final, "pu": previous, "b": levels(bids), "a": levels(asks)}  # fmt: skip


def depth(m: Market, count: int, now: int) -> dict[str, Any]:
    """`GET /fapi/v1/depth`: `lastUpdateId` the market's update id, the one diffs count."""
    return {"lastUpdateId": m.sequence, "E": now, "T": now,
            "bids": levels(m.top("bid", count)), "asks": levels(m.top("ask", count))}  # fmt: skip


def kline(m: Market, c: Candle, interval: str, closed: bool, event_time: int) -> dict[str, Any]:
    native = native_symbol(m.symbol)
    return {
        "e": "kline", "E": event_time, "s": native,
        "k": {
            "t": c.open_time, "T": c.close_time, "s": native, "i": interval,
            "f": c.first_id, "L": c.last_id, "o": _p(c.open), "c": _p(c.close),
            "h": _p(c.high), "l": _p(c.low), "v": size_text(c.volume), "n": c.trades,
            "x": closed, "q": quote_text(c.quote_volume), "V": size_text(c.volume // 2),
            "Q": quote_text(c.quote_volume // 2), "B": "0",
        },
    }  # fmt: skip


def rest_kline(c: Candle) -> list[Any]:
    """A `GET /fapi/v1/klines` row: open time, open, high, low, close, volume, close time, quote
    volume, trades, taker buy volume and quote volume, and an ignored "0" (as on Spot)."""
    return [c.open_time, _p(c.open), _p(c.high), _p(c.low), _p(c.close), size_text(c.volume),
            c.close_time, quote_text(c.quote_volume), c.trades, size_text(c.volume // 2),
            quote_text(c.quote_volume // 2), "0"]  # fmt: skip


def klines(candles: list[Candle], params: Mapping[str, str]) -> list[list[Any]]:
    """`GET /fapi/v1/klines` of `candles` (oldest first, the open one last, as Binance includes
    it): those opened in `startTime` to `endTime`, at most `limit` (500 unless asked, 1500 at
    most)."""
    start, end = int(params.get("startTime", 0)), int(params.get("endTime", 2**62))
    limit = min(int(params.get("limit", 500)), MAX_KLINES_LIMIT)
    return [rest_kline(c) for c in candles if start <= c.open_time <= end][:limit]


def ticker(m: Market, event_time: int) -> dict[str, Any]:
    """`<s>@ticker`: futures' 24hrTicker has no best bid and ask (those are `bookTicker`)."""
    change = m.last_price - m.open_24h
    vwap = m.quote_volume_24h // m.volume_24h if m.volume_24h else m.last_price
    sign = "-" if change < 0 else ""
    return {
        "e": "24hrTicker", "E": event_time, "s": native_symbol(m.symbol),
        "p": sign + _p(abs(change)), "P": f"{change / m.open_24h * 100:.3f}", "w": _p(vwap),
        "c": _p(m.last_price), "Q": size_text(0), "o": _p(m.open_24h), "h": _p(m.high_24h),
        "l": _p(m.low_24h), "v": size_text(m.volume_24h), "q": quote_text(m.quote_volume_24h),
        "O": event_time - 86_400_000, "C": event_time, "F": m.first_trade_id,
        "L": m.next_trade_id - 1, "n": m.trade_count,
    }  # fmt: skip


def rest_ticker(m: Market, now: int) -> dict[str, Any]:
    """`GET /fapi/v1/ticker/24hr` of one symbol: the stream's fields under their REST names."""
    streamed = ticker(m, now)
    return {name: streamed[key] for name, key in _REST_TICKER.items()}


_REST_TICKER = {  # GET /fapi/v1/ticker/24hr field -> the stream's 24hrTicker field
    "symbol": "s", "priceChange": "p", "priceChangePercent": "P", "weightedAvgPrice": "w",
    "lastPrice": "c", "lastQty": "Q", "openPrice": "o", "highPrice": "h", "lowPrice": "l",
    "volume": "v", "quoteVolume": "q", "openTime": "O", "closeTime": "C", "firstId": "F",
    "lastId": "L", "count": "n",
}  # fmt: skip


def mark_price(
    native: str, mark: int, index: int, settle: int, rate: int | None, next_funding: int, now: int
) -> dict[str, Any]:
    """One element of `!markPrice@arr@1s` (prices and rate in 1e-8); a dated contract has no
    funding: `r` "" and `T` 0."""
    return {"e": "markPriceUpdate", "E": now, "s": native, "p": fixed(mark), "i": fixed(index),
            "P": fixed(settle), "r": "" if rate is None else fixed(rate),
            "T": next_funding}  # fmt: skip


def force_order(
    native: str, side: str, price: int, average: int, size: int, now: int
) -> dict[str, Any]:
    """`!forceOrder@arr`: a liquidation order, filled whole (`side` BUY or SELL)."""
    order = {"s": native, "S": side, "o": "LIMIT", "f": "IOC", "q": size_text(size),
             "p": _p(price), "ap": _p(average), "X": "FILLED", "l": size_text(size),
             "z": size_text(size), "T": now}  # fmt: skip
    return {"e": "forceOrder", "E": now, "o": order}


def open_interest(native: str, units: int, now: int) -> dict[str, Any]:
    return {"openInterest": size_text(units), "symbol": native, "time": now}


def funding_row(native: str, funding_time: int, rate: int, mark: int) -> dict[str, Any]:
    """A `GET /fapi/v1/fundingRate` row: a settled funding."""
    return {"symbol": native, "fundingRate": fixed(rate), "fundingTime": funding_time,
            "markPrice": fixed(mark)}  # fmt: skip


def funding_info(native: str, hours: int) -> dict[str, Any]:
    """A `GET /fapi/v1/fundingInfo` row (listed only for symbols off the default interval)."""
    return {"symbol": native, "adjustedFundingRateCap": "0.03000000",
            "adjustedFundingRateFloor": "-0.03000000", "fundingIntervalHours": hours,
            "disclaimer": False}  # fmt: skip


def symbol_info(listing: Listing, contract: Contract) -> dict[str, Any]:
    native = native_symbol(listing.symbol)
    return {
        "symbol": native, "pair": f"{listing.base}{listing.quote}",
        "contractType": contract.contract_type, "deliveryDate": contract.delivery_ms,
        "onboardDate": ONBOARD_MS, "status": listing.status, "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000", "baseAsset": listing.base,
        "quoteAsset": listing.quote, "marginAsset": listing.quote, "pricePrecision": 2,
        "quantityPrecision": 8, "baseAssetPrecision": 8, "quotePrecision": 8,
        "underlyingType": "COIN", "underlyingSubType": [], "settlePlan": 0,
        "triggerProtect": "0.0500", "liquidationFee": "0.012500", "marketTakeBound": "0.05",
        "filters": [
            {"minPrice": "0.01", "maxPrice": "1000000", "filterType": "PRICE_FILTER",
             "tickSize": contract.tick_size},
            {"stepSize": "0.00000001", "filterType": "LOT_SIZE", "maxQty": "1000",
             "minQty": "0.00000001"},
            {"stepSize": "0.00000001", "filterType": "MARKET_LOT_SIZE", "maxQty": "120",
             "minQty": "0.00000001"},
            {"limit": 200, "filterType": "MAX_NUM_ORDERS"},
            {"notional": "5", "filterType": "MIN_NOTIONAL"},
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT",
                       "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
    }  # fmt: skip


def exchange_info(
    listings: list[tuple[Listing, Contract]], now: int, weight_limit: int
) -> dict[str, Any]:
    rate_limits = [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
         "limit": weight_limit},
        {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
    ]  # fmt: skip
    quotes = sorted({item.quote for item, _ in listings})
    return {"timezone": "UTC", "serverTime": now, "futuresType": "U_MARGINED",
            "rateLimits": rate_limits, "exchangeFilters": [],
            "assets": [{"asset": q, "marginAvailable": True, "autoAssetExchange": "-100"}
                       for q in quotes],
            "symbols": [symbol_info(item, c) for item, c in listings]}  # fmt: skip


_DEPTH_WEIGHTS = ((50, 2), (100, 5), (500, 10))  # limit up to -> weight; up to 1000: 20
_KLINE_WEIGHTS = ((99, 1), (499, 2), (1000, 5))  # limit up to -> weight; above: 10
_FIXED_WEIGHTS = {"/aggTrades": 20, "/trades": 5, "/historicalTrades": 20}


def weight(endpoint: str, params: Mapping[str, str]) -> int:
    """USD-M's request weight of a GET (venues.md 1.2: depth 2/5/10/20 by limit, aggTrades
    20, openInterest 1; klines 1/2/5/10 by limit, Binance's Kline-Candlestick-Data); 1
    otherwise (`exchangeInfo`, `fundingRate`, `fundingInfo`, `time`, `ping`); `ticker/24hr`
    without a symbol 40."""
    if endpoint == "/depth":
        raw = params.get("limit", "500")
        limit = int(raw) if raw.isdigit() else 500
        return next((w for top, w in _DEPTH_WEIGHTS if limit <= top), 20)
    if endpoint == "/klines":
        raw = params.get("limit", "500")
        limit = int(raw) if raw.isdigit() else 500
        return next((w for top, w in _KLINE_WEIGHTS if limit <= top), 10)
    if endpoint == "/ticker/24hr" and "symbol" not in params:
        return 40
    return _FIXED_WEIGHTS.get(endpoint, 1)
