"""Binance USD-M's REST client and its listing (`https://fapi.binance.com`).

`UsdmRest` is Spot's `BinanceRest` with USD-M's paths and weights (venues.md 1.2): 2,400
request weight a minute per IP; `/fapi/v1/depth` weighs 2 to 20 by `limit` (1,000 levels, the
most, weigh 20); `/fapi/v1/aggTrades` and `historicalTrades` 20; `openInterest` 1;
`exchangeInfo` 1; `ticker/24hr` of every symbol 40. `fundingRate` and `fundingInfo` are counted
at 1 here, and paced apart (`usdm_funding`): Binance's docs give them a limit of their own, 500
requests per 5 minutes per IP, shared by the two (verify; not in venues.md). Trades are
backfilled by `fromId`, 1,000 a page, as on Spot; candles from `/fapi/v1/klines`, 1,000 a page,
which weighs 1, 2, 5 or 10 by `limit` (under 100, under 500, up to 1,000, above: Binance's
Kline-Candlestick-Data page; venues.md does not list it), so a page of 1,000 weighs 5.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar

import httpx

from streamer.errors import FrameError
from streamer.retry import Sleep
from streamer.selectors import Selector, choose, json_body
from streamer.sources.base import Clock
from streamer.venues.binance.rest import BinanceRest
from streamer.venues.binance.usdm_rest import instruments, listings
from streamer.venues.binance.usdm_streams import EXCHANGE_USDM

DEPTH_PATH = "/fapi/v1/depth"
SNAPSHOT_LEVELS = 1000  # the most a futures snapshot gives
EXCHANGE_INFO = "/fapi/v1/exchangeInfo"
TICKERS = "/fapi/v1/ticker/24hr"
OPEN_INTEREST = "/fapi/v1/openInterest"
FUNDING_RATE = "/fapi/v1/fundingRate"
FUNDING_INFO = "/fapi/v1/fundingInfo"
KLINES_PATH = "/fapi/v1/klines"
_KLINE_WEIGHTS = ((99, 1), (499, 2), (1000, 5))  # limit up to -> weight; above: 10
_WEIGHTS = {"/fapi/v1/aggTrades": 20, "/fapi/v1/historicalTrades": 20, EXCHANGE_INFO: 1,
            OPEN_INTEREST: 1, FUNDING_RATE: 1, FUNDING_INFO: 1}  # fmt: skip
_DEPTH_WEIGHTS = ((50, 2), (100, 5), (500, 10))  # limit up to -> weight; above: 20


def request_weight(path: str, params: Mapping[str, str]) -> int:
    """USD-M's documented weight of a GET."""
    if path == DEPTH_PATH:
        limit = int(params["limit"]) if params.get("limit", "").isdigit() else 500
        return next((w for top, w in _DEPTH_WEIGHTS if limit <= top), 20)
    if path == KLINES_PATH:
        limit = int(params["limit"]) if params.get("limit", "").isdigit() else 500
        return next((w for top, w in _KLINE_WEIGHTS if limit <= top), 10)
    if path == TICKERS:
        return 1 if "symbol" in params else 40
    return _WEIGHTS.get(path, 1)


class UsdmRest(BinanceRest):
    """`BinanceRest` within USD-M's weight (2400 a minute), on its paths."""

    exchange = EXCHANGE_USDM
    weight_limit = 2400
    trades_paths: ClassVar[Mapping[str, str]] = {
        "trade": "/fapi/v1/historicalTrades",
        "aggTrade": "/fapi/v1/aggTrades",
    }
    klines_path: ClassVar[str] = KLINES_PATH

    def request_weight(self, path: str, params: Mapping[str, str]) -> int:
        return request_weight(path, params)


async def symbols(rest: UsdmRest, selector: Selector) -> tuple[tuple[str, ...], int]:
    """(the contracts `selector` picks, how many of its kinds trade), from `exchangeInfo`
    (ranked by `ticker/24hr` quote volume when it asks for the top N)."""
    info = await rest.get(EXCHANGE_INFO, {})
    listed = listings(instruments(info, rest.clock()))
    if selector.top:
        rows = json_body(await rest.get(TICKERS, {}), "ticker/24hr")
        if type(rows) is not list:
            raise FrameError("ticker/24hr is not a JSON array")
        volumes = {r.get("symbol"): float(r.get("quoteVolume") or 0) for r in rows
                   if type(r) is dict}  # fmt: skip
        listed = [replace(item, quote_volume=volumes.get(item.native, 0.0)) for item in listed]
    kinds = selector.kinds
    trading = sum(1 for item in listed if item.trading and (not kinds or item.kind in kinds))
    return choose(listed, selector), trading


async def resolve(
    settings: Any,
    selector: Selector,
    *,
    clock: Clock,
    sleep: Sleep,
    transport: httpx.AsyncBaseTransport | None,
) -> tuple[tuple[str, ...], int]:
    """`symbols` at start, on a REST client of its own."""
    async with UsdmRest(settings.rest_url, clock=clock, sleep=sleep, transport=transport) as rest:
        return await symbols(rest, selector)
