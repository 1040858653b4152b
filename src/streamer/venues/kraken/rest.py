"""Kraken's public REST (`https://api.kraken.com/0/public/...`): the listing, trade and candle
backfill.

* `AssetPairs`: every pair with `wsname` (v1 names: `XBT/USD`), `altname`, `quote`,
  `pair_decimals` and `lot_decimals` (the precision the book checksum is built with) and
  `status` (`online` trades). `pairs` turns it into `PairInfo`s.
* `Trades?pair=&since=<ns>&count=1000`: trades from `since` on, oldest first, each
  `[price, volume, time (seconds, a JSON float), side b/s, type m/l, misc, trade_id]`, and
  `last` (ns) to page on. Paged by time, de-duplicated by `trade_id` (venues.md 2): a hole is
  fetched from the time of the trade before it until an answer reaches its last id.
* `OHLC?pair=&interval=1&since=<s>`: the candles opened after `since` (epoch seconds), oldest
  first, each `[time (s), open, high, low, close, vwap, volume, count]`, and `last`; only the
  newest 720 are ever served (12 hours of minutes), and the last row is the minute still open
  (dropped). Each row goes through the `ohlc` channel's parser (`rows.candle_row`): the same
  record id as the stream's closed candle, with `origin` `rest`.
* `Ticker` (every pair at once): `v[1]` (24 h volume) times `p[1]` (24 h VWAP) ranks `top:N`.

Kraken answers most errors with HTTP 200 and a non-empty `error` array; `EGeneral:Too many
requests` and `EAPI:Rate limit exceeded` are waited out (`RATE_LIMIT_WAIT`), anything else is
a `FrameError` (a reject). Public calls are paced at `REQUESTS_PER_SECOND` for all of a source
(Kraken: public endpoints allow about one request a second per IP; verify).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec

from streamer.errors import FrameError
from streamer.numbers import dec_pair
from streamer.records import Candle, Item, Millis, Trade
from streamer.retry import Sleep
from streamer.selectors import NORMALIZED, Listing
from streamer.sources.attempts import AttemptWindow
from streamer.sources.base import Clock, reason_for
from streamer.sources.base import reject as make_reject
from streamer.sources.rest import RestClient
from streamer.sources.trade_gaps import Hole
from streamer.venues.kraken.rows import candle_row
from streamer.venues.kraken.symbols import EXCHANGE, from_ws, v2_pair

log = logging.getLogger(__name__)

ASSET_PAIRS = "/0/public/AssetPairs"
TRADES = "/0/public/Trades"
TICKER = "/0/public/Ticker"
OHLC = "/0/public/OHLC"
TRADES_PAGE = 1000  # the most `count` takes
PAGES_PER_HOLE = 60  # a hole of more than 60,000 trades is left (logged as unserved)
REQUESTS_PER_SECOND = 1
RATE_LIMIT_WAIT = 5.0
RATE_LIMIT_TRIES = 10
_RATE_LIMITS = ("Too many requests", "Rate limit exceeded")
_JSON = msgspec.json.Decoder(float_hook=str)  # trade times keep their digits
_SIDES = {"b": "buy", "s": "sell"}
_new_row = tuple.__new__


@dataclass(frozen=True, slots=True)
class PairInfo:
    symbol: str  # BTC-USD
    key: str  # XXBTZUSD, the key REST answers under
    altname: str  # XBTUSD, what a request names
    quote: str
    price_decimals: int
    qty_decimals: int
    online: bool


def body_result(body: bytes | str, what: str) -> Any:
    """The `result` of an answer; `FrameError` when it is not JSON or names an error."""
    try:
        msg = _JSON.decode(body)
    except msgspec.MsgspecError as exc:
        raise FrameError(f"{what} is not JSON: {exc}") from None
    if type(msg) is not dict:
        raise FrameError(f"{what} is not a JSON object")
    errors = msg.get("error")
    if errors:
        raise FrameError(f"{what}: venue error {errors!r}"[:300])
    result = msg.get("result")
    if type(result) is not dict:
        raise FrameError(f"{what} has no result object")
    return result


def pairs(body: bytes | str) -> list[PairInfo]:
    """`AssetPairs` -> the pairs with a v2 name that is a normalized symbol."""
    out = []
    for key, p in body_result(body, "AssetPairs").items():
        if type(p) is not dict or type(p.get("wsname")) is not str:
            continue  # dark pools (`.d`) have no wsname
        symbol = from_ws(v2_pair(p["wsname"]))
        price_decimals, qty_decimals = p.get("pair_decimals"), p.get("lot_decimals")
        if not NORMALIZED.fullmatch(symbol):
            continue
        if type(price_decimals) is not int or type(qty_decimals) is not int:
            continue
        quote = symbol.partition("-")[2]
        out.append(PairInfo(symbol, key, str(p.get("altname", key)), quote, price_decimals,
                            qty_decimals, p.get("status", "online") == "online"))  # fmt: skip
    return out


def listings(infos: list[PairInfo], volumes: Mapping[str, float]) -> list[Listing]:
    return [Listing(i.symbol, i.altname, i.quote, i.online, volumes.get(i.key, 0.0))
            for i in infos]  # fmt: skip


def quote_volumes(body: bytes | str) -> dict[str, float]:
    """`Ticker` of every pair -> 24 h quote volume by pair key (`v[1]` x `p[1]`)."""
    out = {}
    for key, t in body_result(body, "Ticker").items():
        try:
            out[key] = float(t["v"][1]) * float(t["p"][1])
        except (KeyError, IndexError, TypeError, ValueError):
            continue
    return out


def seconds_millis(value: object) -> Millis:
    """A REST trade time (`1688669597.8277369`, seconds as a JSON float's text) -> epoch ms."""
    text = str(value)
    whole, _, fraction = text.partition(".")
    if not whole.isdigit() or (fraction and not fraction.isdigit()) or len(whole) > 11:
        raise FrameError(f"trade time is not epoch seconds: {value!r}"[:200])
    return Millis(int(whole) * 1000 + int(fraction[:3].ljust(3, "0")))


def parse_trades(
    body: bytes | str, symbol: str, ids: Callable[[object], str], received_at: Millis
) -> tuple[list[Item], int | None]:
    """A `Trades` answer -> (trade rows, or one Reject; `last` to page on, None if absent)."""
    try:
        result = body_result(body, "Trades")
        last = result.get("last")
        rows = [value for key, value in result.items() if key != "last"]
        if len(rows) != 1 or type(rows[0]) is not list:
            raise FrameError("Trades answer holds no one pair's trades")
        out: list[Item] = []
        for t in rows[0]:
            if type(t) is not list or len(t) < 7:
                raise FrameError(f"trade is not [price, volume, time, side, type, misc, id]: "
                                 f"{t!r}"[:200])  # fmt: skip
            trade_id = t[6]
            side = _SIDES.get(t[3]) if type(t[3]) is str else None
            if type(trade_id) is not int or trade_id < 0 or side is None:
                raise FrameError(f"trade has no id or side: {t!r}"[:200])
            price, size = dec_pair(t[0], t[1], ("price", "volume"))
            out.append(_new_row(Trade, (EXCHANGE, symbol, seconds_millis(t[2]), received_at,
                                        str(trade_id), price, size, side,
                                        ids(trade_id))))  # fmt: skip
        cursor = int(last) if type(last) is str and last.isdigit() else None
        return out, cursor
    except (FrameError, KeyError, TypeError, ValueError) as exc:
        return [make_reject(f"{EXCHANGE}:rest", reason_for(exc), body, received_at)], None


def parse_ohlc(body: bytes | str, symbol: str, minutes: int, received_at: Millis) -> list[Item]:
    """An `OHLC` answer -> its closed candles (the last row, still open, left out), or one
    Reject."""
    try:
        result = body_result(body, "OHLC")
        rows = [value for key, value in result.items() if key != "last"]
        if len(rows) != 1 or type(rows[0]) is not list:
            raise FrameError("OHLC answer holds no one pair's candles")
        out: list[Item] = []
        for c in rows[0][:-1]:
            if type(c) is not list or len(c) < 8 or type(c[0]) is not int or c[0] < 0:
                raise FrameError(f"candle is not [time, open, high, low, close, vwap, volume, "
                                 f"count]: {c!r}"[:200])  # fmt: skip
            begin = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(c[0]))
            entry = {"interval": minutes, "interval_begin": begin, "open": c[1], "high": c[2],
                     "low": c[3], "close": c[4], "volume": c[6], "trades": c[7]}  # fmt: skip
            out.append(candle_row(symbol, entry, received_at, closed=True)._replace(origin="rest"))
        return out
    except (FrameError, KeyError, TypeError, ValueError) as exc:
        return [make_reject(f"{EXCHANGE}:rest", reason_for(exc), body, received_at)]


