"""The simulated OKX's REST (`/api/v5`), each endpoint within its own limit per IP.

Endpoints: `public/instruments` (`instType` SPOT or SWAP; the swaps include one inverse swap a
client must leave out), `market/tickers` (`instType`), `market/books` (`instId`, `sz` up to
400; `seqId` the market's sequence, the book exactly as it is at it),
`market/history-trades` (`type` 1: `after` a trade id gives the trades before it, `before`
those after it, newest first, `limit` up to 100; `type` 2 pages by `ts` alike; only the trades
each instrument still serves, its `history_depth`, are there: `after` an older id answers an
empty `data`), `public/funding-rate-history`
(`instId`, `before`/`after` a funding time, `limit` up to 400, newest first, with
`realizedRate`), `market/history-candles` (`instId`, `bar` 1m only; the candles opened before
`after` and after `before`, the newest `limit` (up to 100) of them, newest first, the open one
with `confirm` "0") and `public/time`.

Limits (OKX docs, each endpoint's "Rate Limit"): `LIMITS` requests per `WINDOW_SECONDS` per IP
and endpoint; past one, HTTP 429 `{"code": "50011", "msg": "Too Many Requests"}` and a breach
`okx.rest_rate` (logged once per IP and endpoint).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from streamer.simulator.limits import Windows
from streamer.simulator.market import Market, Trade
from streamer.simulator.venue import ADMITTED, Admission
from streamer.venues.okx import sim_wire as wire
from streamer.venues.okx.symbols import inst_id

if TYPE_CHECKING:
    from streamer.venues.okx.simulator import Okx, OkxSimOptions

LIMITS = {"/market/books": 40, "/market/history-trades": 20, "/public/instruments": 20,
          "/market/tickers": 20, "/public/funding-rate-history": 10,
          "/market/history-candles": 20}  # fmt: skip
"""Requests per `WINDOW_SECONDS` per IP, by endpoint."""
WINDOW_SECONDS = 2.0
TOO_MANY = {"msg": "Too Many Requests", "code": "50011"}
MAX_BOOK = 400
MAX_TRADES = 100
MAX_FUNDING = 400
DEFAULT_FUNDING = 100
MAX_CANDLES = 100
CANDLE_MS = 60_000


def _error(code: str, msg: str) -> tuple[int, Any]:
    return 400, {"code": code, "msg": msg, "data": []}


def paged(rows: list[Any], key: Any, params: Mapping[str, str], limit: int) -> list[Any]:
    """`rows` (oldest first) paged as OKX pages: `after` a key, the `limit` before it;
    `before` a key, the `limit` after it; neither, the newest `limit`; newest first."""
    if "after" in params:
        bound = int(params["after"])
        chosen = [r for r in rows if key(r) < bound][-limit:]
    elif "before" in params:
        bound = int(params["before"])
        chosen = [r for r in rows if key(r) > bound][:limit]
    else:
        chosen = rows[-limit:]
    return chosen[::-1]


class OkxRestApi:
    def __init__(self, venue: Okx, options: OkxSimOptions) -> None:
        self.venue = venue
        self.windows = {path: Windows(limit, options.rest_window)
                        for path, limit in options.rest_limits.items()}  # fmt: skip

    def admit(self, target: str, client: str, now: float) -> Admission:
        path = urlsplit(target).path.removeprefix(self.venue.rest_prefix)
        window = self.windows.get(path)
        if window is None or window.hit(client, now):
            return ADMITTED
        self.venue.context.breaches.record("okx.rest_rate", f"{client} {path}")
        return Admission((429, TOO_MANY))

    def answer(self, endpoint: str, params: Mapping[str, str]) -> tuple[int, Any]:
        venue = self.venue
        now = venue.context.clock()
        if endpoint == "/public/time":
            return 200, wire.rest([{"ts": str(now)}])
        if endpoint in ("/public/instruments", "/market/tickers"):
            kind = params.get("instType")
            if kind not in ("SPOT", "SWAP"):
                return _error("51000", "Parameter instType error")
            swaps = kind == "SWAP"
            chosen = [(item, venue.specs[s]) for s, item in venue.listings.items()
                      if venue.specs[s].swap == swaps]  # fmt: skip
            if endpoint == "/market/tickers":
                return 200, wire.rest([
                    wire.ticker(venue.markets[item.symbol], swaps, spec.contract_value,
                                item.status, now) for item, spec in chosen])  # fmt: skip
            rows = [wire.instrument(item, spec) for item, spec in chosen]
            return 200, wire.rest(rows + ([wire.inverse_instrument()] if swaps else []))
        if endpoint not in ("/market/books", "/market/history-trades",
                            "/public/funding-rate-history", "/market/history-candles"):  # fmt: skip
            return 404, {"code": "404", "msg": "Not Found"}
        market = venue.by_inst.get(params.get("instId", ""))
        if market is None:
            return _error("51001", "Instrument ID does not exist")
        if endpoint == "/market/books":
            count = min(int(params.get("sz", 1)), MAX_BOOK)
            return 200, wire.rest([wire.rest_book(market, count, now)])
        if endpoint == "/market/history-trades":
            return 200, wire.rest([wire.trade(market, t) for t in self._trades(market, params)])
        if endpoint == "/market/history-candles":
            return self._candles(market, params)
        swap = venue.swaps.get(market.symbol)
        if swap is None:
            return _error("51000", "Parameter instId error")
        limit = min(int(params.get("limit", DEFAULT_FUNDING)), MAX_FUNDING)
        settled: list[tuple[int, int, int]] = paged(list(swap.fundings), lambda f: f[0], params,
                                                    limit)  # fmt: skip
        inst = inst_id(market.symbol)
        return 200, wire.rest([wire.funding_history_row(inst, *f) for f in settled])

    def _candles(self, market: Market, params: Mapping[str, str]) -> tuple[int, Any]:
        if params.get("bar", "1m") != "1m" or CANDLE_MS not in market.candles:
            return _error("51000", "Parameter bar error")
        limit = min(int(params.get("limit", MAX_CANDLES)), MAX_CANDLES)
        after, before = int(params.get("after", 2**62)), int(params.get("before", -1))
        built = [(c, True) for c in market.closed[CANDLE_MS]]
        built.append((market.candles[CANDLE_MS], False))
        chosen = [(c, closed) for c, closed in built if before < c.open_time < after][-limit:]
        spec = self.venue.specs[market.symbol]
        return 200, wire.rest([wire.candle(market, c, spec.swap, spec.contract_value, closed)
                               for c, closed in reversed(chosen)])  # fmt: skip

    def _trades(self, market: Market, params: Mapping[str, str]) -> list[Trade]:
        limit = min(int(params.get("limit", MAX_TRADES)), MAX_TRADES)
        history = market.served()
        if params.get("type", "1") == "2":
            return paged(list(history), lambda t: t.time, params, limit)
        if not history:
            return []
        first = history[0].trade_id  # ids are consecutive: page by position
        if "after" in params:
            end = max(0, min(len(history), int(params["after"]) - first))
            start = max(0, end - limit)
        elif "before" in params:
            start = max(0, min(len(history), int(params["before"]) - first + 1))
            end = min(len(history), start + limit)
        else:
            end = len(history)
            start = max(0, end - limit)
        return [history[i] for i in range(end - 1, start - 1, -1)]
