"""Coinbase Advanced Trade REST for backfills (public, no key).

- Candles: `GET /api/v3/brokerage/market/products/{product_id}/candles?start=&end=&granularity=
  FIVE_MINUTE` with `start`/`end` in UNIX seconds answers `{"candles": [{"start", "low", "high",
  "open", "close", "volume"}, ...]}`, newest first. `parse_candles` (pure) turns that into
  closed five-minute `Candle`s marked `origin="rest"`, oldest first, or one `Reject`;
  `CoinbaseRest.candles` pages through a range 300 candles at a time (under the 350 per
  request that clients use).
- Trades: `GET .../market/products/{product_id}/ticker?limit=&start=&end=` answers the trades
  of a time window (`{"trades": [...]}`, the fields of `market_trades`, maker side). How many
  one answer holds at most is not documented, so a window whose answer is full (`TRADES_PAGE`)
  is halved until no answer is (exchanges.md 2.5); `parse_market_trades` gives rows equal to
  the live ones (the same `record_id`).

Public endpoints allow about 10 requests a second per IP: every request of a source (candles
and trades) waits for its turn in one window of `REQUESTS_PER_SECOND`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Callable, Mapping

import httpx
import orjson

from streamer.errors import FrameError
from streamer.ids import record_id
from streamer.numbers import NON_NEGATIVE, POSITIVE, dec, dec_pair
from streamer.records import Candle, Item, Millis, Trade
from streamer.retry import Sleep
from streamer.sources.attempts import AttemptWindow
from streamer.sources.base import Clock, guarded
from streamer.sources.rest import RestClient
from streamer.sources.trade_gaps import Hole
from streamer.timefmt import MAX_MILLIS, parse_rfc3339

log = logging.getLogger(__name__)

EXCHANGE = "coinbase"
INTERVAL = "5m"  # Advanced Trade candles are five-minute buckets only
CANDLE_MS = 300_000
PAGE = 300
TRADES_PAGE = 1000  # the `limit` asked for; an answer this long may have left trades out
TRADE_REQUESTS = 200
"""Requests for one symbol's holes at most (its share of the venue's 10 a second)."""
REQUESTS_PER_SECOND = 8  # public endpoints: 10 a second per IP (exchanges.md 2.4)
TAKER_SIDE = {"BUY": "sell", "SELL": "buy"}  # the venue sends the maker's side
_new_row = tuple.__new__


def trade_row(
    symbol: str,
    trade_id: str,
    maker_side: object,
    price_text: object,
    size_text: object,
    time_text: object,
    received_at: Millis,
    record_id: Callable[[object], str],
) -> Trade:
    """A trade row from `market_trades` or REST fields, each checked; `side` is the taker's."""
    side = TAKER_SIDE.get(maker_side)  # type: ignore[call-overload]
    if side is None:
        raise FrameError(f"field 'side' is not BUY or SELL: {maker_side!r}"[:200])
    price, size = dec_pair(price_text, size_text, ("price", "size"))
    event_time = parse_rfc3339(time_text, "time")
    return _new_row(Trade, ("coinbase", symbol, event_time, received_at, trade_id, price, size,
                            side, record_id(trade_id)))  # fmt: skip


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
        open=dec(c["open"], "open", POSITIVE),
        high=dec(c["high"], "high", POSITIVE),
        low=dec(c["low"], "low", POSITIVE),
        close=dec(c["close"], "close", POSITIVE),
        volume=dec(c["volume"], "volume", NON_NEGATIVE),
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


def parse_market_trades(
    body: str | bytes, symbol: str, record_id: Callable[[object], str], received_at: Millis
) -> list[Item]:
    """A market trades answer -> trade rows, or one Reject."""

    def decode(raw: str | bytes, at: Millis) -> list[Item]:
        msg = orjson.loads(raw)
        if type(msg) is not dict or type(msg.get("trades")) is not list:
            raise FrameError("market trades answer has no 'trades' array")
        out: list[Item] = []
        for t in msg["trades"]:
            if type(t) is not dict:
                raise FrameError(f"trade is not an object: {t!r}"[:200])
            trade_id = t["trade_id"]
            if type(trade_id) is not str or not trade_id.isdigit():
                raise FrameError(f"field 'trade_id' is not an id: {trade_id!r}"[:200])
            out.append(trade_row(symbol, trade_id, t["side"], t["price"], t["size"], t["time"],
                                 at, record_id))  # fmt: skip
        return out

    return guarded(f"{EXCHANGE}:rest", decode, body, received_at)


class CoinbaseRest(RestClient):
    def __init__(self, base_url: str, *, clock: Clock, sleep: Sleep = asyncio.sleep,
                 timeout: float = 10.0, rng: random.Random | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 counts: Counter[str] | None = None) -> None:  # fmt: skip
        # Its limits are per second: a 429 without Retry-After is retried a second later.
        super().__init__(base_url, source=EXCHANGE, sleep=sleep, timeout=timeout, rng=rng,
                         transport=transport, counts=counts, rate_limited_wait=1.0)  # fmt: skip
        self.clock = clock
        self.pace = AttemptWindow(REQUESTS_PER_SECOND, 1.0)

    async def before(self, path: str, params: Mapping[str, str]) -> None:
        wait = self.pace.reserve(asyncio.get_running_loop().time())
        if wait > 0:
            await self.sleep(wait)

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

    async def trades(
        self, symbol: str, record_id: Callable[[object], str], holes: list[Hole],
        page: int = TRADES_PAGE,
    ) -> list[Item]:  # fmt: skip
        """The trades in the time windows around `holes` (from the trade before each to the one
        after, whole seconds), each window halved while its answer is full."""
        path = f"/api/v3/brokerage/market/products/{symbol}/ticker"
        windows = _windows(holes)
        out: list[Item] = []
        requests = 0
        while windows:
            start, end = windows.pop()
            if requests == TRADE_REQUESTS:
                log.warning("coinbase.trade_backfill_capped symbol=%s requests=%d", symbol,
                            requests)  # fmt: skip
                break
            params = {"limit": str(page), "start": str(start), "end": str(end)}
            items = parse_market_trades(await self.get(path, params), symbol, record_id,
                                        self.clock())  # fmt: skip
            requests += 1
            out.extend(items)
            full = sum(1 for i in items if type(i) is Trade) >= page
            if full and end - start > 1:
                middle = (start + end) // 2
                windows += [(middle, end), (start, middle)]  # both halves, oldest next
                continue
            if full:
                log.warning("coinbase.trade_window_full symbol=%s start=%d end=%d (a second "
                            "holds more trades than an answer)", symbol, start, end)  # fmt: skip
        return out


def _windows(holes: list[Hole]) -> list[tuple[int, int]]:
    """UNIX-second windows covering each hole, overlapping ones joined, newest first (so that
    `pop` takes the oldest)."""
    joined: list[tuple[int, int]] = []
    for start, end in sorted((h.after // 1000, h.before // 1000 + 1) for h in holes):
        if joined and start <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(end, joined[-1][1]))
        else:
            joined.append((start, end))
    return joined[::-1]
