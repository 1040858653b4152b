"""Turning market selectors into symbols, from the venues' own listings (the asyncio shell).

When `STREAMER_BINANCE_SYMBOLS` or `STREAMER_COINBASE_SYMBOLS` names a market (`all`,
`quote:USDT`, `top:100`, see `selectors.py`), `resolve` asks the venue what trades before any
feed starts: Binance `GET /api/v3/exchangeInfo` (weight 20; plus `ticker/24hr`, weight 80, to
rank by volume), Coinbase `GET /api/v3/brokerage/market/products`. The REST client retries
until the venue answers (capped, jittered backoff; Binance's request weight and Retry-After
honoured), logging what it waits for, so a service started during an outage comes up on its
own once the venue is back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TypeVar

import httpx

from streamer.retry import Sleep
from streamer.selectors import Selector, binance_listings, choose, coinbase_listings
from streamer.settings import Settings
from streamer.sources.base import Clock
from streamer.sources.binance_rest import BinanceRest
from streamer.sources.coinbase_rest import CoinbaseRest

log = logging.getLogger(__name__)
_Rest = TypeVar("_Rest", BinanceRest, CoinbaseRest)


async def binance_symbols(rest: BinanceRest, selector: Selector) -> tuple[tuple[str, ...], int]:
    """(the symbols `selector` picks, how many spot symbols trade)."""
    info = await rest.get("/api/v3/exchangeInfo", {"permissions": '["SPOT"]'})
    tickers = await rest.get("/api/v3/ticker/24hr", {}) if selector.top else None
    listings = binance_listings(info, tickers)
    return choose(listings, selector), sum(1 for item in listings if item.trading)


async def coinbase_symbols(rest: CoinbaseRest, selector: Selector) -> tuple[tuple[str, ...], int]:
    body = await rest.get("/api/v3/brokerage/market/products", {"product_type": "SPOT"})
    listings = coinbase_listings(body)
    return choose(listings, selector), sum(1 for item in listings if item.trading)


async def resolve(
    settings: Settings,
    *,
    clock: Clock,
    sleep: Sleep = asyncio.sleep,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Settings:
    """`settings` with every selector replaced by the symbols it names today."""
    binance, coinbase = settings.binance, settings.coinbase
    if "binance" in settings.sources and binance.selector is not None:
        rest = BinanceRest(binance.rest_url, clock=clock, sleep=sleep, transport=transport)
        found = await _discover("binance", binance.selector, rest, binance_symbols)
        binance = replace(binance, symbols=found)
    if "coinbase" in settings.sources and coinbase.selector is not None:
        products = CoinbaseRest(coinbase.rest_url, clock=clock, sleep=sleep, transport=transport)
        found = await _discover("coinbase", coinbase.selector, products, coinbase_symbols)
        coinbase = replace(coinbase, symbols=found)
    return replace(settings, binance=binance, coinbase=coinbase)


async def _discover(
    source: str,
    selector: Selector,
    rest: _Rest,
    pick: Callable[[_Rest, Selector], Awaitable[tuple[tuple[str, ...], int]]],
) -> tuple[str, ...]:
    log.info("discovery.start source=%s selector=%s url=%s", source, selector, rest.base_url)
    async with rest:
        symbols, trading = await pick(rest, selector)
    log.info("discovery.done source=%s selector=%s symbols=%d trading=%d", source, selector,
             len(symbols), trading)  # fmt: skip
    return symbols
