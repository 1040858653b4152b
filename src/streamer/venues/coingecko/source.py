"""CoinGecko REST poller: `/simple/price` -> `SpotPrice` rows, `/coins/markets` -> `Market` rows.

The decoding is pure (`decode.py`) and the polling shared (`sources/poller.py`: both endpoints
at start and then every `poll_seconds` on a monotonic schedule); this module says what is
CoinGecko's own. Requests stop after `MAX_ATTEMPTS` tries: HTTP 429 waits the `Retry-After`
seconds; 408, 5xx and network errors back off (`retry.py`). A request that still fails, or a
refusal such as 401/403, is logged with the setting to fix (`describe_refusal`) and the next
poll goes ahead as usual. The API key is sent in a header and never logged.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from functools import partial

import httpx
from tenacity import stop_after_attempt

from streamer.retry import Sleep
from streamer.sources.base import Clock, Emit, FeedStats
from streamer.sources.poller import Endpoint, Poller
from streamer.sources.rest import RestClient
from streamer.timefmt import now_millis
from streamer.venues.coingecko.decode import (
    SOURCE,
    auth_headers,
    decode_markets,
    decode_simple_price,
    describe_refusal,
    markets_params,
    simple_price_params,
)
from streamer.venues.coingecko.settings import CoinGeckoSettings

__all__ = ["MAX_ATTEMPTS", "CoinGeckoSource", "decode_markets", "decode_simple_price"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 4
"""Tries per request (the first and three retries); after that, the next poll tries again."""
REQUEST_TIMEOUT_SECONDS = 20.0


class CoinGeckoSource:
    """Polls `/simple/price` and `/coins/markets`; emits each response's items once."""

    name = SOURCE

    def __init__(
        self,
        settings: CoinGeckoSettings,
        *,
        clock: Clock = now_millis,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.stats = FeedStats()
        self._clock = clock
        self._sleep = sleep
        self._monotonic = monotonic
        self._transport = transport
        self._rng = rng or random.Random()
        self._headers = {"accept": "application/json", **auth_headers(settings)}
        prices = partial(
            decode_simple_price, coins=settings.coins, vs_currencies=settings.vs_currencies
        )
        endpoints = (
            Endpoint("/simple/price", simple_price_params(settings), prices),
            Endpoint("/coins/markets", markets_params(settings), decode_markets),
        )
        self.poller = Poller(SOURCE, endpoints, settings.poll_seconds, self.stats,
                             explain=describe_refusal,
                             context=f"plan={settings.plan} url={settings.url}",
                             clock=clock, sleep=sleep, monotonic=monotonic)  # fmt: skip

    def _client(self) -> RestClient:
        return RestClient(
            self.settings.url,
            source=SOURCE,
            sleep=self._sleep,
            timeout=REQUEST_TIMEOUT_SECONDS,
            rng=self._rng,
            stop=stop_after_attempt(MAX_ATTEMPTS),
            refusal_wait=None,
            headers=self._headers,
            transport=self._transport,
            counts=self.stats.extra,
        )

    async def run(self, emit: Emit) -> None:
        """Poll until cancelled. Failed requests are logged and retried at the next poll."""
        settings = self.settings
        log.info("coingecko.polling url=%s plan=%s coins=%d every=%gs", settings.url,
                 settings.plan, len(settings.coins), settings.poll_seconds)  # fmt: skip
        await self.poller.run(self._client(), emit)
