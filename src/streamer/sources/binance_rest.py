"""Binance REST for candle backfill: `GET /api/v3/klines`, within the venue's rate limits.

`parse_klines` (pure) turns a klines answer into closed `Candle`s marked `origin="rest"` (the
in-progress candle Binance includes last is dropped) or one `Reject`. `BinanceRest` is the
shell: it pages through a range 1000 candles at a time, waits out HTTP 429/418 for the
`Retry-After` seconds, slows down when `X-MBX-USED-WEIGHT-1M` nears the 6000/minute limit,
and retries 5xx and network errors with capped, jittered backoff.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any

import httpx
import orjson

from streamer.errors import FrameError
from streamer.ids import record_id
from streamer.numbers import dec
from streamer.records import Candle, Item, Millis
from streamer.sources.base import Clock, guarded
from streamer.sources.wsconnect import Sleep
from streamer.timefmt import epoch_millis

log = logging.getLogger(__name__)

EXCHANGE = "binance"
PAGE = 1000  # the endpoint's maximum `limit`
WEIGHT_LIMIT = 6000  # REQUEST_WEIGHT per minute (per IP)
WEIGHT_HEADROOM = 0.8  # above this share of the limit, wait for the next minute
DEFAULT_RETRY_AFTER = 60.0


def _int(value: Any, name: str) -> int:
    if type(value) is not int:
        raise FrameError(f"kline field {name} is not an integer: {value!r}"[:200])
    return value


def parse_klines(
    body: str | bytes, symbol: str, interval: str, received_at: Millis, now: Millis
) -> list[Item]:
    """A `/api/v3/klines` answer -> closed candles (close time before `now`), or a Reject."""

    def decode(raw: str | bytes, at: Millis) -> list[Item]:
        rows = orjson.loads(raw)
        if type(rows) is not list:
            raise FrameError("klines answer is not a JSON array")
        out: list[Item] = []
        for row in rows:
            if type(row) is not list or len(row) < 9:
                raise FrameError(f"kline row is not an array of 12: {row!r}"[:200])
            open_time = epoch_millis(row[0], "openTime")
            close_time = epoch_millis(row[6], "closeTime")
            if close_time >= now:
                continue  # still open
            out.append(
                Candle(
                    exchange=EXCHANGE,
                    symbol=symbol,
                    event_time=close_time,
                    received_at=at,
                    interval=interval,
                    open_time=open_time,
                    close_time=close_time,
                    open=dec(row[1], "open"),
                    high=dec(row[2], "high"),
                    low=dec(row[3], "low"),
                    close=dec(row[4], "close"),
                    volume=dec(row[5], "volume"),
                    quote_volume=dec(row[7], "quoteVolume"),
                    trade_count=_int(row[8], "trades"),
                    is_closed=True,
                    origin="rest",
                    record_id=record_id(EXCHANGE, symbol, "ohlcv", interval, open_time),
                )
            )
        return out

    return guarded(f"{EXCHANGE}:rest", decode, body, received_at)


class RestUnavailable(Exception):
    """A REST answer worth retrying after `wait` seconds (None: use the backoff)."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


class BinanceRest:
    def __init__(
        self,
        base_url: str,
        *,
        clock: Clock,
        sleep: Sleep = asyncio.sleep,
        timeout: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self.sleep = sleep
        self.timeout = timeout
        self.rng = rng or random.Random()
        self.used_weight = 0
        self.calls = 0
        self.rate_limited = 0
        self._client: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def klines(
        self, symbol: str, native: str, interval: str, start: int, end: int
    ) -> list[Item]:
        """Closed candles with open times in [start, end], every page, retried until done."""
        out: list[Item] = []
        cursor = start
        while cursor <= end:
            params = {"symbol": native, "interval": interval, "startTime": str(cursor),
                      "endTime": str(end), "limit": str(PAGE)}  # fmt: skip
            body = await self._get("/api/v3/klines", params)
            items = parse_klines(body, symbol, interval, self.clock(), self.clock())
            out.extend(items)
            candles = [i for i in items if isinstance(i, Candle)]
            if len(candles) < PAGE or not candles:
                break
            cursor = candles[-1].open_time + 1
        return out

    async def _get(self, path: str, params: dict[str, str]) -> bytes:
        failures = 0
        while True:
            try:
                return await self._attempt(path, params)
            except (RestUnavailable, httpx.HTTPError) as exc:
                wait = exc.wait if isinstance(exc, RestUnavailable) else None
                if wait is None:
                    wait = self.rng.uniform(0, min(30.0, 0.5 * 2 ** min(failures, 10)))
                failures += 1
                log.warning("binance.rest_retry path=%s wait=%.1fs error=%s", path, wait, exc)
                await self.sleep(wait)

    async def _attempt(self, path: str, params: dict[str, str]) -> bytes:
        if self.used_weight > WEIGHT_LIMIT * WEIGHT_HEADROOM:
            pause = 60.0 - time.time() % 60.0 + 0.5
            log.warning("binance.rest_weight used=%d pausing=%.1fs", self.used_weight, pause)
            await self.sleep(pause)
            self.used_weight = 0
        if self._client is None:
            self._client = httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout)
        self.calls += 1
        response = await self._client.get(path, params=params)
        weight = response.headers.get("x-mbx-used-weight-1m")
        if weight is not None and weight.isdigit():
            self.used_weight = int(weight)
        if response.status_code in (418, 429):
            self.rate_limited += 1
            header = response.headers.get("retry-after", "")
            wait = float(header) if header.replace(".", "", 1).isdigit() else DEFAULT_RETRY_AFTER
            raise RestUnavailable(f"HTTP {response.status_code} (rate limit)", wait)
        if response.status_code >= 500:
            raise RestUnavailable(f"HTTP {response.status_code}")
        if response.status_code != 200:
            raise RestUnavailable(f"HTTP {response.status_code}: {response.text[:200]}", 30.0)
        return response.content
