"""Binance REST for backfills, within the venue's request weight.

- Candles: `GET /api/v3/klines` (weight 2), 1000 a page. `parse_klines` (pure) turns an answer
  into closed `Candle`s marked `origin="rest"` (the in-progress candle Binance includes last is
  dropped) or one `Reject`.
- Trades: `GET /api/v3/historicalTrades` (weight 25, for `@trade` ids) or `/api/v3/aggTrades`
  (weight 4, for `@aggTrade` ids) with `fromId`, 1000 a page, from the first missing id up to
  the last (exchanges.md 1.12); `parse_trades` (pure) gives rows equal to the live ones.
- Depth snapshots (`/api/v3/depth`, weight 5 to 250 by `limit`) for `depth_snapshots.py`.

`BinanceRest` is the one client of a source, so candles, trades and snapshots share one
`WeightBudget`: every request is counted at its documented weight before it goes out, the
venue's own count (`X-MBX-USED-WEIGHT-1M`, which includes other processes on the IP) raises
it, and a request that would pass `WEIGHT_HEADROOM` of the 6000 a minute waits for the next
minute. `RestClient` (`rest.py`) waits out HTTP 429/418 for the `Retry-After` seconds and
retries 5xx and network errors with backoff.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import httpx
import orjson

from streamer.errors import FrameError
from streamer.ids import record_id
from streamer.numbers import NON_NEGATIVE, POSITIVE, dec
from streamer.records import Candle, Item, Millis, Trade
from streamer.retry import Sleep
from streamer.sources.base import Clock, guarded
from streamer.sources.rest import RestClient
from streamer.sources.trade_gaps import Hole, merge
from streamer.timefmt import epoch_millis
from streamer.venues.binance.decode import trade_row

log = logging.getLogger(__name__)

EXCHANGE = "binance"
PAGE = 1000  # the endpoint's maximum `limit`
WEIGHT_LIMIT = 6000  # REQUEST_WEIGHT per minute (per IP)
WEIGHT_HEADROOM = 0.8  # above this share of the limit, wait for the next minute
TRADE_PAGES = 100
"""Pages of one trade range at most (100,000 trades, half an hour of BTCUSDT): one symbol's
long outage cannot take the whole weight budget; ids past it are reported as not served."""
TRADES_PATHS = {"trade": "/api/v3/historicalTrades", "aggTrade": "/api/v3/aggTrades"}
_WEIGHTS = {"/api/v3/klines": 2, "/api/v3/aggTrades": 4, "/api/v3/historicalTrades": 25,
            "/api/v3/exchangeInfo": 20, "/api/v3/ticker/24hr": 80}  # fmt: skip
_DEPTH_WEIGHTS = ((100, 5), (500, 25), (1000, 50))  # limit up to -> weight; above: 250


def request_weight(path: str, params: Mapping[str, str]) -> int:
    """The documented weight of a GET (exchanges.md 1.8, 1.11, 1.12): what the budget counts."""
    if path == "/api/v3/depth":
        limit = int(params["limit"]) if params.get("limit", "").isdigit() else 100
        return next((w for top, w in _DEPTH_WEIGHTS if limit <= top), 250)
    if path == "/api/v3/ticker/24hr" and "symbol" in params:
        return 2
    return _WEIGHTS.get(path, 1)


class WeightBudget:
    """Request weight used in the current minute of wall time, as far as this client knows
    (pure: the time is passed in). `reserve` books a request and says how long to wait first;
    `observe` takes the venue's count, which may be higher (other processes on the IP)."""

    def __init__(self, limit: int = WEIGHT_LIMIT, headroom: float = WEIGHT_HEADROOM) -> None:
        self.budget = int(limit * headroom)
        self.minute = -1
        self.used = 0

    def _roll(self, now: float) -> None:
        minute = int(now // 60)
        if minute != self.minute:
            self.minute, self.used = minute, 0

    def reserve(self, weight: int, now: float) -> float:
        """0 and the weight booked, or the seconds until the next minute (book nothing)."""
        self._roll(now)
        if self.used and self.used + weight > self.budget:
            return 60.0 - now % 60.0 + 0.5
        self.used += weight
        return 0.0

    def observe(self, used: int, now: float) -> None:
        self._roll(now)
        self.used = max(self.used, used)


def _int(value: Any, name: str) -> int:
    if type(value) is not int:
        raise FrameError(f"kline field {name} is not an integer: {value!r}"[:200])
    return value


def parse_klines(
    body: str | bytes,
    symbol: str,
    interval: str,
    received_at: Millis,
    now: Millis,
    exchange: str = EXCHANGE,
) -> list[Item]:
    """A `/api/v3/klines` answer -> closed candles (close time before `now`), or a Reject.
    USD-M's `/fapi/v1/klines` rows have the same shape (`exchange` "binance_usdm")."""

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
                    exchange=exchange,
                    symbol=symbol,
                    event_time=close_time,
                    received_at=at,
                    interval=interval,
                    open_time=open_time,
                    close_time=close_time,
                    open=dec(row[1], "open", POSITIVE),
                    high=dec(row[2], "high", POSITIVE),
                    low=dec(row[3], "low", POSITIVE),
                    close=dec(row[4], "close", POSITIVE),
                    volume=dec(row[5], "volume", NON_NEGATIVE),
                    quote_volume=dec(row[7], "quoteVolume", NON_NEGATIVE),
                    trade_count=_int(row[8], "trades"),
                    is_closed=True,
                    origin="rest",
                    record_id=record_id(exchange, symbol, "ohlcv", interval, open_time),
                )
            )
        return out

    return guarded(f"{exchange}:rest", decode, body, received_at)


