"""OKX's REST client, its listing and its trade backfill (`https://www.okx.com`).

OKX limits each public endpoint apart, per IP (venues.md 2; OKX docs "Rate Limit" of each
endpoint): `market/books` 40 requests per 2 s, `market/history-trades` 20 per 2 s,
`public/instruments` 20 per 2 s, `market/tickers` 20 per 2 s,
`public/funding-rate-history` 10 per 2 s, `market/history-candles` 20 per 2 s. `OkxRest`
keeps one window per path (`PACE`), shared by everything the source asks (books, backfills,
polls), and its `RestClient` waits out 429s.

Trades are backfilled by id (`history-trades`, `type=1`: `after` a trade id gives the 100 trades
before it, newest first; three months are kept). Listings come from `public/instruments` for
`SPOT` and `SWAP` (linear swaps only, `symbols`), ranked by `market/tickers` for `top:<N>`.

Closed one-minute candles are backfilled from `market/history-candles` (`bar=1m`: `after` a time
gives the candles before it, `before` a time those after it, newest first, 100 a page; the
same rows as the `candle1m` channel, read by its parser, with `origin` `rest`).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import httpx

from streamer.errors import FrameError
from streamer.ids import record_id
from streamer.numbers import POSITIVE, dec
from streamer.records import Instrument, Item, Millis
from streamer.retry import Sleep
from streamer.selectors import Listing, Selector, choose
from streamer.sources.attempts import AttemptWindow
from streamer.sources.base import FRAME_FAILURES, Clock, reason_for
from streamer.sources.base import reject as make_reject
from streamer.sources.rest import RestClient, poll_stop
from streamer.sources.trade_gaps import Hole, merge
from streamer.venues.okx.decode import rest_data
from streamer.venues.okx.rows import INTERVAL, candle_row, millis, trade_row
from streamer.venues.okx.symbols import EXCHANGE, PERPETUAL, SPOT, SWAP, normalized

BOOKS = "/api/v5/market/books"
BOOK_LEVELS = 400  # the most `market/books` gives, as the `books` channel keeps
HISTORY_TRADES = "/api/v5/market/history-trades"
TRADES_PER_PAGE = 100
INSTRUMENTS = "/api/v5/public/instruments"
TICKERS = "/api/v5/market/tickers"
FUNDING_HISTORY = "/api/v5/public/funding-rate-history"
HISTORY_CANDLES = "/api/v5/market/history-candles"
CANDLES_PER_PAGE = 100
PACE = {BOOKS: 40, HISTORY_TRADES: 20, INSTRUMENTS: 20, TICKERS: 20, FUNDING_HISTORY: 10,
        HISTORY_CANDLES: 20}  # fmt: skip
"""Requests per `PACE_SECONDS` of each path (per IP)."""
PACE_SECONDS = 2.0
INST_TYPES = ("SPOT", "SWAP")


class OkxRest(RestClient):
    """`RestClient` within OKX's per-endpoint limits."""

    def __init__(
        self,
        base_url: str,
        *,
        clock: Clock,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        counts: Counter[str] | None = None,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(base_url, source=EXCHANGE, sleep=sleep, transport=transport,
                         counts=counts)  # fmt: skip
        self.clock = clock
        self.windows = {path: AttemptWindow(limit, PACE_SECONDS) for path, limit in PACE.items()}
        self._monotonic = monotonic

    async def before(self, path: str, params: Mapping[str, str]) -> None:
        window = self.windows.get(path)
        if window is None:
            return
        now = self._monotonic or asyncio.get_running_loop().time
        wait = window.reserve(now())
        if wait > 0:
            self.counts["paced"] += 1
            await self.sleep(wait)

    async def trades(
        self, symbol: str, inst: str, ids: Callable[[object], str], holes: list[Hole]
    ) -> list[Item]:
        """The trades around `holes`, pages of 100 by id going back from each hole's end, or a
        Reject for a page that does not parse (that hole's fetch ends there)."""
        items: list[Item] = []
        for first, last in merge(holes, TRADES_PER_PAGE):
            after = last + 1
            while True:
                params = {"instId": inst, "type": "1", "after": str(after),
                          "limit": str(TRADES_PER_PAGE)}  # fmt: skip
                body = await self.get(HISTORY_TRADES, params)
                at = Millis(self.clock())
                try:
                    page = [trade_row(d, symbol, at, ids) for d in rest_data(body, HISTORY_TRADES)]
                except FRAME_FAILURES as exc:
                    items.append(make_reject(f"{EXCHANGE}:rest", reason_for(exc), body, at))
                    break
                items += [row for _, row in page]
                oldest = min((tid for tid, _ in page), default=None)
                if oldest is None or oldest <= first or oldest >= after:
                    break
                after = oldest
        return items

    async def candles(self, symbol: str, inst: str, start: int, end: int) -> list[Item]:
        """The closed candles opened from `start` to `end` (ms, inclusive), pages of 100 going
        back from `end`, or a Reject for a page that does not parse (the fetch ends there)."""
        items: list[Item] = []
        after = end + 1
        while True:
            params = {"instId": inst, "bar": INTERVAL, "after": str(after),
                      "before": str(start - 1), "limit": str(CANDLES_PER_PAGE)}  # fmt: skip
            body = await self.get(HISTORY_CANDLES, params)
            at = Millis(self.clock())
            try:
                data = rest_data(body, HISTORY_CANDLES)
                page = [candle_row(c, symbol, at) for c in data]
                opened = [millis(c[0], "ts") for c in data]
            except FRAME_FAILURES as exc:
                items.append(make_reject(f"{EXCHANGE}:rest", reason_for(exc), body, at))
                break
            items += [c._replace(origin="rest") for c in page
                      if c is not None and start <= c.open_time <= end]  # fmt: skip
            oldest = min(opened, default=None)
            if oldest is None or oldest <= start or oldest >= after:
                break
            after = oldest
        return items


def instrument_row(d: dict[str, Any], received_at: Millis) -> Instrument | None:
    """One `public/instruments` element's row; None for what is not listed (an inverse swap,
    another kind, a name that does not fit)."""
    inst, kind = d["instId"], d["instType"]
    symbol = normalized(inst) if type(inst) is str else None
    if symbol is None:
        return None
    if kind == "SPOT":
        base, quote, settle, size, lake_kind = d["baseCcy"], d["quoteCcy"], None, None, SPOT
    elif kind == SWAP and d.get("ctType") == "linear":
        base, _, quote = str(d["uly"]).partition("-")
        settle, lake_kind = d["settleCcy"], PERPETUAL
        size = dec(d["ctVal"], "ctVal", POSITIVE)
        if d.get("ctValCcy") != base:
            return None  # a contract not counted in the base currency
    else:
        return None
    if f"{base}-{quote}" != symbol.removesuffix("-PERP"):
        return None
    values = (inst, lake_kind, base, quote, settle, size, dec(d["tickSz"], "tickSz", POSITIVE),
              dec(d["lotSz"], "lotSz", POSITIVE), None, None, str(d["state"]))  # fmt: skip
    return Instrument(EXCHANGE, symbol, received_at, received_at, *values,
                      record_id(EXCHANGE, symbol, "instrument", *values))  # fmt: skip


async def instruments(rest: OkxRest, *, poll: bool = False) -> list[Instrument]:
    """Every spot pair and linear swap OKX lists (`poll`: give up after a few failures)."""
    rows: list[Instrument] = []
    for inst_type in INST_TYPES:
        params = {"instType": inst_type}
        body = await (rest.get(INSTRUMENTS, params, stop=poll_stop(3), retry_refusals=False)
                      if poll else rest.get(INSTRUMENTS, params))  # fmt: skip
        at = Millis(rest.clock())
        for d in rest_data(body, INSTRUMENTS):
            if type(d) is not dict:
                raise FrameError(f"an instrument is not an object: {d!r}"[:200])
            row = instrument_row(d, at)
            if row is not None:
                rows.append(row)
    return rows


def listings(rows: list[Instrument]) -> list[Listing]:
    return [Listing(r.symbol, r.venue_symbol, r.quote, r.status == "live", kind=r.kind)
            for r in rows]  # fmt: skip


async def volumes(rest: OkxRest) -> dict[str, float]:
    """instId -> 24 h volume in the quote currency (a swap's `volCcy24h` is base units: times
    `last`), for ranking only."""
    out: dict[str, float] = {}
    for inst_type in INST_TYPES:
        for d in rest_data(await rest.get(TICKERS, {"instType": inst_type}), TICKERS):
            if type(d) is not dict:
                continue
            try:
                volume = float(d.get("volCcy24h") or 0)
                out[d["instId"]] = volume * float(d.get("last") or 0) if inst_type == SWAP \
                    else volume  # fmt: skip
            except (KeyError, TypeError, ValueError):
                continue
    return out


async def symbols(rest: OkxRest, selector: Selector) -> tuple[tuple[str, ...], int]:
    """(the symbols `selector` picks, how many of its kinds trade)."""
    listed = listings(await instruments(rest))
    if selector.top:
        ranked = await volumes(rest)
        listed = [replace(i, quote_volume=ranked.get(i.native, 0.0)) for i in listed]
    kinds = selector.kinds
    trading = sum(1 for item in listed if item.trading and (not kinds or item.kind in kinds))
    return choose(listed, selector), trading


async def resolve(
    settings: Any,
    selector: Selector,
    *,
    clock: Clock,
    sleep: Sleep,
    transport: httpx.AsyncBaseTransport | None,
) -> tuple[tuple[str, ...], int]:
    """`symbols` at start, on a REST client of its own."""
    async with OkxRest(settings.rest_url, clock=clock, sleep=sleep, transport=transport) as rest:
        return await symbols(rest, selector)