class KrakenRest(RestClient):
    """`RestClient` paced for Kraken's public endpoints, waiting out its in-body rate limits."""

    def __init__(self, base_url: str, *, clock: Clock, sleep: Sleep = asyncio.sleep,
                 transport: httpx.AsyncBaseTransport | None = None,
                 counts: Counter[str] | None = None) -> None:  # fmt: skip
        super().__init__(base_url, source=EXCHANGE, sleep=sleep, transport=transport,
                         counts=counts, rate_limited_wait=RATE_LIMIT_WAIT)  # fmt: skip
        self.clock = clock
        self.pace = AttemptWindow(REQUESTS_PER_SECOND, 1.0)

    async def before(self, path: str, params: Mapping[str, str]) -> None:
        wait = self.pace.reserve(asyncio.get_running_loop().time())
        if wait > 0:
            await self.sleep(wait)

    async def public(self, path: str, params: Mapping[str, str]) -> bytes:
        """A 2xx answer whose `error` is not a rate limit (those are waited out)."""
        for _ in range(RATE_LIMIT_TRIES):
            body = await self.get(path, params)
            if not any(marker.encode() in body[:300] for marker in _RATE_LIMITS):
                return body
            self.counts["rate_limited"] += 1
            log.warning("kraken.rest_rate_limited path=%s wait=%.0fs", path, RATE_LIMIT_WAIT)
            await self.sleep(RATE_LIMIT_WAIT)
        return body

    async def pairs(self) -> list[PairInfo]:
        return pairs(await self.public(ASSET_PAIRS, {}))

    async def trades(
        self, symbol: str, pair: str, ids: Callable[[object], str], holes: list[Hole]
    ) -> list[Item]:
        """The trades around `holes`: from the time of the trade before each (ns) until an
        answer reaches its last id, the venue has no more, or `PAGES_PER_HOLE` answers."""
        out: list[Item] = []
        for hole in sorted(holes, key=lambda h: h.first):
            if any(type(i) is Trade and int(i.trade_id) >= hole.last for i in out):
                continue  # an earlier hole's pages reached past it
            since = hole.after * 1_000_000
            for _ in range(PAGES_PER_HOLE):
                params = {"pair": pair, "since": str(since), "count": str(TRADES_PAGE)}
                items, last = parse_trades(await self.public(TRADES, params), symbol, ids,
                                           self.clock())  # fmt: skip
                out += items
                trades = [int(i.trade_id) for i in items if type(i) is Trade]
                if not trades or max(trades) >= hole.last or last is None or last <= since:
                    break
                since = last
        return out

    async def candles(
        self, symbol: str, pair: str, minutes: int, start: int, end: int
    ) -> list[Item]:
        """The closed candles opened from `start` to `end` (ms, inclusive): one `OHLC` answer
        from the candle before `start` on (Kraken serves no more than its newest 720)."""
        since = (start - minutes * 60_000) // 1000
        params = {"pair": pair, "interval": str(minutes), "since": str(since)}
        items = parse_ohlc(await self.public(OHLC, params), symbol, minutes, self.clock())
        return [i for i in items if type(i) is not Candle or start <= i.open_time <= end]
