"""Coinbase Advanced Trade REST for candle backfill (public, no key).

`GET /api/v3/brokerage/market/products/{product_id}/candles?start=&end=&granularity=FIVE_MINUTE`
with `start`/`end` in UNIX seconds answers `{"candles": [{"start", "low", "high", "open",
"close", "volume"}, ...]}`, newest first. `parse_candles` (pure) turns that into closed
five-minute `Candle`s marked `origin="rest"`, oldest first, or one `Reject`; `CoinbaseRest`
pages through a range 300 candles at a time (under the 350 per request that clients use).
"""

from __future__ import annotations

import asyncio
import random

import httpx
import orjson

from streamer.errors import FrameError
from streamer.ids import record_id
from streamer.numbers import dec
from streamer.records import Candle, Item, Millis
from streamer.retry import Sleep
from streamer.sources.base import Clock, guarded
from streamer.sources.rest import RestClient
from streamer.timefmt import MAX_MILLIS

EXCHANGE = "coinbase"
INTERVAL = "5m"  # Advanced Trade candles are five-minute buckets only
CANDLE_MS = 300_000
PAGE = 300


def start_seconds(value: object) -> int:
    """A candle's `start`: UNIX seconds as a digit string (or an integer)."""
    seconds = -1
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 12:
        seconds = int(value)
    elif type(value) is int:
        seconds = value
    if 0 <= seconds <= MAX_MILLIS // 1000:
        return seconds
    raise FrameError(f"field 'start' is not UNIX seconds: {value!r}"[:200])


def wire_candle(
    c: dict[str, object], symbol: str, event_time: Millis, received_at: Millis, *,
    closed: bool, origin: str,
) -> Candle:  # fmt: skip
    """One candle object as both the `candles` channel and REST write it. A closed candle's
    `record_id` leaves the event time out, so every copy of it shares one id."""
    open_time = Millis(start_seconds(c["start"]) * 1000)
    rid = (
        record_id(EXCHANGE, symbol, "ohlcv", INTERVAL, open_time)
        if closed
        else record_id(EXCHANGE, symbol, "ohlcv", INTERVAL, open_time, event_time)
    )
    return Candle(
        exchange=EXCHANGE,
        symbol=symbol,
        event_time=event_time,
        received_at=received_at,
        interval=INTERVAL,
        open_time=open_time,
        close_time=Millis(open_time + CANDLE_MS - 1),
        open=dec(c["open"], "open"),
        high=dec(c["high"], "high"),
        low=dec(c["low"], "low"),
        close=dec(c["close"], "close"),
        volume=dec(c["volume"], "volume"),
        quote_volume=None,
        trade_count=None,
        is_closed=closed,
        origin=origin,
        record_id=rid,
    )


def parse_candles(body: str | bytes, symbol: str, received_at: Millis, now: Millis) -> list[Item]:
    """A candles answer -> closed candles (ended by `now`), oldest first; or one Reject."""

    def decode(raw: str | bytes, at: Millis) -> list[Item]:
        msg = orjson.loads(raw)
        if type(msg) is not dict or type(msg.get("candles")) is not list:
            raise FrameError("candles answer has no 'candles' array")
        out: list[Candle] = []
        for c in msg["candles"]:
            if type(c) is not dict:
                raise FrameError(f"candle is not an object: {c!r}"[:200])
            end = Millis(start_seconds(c["start"]) * 1000 + CANDLE_MS - 1)
            if end >= now:
                continue  # still open
            out.append(wire_candle(c, symbol, end, at, closed=True, origin="rest"))
        out.sort(key=lambda candle: candle.open_time)
        return list(out)

    return guarded(f"{EXCHANGE}:rest", decode, body, received_at)


class CoinbaseRest(RestClient):
    def __init__(self, base_url: str, *, clock: Clock, sleep: Sleep = asyncio.sleep,
                 timeout: float = 10.0, rng: random.Random | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:  # fmt: skip
        super().__init__(base_url, source=EXCHANGE, sleep=sleep, timeout=timeout, rng=rng,
                         transport=transport)  # fmt: skip
        self.clock = clock

    async def candles(self, symbol: str, start: int, end: int) -> list[Item]:
        """Closed candles with open times in [start, end] (epoch ms), every page."""
        out: list[Item] = []
        cursor = start
        while cursor <= end:
            last = min(end, cursor + (PAGE - 1) * CANDLE_MS)
            params = {"start": str(cursor // 1000), "end": str(last // 1000),
                      "granularity": "FIVE_MINUTE", "limit": str(PAGE)}  # fmt: skip
            path = f"/api/v3/brokerage/market/products/{symbol}/candles"
            body = await self.get(path, params)
            out.extend(parse_candles(body, symbol, self.clock(), self.clock()))
            cursor = last + CANDLE_MS
        return out
