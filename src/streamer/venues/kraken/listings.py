"""Kraken's listing at start: the pairs a selector picks, on a REST client of its own."""

from __future__ import annotations

from typing import Any

import httpx

from streamer.retry import Sleep
from streamer.selectors import Selector
from streamer.sources.base import Clock
from streamer.venues.kraken.rest import KrakenRest
from streamer.venues.kraken.source import symbols


async def resolve(
    settings: Any,
    selector: Selector,
    *,
    clock: Clock,
    sleep: Sleep,
    transport: httpx.AsyncBaseTransport | None,
) -> tuple[tuple[str, ...], int]:
    async with KrakenRest(settings.rest_url, clock=clock, sleep=sleep, transport=transport) as rest:
        return await symbols(rest, selector)
