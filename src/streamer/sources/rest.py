"""The REST shell the sources share: GET with the venues' rate-limit manners.

HTTP 429 and 418 wait the `Retry-After` seconds (a default when it is missing); 5xx and
network errors retry with capped, jittered exponential backoff; other statuses wait 30 s and
retry, since the callers (backfills) must eventually succeed. Each venue adds its own pacing
through `before` and `after` (Binance watches its request-weight header).
"""

from __future__ import annotations

import asyncio
import logging
import random

import httpx

from streamer.retry import Sleep

log = logging.getLogger(__name__)

DEFAULT_RETRY_AFTER = 60.0


class RestUnavailable(Exception):
    """A REST answer worth retrying after `wait` seconds (None: use the backoff)."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


def retry_after(header: str | None) -> float:
    text = (header or "").strip()
    return float(text) if text.replace(".", "", 1).isdigit() else DEFAULT_RETRY_AFTER


class RestClient:
    def __init__(
        self,
        base_url: str,
        *,
        source: str,
        sleep: Sleep = asyncio.sleep,
        timeout: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.source = source
        self.sleep = sleep
        self.timeout = timeout
        self.rng = rng or random.Random()
        self.calls = 0
        self.rate_limited = 0
        self._client: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def before(self) -> None:
        """Pacing before each request (none by default)."""

    def after(self, response: httpx.Response) -> None:
        """Bookkeeping after each answer (none by default)."""

    async def get(self, path: str, params: dict[str, str]) -> bytes:
        """The body of a 200 answer, retried until there is one."""
        failures = 0
        while True:
            try:
                return await self._attempt(path, params)
            except (RestUnavailable, httpx.HTTPError) as exc:
                wait = exc.wait if isinstance(exc, RestUnavailable) else None
                if wait is None:
                    wait = self.rng.uniform(0, min(30.0, 0.5 * 2 ** min(failures, 10)))
                failures += 1
                log.warning(
                    "%s.rest_retry path=%s wait=%.1fs error=%s", self.source, path, wait, exc
                )
                await self.sleep(wait)

    async def _attempt(self, path: str, params: dict[str, str]) -> bytes:
        await self.before()
        if self._client is None:
            self._client = httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout)
        self.calls += 1
        response = await self._client.get(path, params=params)
        self.after(response)
        status = response.status_code
        if status in (418, 429):
            self.rate_limited += 1
            wait = retry_after(response.headers.get("retry-after"))
            raise RestUnavailable(f"HTTP {status} (rate limit)", wait)
        if status >= 500:
            raise RestUnavailable(f"HTTP {status}")
        if status != 200:
            raise RestUnavailable(f"HTTP {status}: {response.text[:200]}", 30.0)
        return response.content
