"""Turning market selectors into symbols, from the venues' own listings (the asyncio shell).

When `STREAMER_BINANCE_SYMBOLS` or `STREAMER_COINBASE_SYMBOLS` names a market (`all`,
`quote:USDT`, `top:100`, see `selectors.py`), `resolve` asks the venue what trades before any
feed starts: Binance `GET /api/v3/exchangeInfo` (weight 20; plus `ticker/24hr`, weight 80, to
rank by volume), Coinbase `GET /api/v3/brokerage/market/products`. The REST client retries
until the venue answers (capped, jittered backoff; Binance's request weight and Retry-After
honoured), logging what it waits for, so a service started during an outage comes up on its
own once the venue is back.

While the service runs, each source resolves its selector again every
`STREAMER_DISCOVERY_SECONDS` (`rediscover`): `change` says which symbols of this shard were
listed or halted/delisted since, and the source subscribes the new ones on new connections and
unsubscribes the others on theirs, leaving every other connection alone. A refresh that fails
keeps the current set, and so does one that would drop more than half of it: a venue-wide halt
(maintenance) is not a delisting, and unsubscribing everything would lose the hour until the
next refresh.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import httpx

from streamer.retry import Sleep
from streamer.selectors import Selector, binance_listings, choose, coinbase_listings
from streamer.settings import Settings
from streamer.sharding import Shard, select
from streamer.sources.base import Clock
from streamer.sources.binance_rest import BinanceRest
from streamer.sources.coinbase_rest import CoinbaseRest

log = logging.getLogger(__name__)
_Rest = TypeVar("_Rest", BinanceRest, CoinbaseRest)
MAX_DROPPED_SHARE = 0.5
"""A refresh that would unsubscribe more than this share of the symbols is not applied."""
MIN_REFRESH_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Rediscovery:
    """What a running source needs to resolve its market again."""

    selector: Selector
    shard: Shard
    every: float  # seconds between refreshes


@dataclass(frozen=True, slots=True)
class Change:
    added: tuple[str, ...]  # newly selected, in the venue's order
    removed: tuple[str, ...]  # no longer selected (halted, delisted, out of the top N)


def change(current: Sequence[str], found: Sequence[str]) -> Change | None:
    """What a refresh that found `found` changes in `current` (pure); None when it would drop
    more than `MAX_DROPPED_SHARE` of `current`, which is then kept."""
    now, then = set(found), set(current)
    removed = tuple(s for s in current if s not in now)
    if current and len(removed) > MAX_DROPPED_SHARE * len(current):
        return None
    return Change(tuple(s for s in found if s not in then), removed)


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


async def rediscover(
    source: str,
    rediscovery: Rediscovery,
    current: Callable[[], Sequence[str]],
    fetch: Callable[[Selector], Awaitable[tuple[tuple[str, ...], int]]],
    apply: Callable[[Change], Awaitable[None]],
    sleep: Sleep = asyncio.sleep,
) -> None:
    """Every `rediscovery.every` seconds: resolve the selector again (`fetch`, e.g.
    `binance_symbols` on the source's own REST client and weight budget), keep this shard's
    part, and `apply` what changed. Runs until cancelled; a failure only skips one refresh."""
    selector, shard = rediscovery.selector, rediscovery.shard
    timeout = max(rediscovery.every, MIN_REFRESH_TIMEOUT_SECONDS)
    while True:
        await sleep(rediscovery.every)
        held = current()
        try:
            async with asyncio.timeout(timeout):
                found, _ = await fetch(selector)
        except Exception as exc:  # any failure (REST refused, timeout): keep what runs
            log.warning("discovery.refresh_failed source=%s error=%r (keeping %d symbols)",
                        source, exc, len(held))  # fmt: skip
            continue
        mine = select(source, found, shard)
        delta = change(held, mine)
        if delta is None:
            log.warning("discovery.refresh_ignored source=%s found=%d held=%d: it would drop "
                        "more than half (a venue-wide halt?); keeping the current set",
                        source, len(mine), len(held))  # fmt: skip
            continue
        if delta.added or delta.removed:
            named = (*delta.added[:5], *(f"-{s}" for s in delta.removed[:5]))
            log.info("discovery.refresh source=%s added=%d removed=%d (%s)", source,
                     len(delta.added), len(delta.removed), ",".join(named))  # fmt: skip
            await apply(delta)
