"""The REST poller every polled venue shares (the asyncio shell; decoding stays pure).

`Poller.run` asks each `Endpoint` at start and then every `every` seconds on a monotonic
schedule, so time spent in requests does not drift the cadence; a poll that overran its slot
(long 429 waits) starts the next one at once. Requests go through a `RestClient` the venue
configures (stop after some tries, its headers): a request that still fails is logged and
counted by the client, a refusal (401, 403...) is counted as `http_errors` and logged with the
venue's explanation of it, and in both cases the next poll goes ahead as usual.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import NamedTuple

from streamer.logsafe import shown
from streamer.records import Item, Millis
from streamer.retry import GaveUp, Sleep
from streamer.sources.base import Clock, Emit, FeedStats
from streamer.sources.rest import RestClient, RestRefused

log = logging.getLogger(__name__)


class Endpoint(NamedTuple):
    path: str
    params: dict[str, str]
    decode: Callable[[str | bytes, Millis], list[Item]]  # the answer -> rows or one `Reject`


Explain = Callable[[int, str], tuple[object, str]]
"""A refusal's (status, body) -> (the venue's error code, what to fix)."""


class Poller:
    def __init__(
        self,
        name: str,
        endpoints: tuple[Endpoint, ...],
        every: float,
        stats: FeedStats,
        *,
        explain: Explain,
        context: str = "",
        clock: Clock,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.endpoints = endpoints
        self.every = every
        self.stats = stats
        self._explain = explain
        self._context = context  # logged with a refusal (e.g. the plan and URL in use)
        self._clock = clock
        self._sleep = sleep
        self._monotonic = monotonic

    async def run(self, client: RestClient, emit: Emit) -> None:
        """Poll until cancelled."""
        async with client:
            deadline = self._monotonic()
            while True:
                for endpoint in self.endpoints:
                    await self._poll(client, endpoint, emit)
                now = self._monotonic()
                deadline = max(deadline + self.every, now)
                await self._sleep(deadline - now)

    async def _poll(self, client: RestClient, endpoint: Endpoint, emit: Emit) -> None:
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

    def _refused(self, endpoint: Endpoint, refused: RestRefused) -> None:
        self.stats.extra["http_errors"] += 1
        code, message = self._explain(refused.status, refused.body)
        event = "auth_failed" if refused.status in (401, 403) else "http_error"
        log.error("%s.%s endpoint=%s status=%d code=%s %s: %s", self.name, event, endpoint.path,
                  refused.status, shown(code), self._context, shown(message))  # fmt: skip
