"""Binance REST for candle backfill: `GET /api/v3/klines`, within the venue's rate limits.

`parse_klines` (pure) turns a klines answer into closed `Candle`s marked `origin="rest"` (the
in-progress candle Binance includes last is dropped) or one `Reject`. `BinanceRest` is the
shell: it pages through a range 1000 candles at a time and slows down when
`X-MBX-USED-WEIGHT-1M` nears the 6000/minute limit; `RestClient` (`rest.py`) waits out HTTP
429/418 for the `Retry-After` seconds and retries 5xx and network errors with backoff.
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
from streamer.retry import Sleep
from streamer.sources.base import Clock, guarded
from streamer.sources.rest import RestClient
from streamer.timefmt import epoch_millis

log = logging.getLogger(__name__)

EXCHANGE = "binance"
PAGE = 1000  # the endpoint's maximum `limit`
WEIGHT_LIMIT = 6000  # REQUEST_WEIGHT per minute (per IP)
WEIGHT_HEADROOM = 0.8  # above this share of the limit, wait for the next minute


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


class BinanceRest(RestClient):
    """`RestClient` that keeps under Binance's request weight (6000 per minute per IP)."""

    def __init__(self, base_url: str, *, clock: Clock, sleep: Sleep = asyncio.sleep,
                 timeout: float = 10.0, rng: random.Random | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:  # fmt: skip
        super().__init__(base_url, source=EXCHANGE, sleep=sleep, timeout=timeout, rng=rng,
                         transport=transport)  # fmt: skip
        self.clock = clock
        self.used_weight = 0

    async def before(self) -> None:
        if self.used_weight > WEIGHT_LIMIT * WEIGHT_HEADROOM:
            pause = 60.0 - time.time() % 60.0 + 0.5
            log.warning("binance.rest_weight used=%d pausing=%.1fs", self.used_weight, pause)
            await self.sleep(pause)
            self.used_weight = 0

    def after(self, response: httpx.Response) -> None:
        weight = response.headers.get("x-mbx-used-weight-1m")
        if weight is not None and weight.isdigit():
            self.used_weight = int(weight)

    async def klines(
        self, symbol: str, native: str, interval: str, start: int, end: int
    ) -> list[Item]:
        """Closed candles with open times in [start, end], every page, retried until done."""
        out: list[Item] = []
        cursor = start
        while cursor <= end:
            params = {"symbol": native, "interval": interval, "startTime": str(cursor),
                      "endTime": str(end), "limit": str(PAGE)}  # fmt: skip
            body = await self.get("/api/v3/klines", params)
            items = parse_klines(body, symbol, interval, self.clock(), self.clock())
            out.extend(items)
            candles = [i for i in items if isinstance(i, Candle)]
            if len(candles) < PAGE or not candles:
                break
            cursor = candles[-1].open_time + 1
        return out
