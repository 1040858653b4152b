"""The one REST client every source uses: GET with the venues' rate-limit manners.

What an answer means (the retry policy itself lives in `retry.py`):

    2xx              the body
    429, 418         rate limited: wait `Retry-After` seconds (`retry.retry_after`; without
                     the header, `rate_limited_wait`)
    408, 5xx         retry after the backoff (`retry.backoff_delay`), as network errors do
    anything else    a refusal: with `refusal_wait` set (backfills), retry after that many
                     seconds; with None (CoinGecko), raise `RestRefused` at once

The `stop` decides when retrying ends: never by default (a backfill must eventually succeed),
after a few tries for a poller (`tenacity.stop_after_attempt`), which then gets `GaveUp`. One
call may bring its own (`get(..., stop=poll_stop(3), retry_refusals=False)`: a poll sharing a
backfill's client waits out rate limits as long as the venue asks, gives up on other failures
after a few tries, and takes a refusal at once as `RestRefused`).
Each venue adds its own pacing through `before` and `after` (Binance watches its
request-weight header). The transport can be injected (`httpx.MockTransport`, a local
server) and every wait goes through the injected `sleep`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Self

import httpx
from tenacity import RetryCallState
from tenacity.stop import stop_base, stop_never

from streamer.errors import SourceError
from streamer.logsafe import shown
from streamer.retry import (
    RETRY_AFTER_DEFAULT,
    GaveUp,
    Retryable,
    Sleep,
    Stop,
    retry_after,
    retrying,
)

log = logging.getLogger(__name__)

REFUSAL_WAIT = 30.0
"""Wait before asking again after a refusal (a 4xx other than 408/418/429), for backfills."""
RATE_LIMITED = frozenset({418, 429})
"""Binance answers 418 once an IP ignored its 429s; both carry `Retry-After`."""


class RestRefused(SourceError):
    """A status retrying will not fix (401, 403, 404...); `body` is the answer's text."""

    def __init__(self, path: str, status: int, body: str) -> None:
        super().__init__(f"{path}: HTTP {status}: {body[:200]}")
        self.path = path
        self.status = status
        self.body = body


class RateLimited(Retryable):
    """A 429 or 418: retried after the venue's `Retry-After` (`wait`)."""


class PollStop(stop_base):
    """tenacity stop for a periodic poll: after `attempts` failures other than rate limits,
    which are always waited out (the venue said when to come back; giving up would only send
    the poll's next request into the same limit). It counts: one per call (`poll_stop`)."""

    def __init__(self, attempts: int) -> None:
        self.attempts = attempts
        self.failures = 0

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        if outcome is not None and isinstance(outcome.exception(), RateLimited):
            return False
        self.failures += 1
        return self.failures >= self.attempts


def poll_stop(attempts: int = 3) -> Stop:
    """A fresh `PollStop` for one call."""
    return PollStop(attempts)


class RestClient:
    """GET `base_url + path` until a 2xx answer or the stop; see the module docstring.

    `counts` (a source can pass its `FeedStats.extra`) receives `calls`, `rate_limited`,
    `retries` and `gave_up`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        source: str,
        sleep: Sleep = asyncio.sleep,
        timeout: float = 10.0,
        rng: random.Random | None = None,
        stop: Stop = stop_never,
        refusal_wait: float | None = REFUSAL_WAIT,
        rate_limited_wait: float = RETRY_AFTER_DEFAULT,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        counts: Counter[str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.source = source
        self.sleep = sleep
        self.timeout = timeout
        self.rng = rng or random.Random()
        self.stop = stop
        self.refusal_wait = refusal_wait
        self.rate_limited_wait = rate_limited_wait
        self.headers = dict(headers or {})
        self.transport = transport
        self.counts: Counter[str] = Counter() if counts is None else counts
        self._client: httpx.AsyncClient | None = None

    @property
    def calls(self) -> int:
        return self.counts["calls"]

    @property
    def rate_limited(self) -> int:
        return self.counts["rate_limited"]

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def before(self, path: str, params: Mapping[str, str]) -> None:
        """Pacing before each request (none by default)."""

    def after(self, response: httpx.Response) -> None:
        """Bookkeeping after each answer (none by default)."""

    async def get(
        self,
        path: str,
        params: Mapping[str, str],
        *,
        stop: Stop | None = None,
        retry_refusals: bool = True,
    ) -> bytes:
        """The body of a 2xx answer, retried until there is one or the stop (the client's,
        unless this call brings its own) gives up. With `retry_refusals` False a refusal is
        raised at once, whatever the client's `refusal_wait`.

        Raises `GaveUp` (the last failure as its cause) or `RestRefused`.
        """
        policy = retrying(
            self.stop if stop is None else stop,
            rng=self.rng,
            sleep=self.sleep,
            before_sleep=self._retrying(path),
        )
        refusal_wait = self.refusal_wait if retry_refusals else None
        try:
            body: bytes = await policy(self._attempt, path, params, refusal_wait)
        except GaveUp as exc:
            self.counts["gave_up"] += 1
            log.warning(
                "%s.gave_up path=%s attempts=%d error=%s",
                self.source,
                path,
                exc.attempts,
                shown(exc.last),
            )
            raise
        return body

    def _retrying(self, path: str) -> Callable[[RetryCallState], None]:
        def note(state: RetryCallState) -> None:
            self.counts["retries"] += 1
            exc = state.outcome.exception() if state.outcome is not None else None
            log.warning(
                "%s.rest_retry path=%s attempt=%d wait=%.1fs error=%s",
                self.source, path, state.attempt_number, state.upcoming_sleep, shown(exc),
            )  # fmt: skip

        return note

    async def _attempt(
        self, path: str, params: Mapping[str, str], refusal_wait: float | None
    ) -> bytes:
        await self.before(path, params)
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                headers=self.headers,
                timeout=self.timeout,
                transport=self.transport,
            )
        self.counts["calls"] += 1
        try:
            response = await self._client.get(path, params=params)
        except httpx.RequestError as exc:
            raise Retryable(f"{type(exc).__name__}: {exc}") from exc
        self.after(response)
        status = response.status_code
        if response.is_success:
            return response.content
        if status in RATE_LIMITED:
            self.counts["rate_limited"] += 1
            wait = retry_after(response.headers.get("retry-after"), default=self.rate_limited_wait)
            raise RateLimited(f"HTTP {status} (rate limited)", wait)
        if status == 408 or status >= 500:
            raise Retryable(f"HTTP {status}")
        if refusal_wait is None:
            raise RestRefused(path, status, response.text)
        raise Retryable(f"HTTP {status}: {response.text[:200]}", refusal_wait)
