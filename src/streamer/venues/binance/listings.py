"""Binance Spot's listing: which symbols exist and trade (`GET /api/v3/exchangeInfo`), ranked by
24 h quote volume (`GET /api/v3/ticker/24hr`) when a selector asks for the top N."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from streamer.errors import FrameError
from streamer.retry import Sleep
from streamer.selectors import NORMALIZED, Listing, Selector, choose, json_body
from streamer.sources.base import Clock
from streamer.venues.binance.rest import BinanceRest


def binance_listings(exchange_info: bytes | str, tickers: bytes | str | None) -> list[Listing]:
    """Spot symbols from `exchangeInfo`, with 24 h quote volumes from `ticker/24hr` if given.

    Trading means `status` TRADING and SPOT among `permissions` or `permissionSets`.
    """
    info = json_body(exchange_info, "exchangeInfo")
    volumes: Mapping[str, float] = {}
    if tickers is not None:
        rows = json_body(tickers, "ticker/24hr")
        if type(rows) is not list:
            raise FrameError("ticker/24hr is not a JSON array")
        volumes = {r["symbol"]: float(r.get("quoteVolume") or 0) for r in rows if type(r) is dict}
    if type(info) is not dict or type(info.get("symbols")) is not list:
        raise FrameError("exchangeInfo has no symbols list")
    out = []
    for s in info["symbols"]:
        base, quote, native = s.get("baseAsset"), s.get("quoteAsset"), s.get("symbol")
        symbol = f"{base}-{quote}"
        if not (NORMALIZED.fullmatch(symbol) and native == f"{base}{quote}"):
            continue  # a name the lake cannot write as BASE-QUOTE, or not BASE+QUOTE
        sets = s.get("permissionSets") or [s.get("permissions") or []]
        spot = any("SPOT" in group for group in sets if type(group) is list)
        trading = s.get("status") == "TRADING" and spot
        out.append(Listing(symbol, native, quote, trading, volumes.get(native, 0.0)))
    return out


async def symbols(rest: BinanceRest, selector: Selector) -> tuple[tuple[str, ...], int]:
    """(the symbols `selector` picks, how many spot symbols trade)."""
    info = await rest.get("/api/v3/exchangeInfo", {"permissions": '["SPOT"]'})
    tickers = await rest.get("/api/v3/ticker/24hr", {}) if selector.top else None
    listings = binance_listings(info, tickers)
    return choose(listings, selector), sum(1 for item in listings if item.trading)


async def resolve(
    settings: Any,
    selector: Selector,
    *,
    clock: Clock,
    sleep: Sleep,
    transport: httpx.AsyncBaseTransport | None,
) -> tuple[tuple[str, ...], int]:
    """`symbols` at start, on a REST client of its own."""
    async with BinanceRest(
        settings.rest_url, clock=clock, sleep=sleep, transport=transport
    ) as rest:
        return await symbols(rest, selector)
