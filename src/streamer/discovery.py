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
from dataclasses import replace

import httpx

from streamer.retry import Sleep
from streamer.selectors import Selector, binance_listings, choose, coinbase_listings
from streamer.settings import Settings
from streamer.sources.base import Clock
from streamer.sources.binance_rest import BinanceRest
from streamer.sources.coinbase_rest import CoinbaseRest

log = logging.getLogger(__name__)


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
        log.info("discovery.start source=binance selector=%s url=%s", binance.selector,
                 binance.rest_url)  # fmt: skip
        async with BinanceRest(
            binance.rest_url, clock=clock, sleep=sleep, transport=transport
        ) as rest:
            symbols, trading = await binance_symbols(rest, binance.selector)
        log.info("discovery.done source=binance selector=%s symbols=%d trading=%d",
                 binance.selector, len(symbols), trading)  # fmt: skip
        binance = replace(binance, symbols=symbols)
    if "coinbase" in settings.sources and coinbase.selector is not None:
        log.info("discovery.start source=coinbase selector=%s url=%s", coinbase.selector,
                 coinbase.rest_url)  # fmt: skip
        async with CoinbaseRest(
            coinbase.rest_url, clock=clock, sleep=sleep, transport=transport
        ) as rest:
            symbols, trading = await coinbase_symbols(rest, coinbase.selector)
        log.info("discovery.done source=coinbase selector=%s products=%d trading=%d",
                 coinbase.selector, len(symbols), trading)  # fmt: skip
        coinbase = replace(coinbase, symbols=symbols)
    return replace(settings, binance=binance, coinbase=coinbase)