def parse_trades(
    body: str | bytes,
    symbol: str,
    kind: str,
    record_id: Callable[[object], str],
    received_at: Millis,
    exchange: str = EXCHANGE,
) -> list[Item]:
    """A `historicalTrades` (`kind` "trade") or `aggTrades` ("aggTrade") answer -> trade rows
    oldest first, with the `record_id` the live `@trade`/`@aggTrade` row has; or one Reject.
    USD-M's answers have the same shape (`exchange` "binance_usdm")."""

    def decode(raw: str | bytes, at: Millis) -> list[Item]:
        rows = orjson.loads(raw)
        if type(rows) is not list:
            raise FrameError(f"{kind} answer is not a JSON array")
        out: list[Item] = []
        for row in rows:
            if type(row) is not dict:
                raise FrameError(f"trade is not an object: {row!r}"[:200])
            if kind == "aggTrade":
                fields = (row["a"], "a", row["m"], row["T"], row["p"], row["q"])
            else:
                fields = (row["id"], "id", row["isBuyerMaker"], row["time"], row["price"],
                          row["qty"])  # fmt: skip
            trade_id, id_field, maker, time_ms, price, size = fields
            out.append(trade_row(symbol, trade_id, id_field, maker, time_ms, price, size, at,
                                 record_id, exchange))  # fmt: skip
        return out

    return guarded(f"{exchange}:rest", decode, body, received_at)


class BinanceRest(RestClient):
    """`RestClient` that keeps under Binance's request weight (6000 per minute per IP).

    USD-M's client (`usdm_client.UsdmRest`) is this one with its own `exchange`,
    `weight_limit`, `trades_paths`, `klines_path` and `request_weight`."""

    exchange = EXCHANGE
    weight_limit = WEIGHT_LIMIT
    trades_paths: ClassVar[Mapping[str, str]] = TRADES_PATHS
    klines_path: ClassVar[str] = "/api/v3/klines"

    def __init__(self, base_url: str, *, clock: Clock, sleep: Sleep = asyncio.sleep,
                 timeout: float = 10.0, rng: random.Random | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 wall: Callable[[], float] = time.time,
                 counts: Counter[str] | None = None) -> None:  # fmt: skip
        super().__init__(base_url, source=self.exchange, sleep=sleep, timeout=timeout, rng=rng,
                         transport=transport, counts=counts)  # fmt: skip
        self.clock = clock
        self.wall = wall  # the venue counts weight per minute of wall time
        self.budget = WeightBudget(self.weight_limit)

    def request_weight(self, path: str, params: Mapping[str, str]) -> int:
        """The documented weight of a GET, what the budget counts."""
        return request_weight(path, params)

    @property
    def used_weight(self) -> int:
        return self.budget.used

    @property
    def weight_spent(self) -> int:
        """Request weight of every request sent (the figure to compare with the budget)."""
        return self.counts["weight"]

    async def before(self, path: str, params: Mapping[str, str]) -> None:
        weight = self.request_weight(path, params)
        while (pause := self.budget.reserve(weight, self.wall())) > 0:
            log.warning("%s.rest_weight used=%d next=%d pausing=%.1fs", self.exchange,
                        self.budget.used, weight, pause)  # fmt: skip
            await self.sleep(pause)
        self.counts["weight"] += weight
        self.counts[f"weight {path.rsplit('/', 1)[-1]}"] += weight

    def after(self, response: httpx.Response) -> None:
        weight = response.headers.get("x-mbx-used-weight-1m")
        if weight is not None and weight.isdigit():
            self.budget.observe(int(weight), self.wall())

    async def klines(
        self, symbol: str, native: str, interval: str, start: int, end: int
    ) -> list[Item]:
        """Closed candles with open times in [start, end], every page, retried until done."""
        out: list[Item] = []
        cursor = start
        while cursor <= end:
            params = {"symbol": native, "interval": interval, "startTime": str(cursor),
                      "endTime": str(end), "limit": str(PAGE)}  # fmt: skip
            body = await self.get(self.klines_path, params)
            now = self.clock()
            items = parse_klines(body, symbol, interval, now, now, self.exchange)
            out.extend(items)
            candles = [i for i in items if isinstance(i, Candle)]
            if len(candles) < PAGE or not candles:
                break
            cursor = candles[-1].open_time + 1
        return out

    async def trades(
        self, symbol: str, native: str, kind: str, record_id: Callable[[object], str],
        holes: list[Hole],
    ) -> list[Item]:  # fmt: skip
        """The trades of `holes`, paged by id from each range's first missing id to its last
        (ranges less than a page apart share pages); at most `TRADE_PAGES` pages a range."""
        path = self.trades_paths[kind]
        out: list[Item] = []
        for first, last in merge(holes, PAGE):
            cursor, pages = first, 0
            while cursor <= last:
                if pages == TRADE_PAGES:
                    log.warning("%s.trade_backfill_capped symbol=%s from=%d to=%d pages=%d",
                                self.exchange, symbol, cursor, last, pages)  # fmt: skip
                    break
                params = {"symbol": native, "fromId": str(cursor), "limit": str(PAGE)}
                items = parse_trades(await self.get(path, params), symbol, kind, record_id,
                                     self.clock(), self.exchange)  # fmt: skip
                pages += 1
                out.extend(items)
                trades = [i for i in items if type(i) is Trade]
                if len(trades) < PAGE:
                    break  # the venue has no more (or the answer did not parse)
                cursor = int(trades[-1].trade_id) + 1
        return out
