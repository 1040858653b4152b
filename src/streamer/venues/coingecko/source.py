"""CoinGecko REST poller: `/simple/price` -> `SpotPrice` rows, `/coins/markets` -> `Market` rows.

The decoding is pure and lives in `coingecko_decode.py`; this is the shell. `CoinGeckoSource.run`
polls both endpoints at start and then every `poll_seconds` on a monotonic schedule, so time
spent in requests does not drift the cadence. Requests go through the shared `RestClient`
(`rest.py`) with a stop after `MAX_ATTEMPTS` tries: HTTP 429 waits the `Retry-After` seconds;
408, 5xx and network errors back off (`retry.py`). A request that still fails, or a refusal
such as 401/403, is logged with the setting to fix and the next poll goes ahead as usual. The
API key is sent in a header and never logged.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import httpx
from tenacity import stop_after_attempt

from streamer.retry import GaveUp, Sleep
from streamer.sources.base import Clock, Emit, FeedStats
from streamer.sources.rest import RestClient, RestRefused
from streamer.timefmt import now_millis
from streamer.venues.coingecko.decode import (
    SOURCE,
    Decoder,
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


class _Endpoint(NamedTuple):
    path: str
    params: dict[str, str]
    decode: Decoder


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
        self._endpoints = (
            _Endpoint("/simple/price", simple_price_params(settings), prices),
            _Endpoint("/coins/markets", markets_params(settings), decode_markets),
        )

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
        async with self._client() as client:
            log.info(
                "coingecko.polling url=%s plan=%s coins=%d every=%gs",
                self.settings.url,
                self.settings.plan,
                len(self.settings.coins),
                self.settings.poll_seconds,
            )
            deadline = self._monotonic()
            while True:
                for endpoint in self._endpoints:
                    await self._poll(client, endpoint, emit)
                now = self._monotonic()
                # A poll that overran its slot (long 429 waits) starts the next one at once.
                deadline = max(deadline + self.settings.poll_seconds, now)
                await self._sleep(deadline - now)

    async def _poll(self, client: RestClient, endpoint: _Endpoint, emit: Emit) -> None:
        try:
            body = await client.get(endpoint.path, endpoint.params)
        except GaveUp:
            return  # logged and counted by the client; the next poll tries again
        except RestRefused as refused:
            self._refused(endpoint, refused)
            return
        received_at = self._clock()
        items = endpoint.decode(body, received_at)
        self.stats.count(items, received_at)
        await emit(items)

    def _refused(self, endpoint: _Endpoint, refused: RestRefused) -> None:
        self.stats.extra["http_errors"] += 1
        code, message = describe_refusal(refused.status, refused.body)
        event = "auth_failed" if refused.status in (401, 403) else "http_error"
        log.error(
            "coingecko.%s endpoint=%s status=%d code=%s plan=%s url=%s: %s",
            event,
            endpoint.path,
            refused.status,
            code,
            self.settings.plan,
            self.settings.url,
            message,
        )
