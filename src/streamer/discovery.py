"""Turning market selectors into symbols before any feed starts (the asyncio shell).

When a venue's symbols setting names a market (`all`, `quote:USDT`, `top:100`, see
`selectors.py`), `resolve` asks that venue what trades (its `VenueSpec.resolve`, e.g. Binance's
`exchangeInfo`). The venue's REST client retries until the venue answers (capped, jittered
backoff; request weight and Retry-After honoured), logging what it waits for, so a service
started during an outage comes up on its own once the venue is back. While the service runs,
each source resolves its selector again (`sources/rediscovery.py`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import httpx

from streamer.retry import Sleep
from streamer.settings import Settings
from streamer.sources.base import Clock
from streamer.sources.rediscovery import Change, Rediscovery, change, rediscover
from streamer.venues import VENUES

__all__ = ["Change", "Rediscovery", "change", "rediscover", "resolve"]
log = logging.getLogger(__name__)


async def resolve(
    settings: Settings,
    *,
    clock: Clock,
    sleep: Sleep = asyncio.sleep,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Settings:
    """`settings` with every selector replaced by the symbols it names today."""
    venues = dict(settings.venues)
    for spec in VENUES:
        current = venues[spec.name]
        selector = current.selector
        if spec.name not in settings.sources or selector is None or spec.resolve is None:
            continue
        log.info("discovery.start source=%s selector=%s", spec.name, selector)
        symbols, trading = await spec.resolve(
            current, selector, clock=clock, sleep=sleep, transport=transport
        )
        log.info("discovery.done source=%s selector=%s symbols=%d trading=%d", spec.name,
                 selector, len(symbols), trading)  # fmt: skip
        venues[spec.name] = replace(current, symbols=symbols)
    return replace(settings, venues=venues)
