"""The simulated Kraken's public REST (`/0/public/...`), pure: answers from the listings and
the markets' trade histories.

`AssetPairs` and `Ticker` (every pair, or `pair=` a comma-separated list by key, altname or v2
name), `Trades` (`pair`; `since` in nanoseconds, or seconds with a fraction or below 1e11:
the trades at or after it, oldest first, `count` up to 1000, from those the market still
serves (its `history_depth`: an older `since` gets the oldest there is); without `since` the
newest; `last` the nanoseconds of the last one, or `since` when there is none), `OHLC`
(`pair`, `interval` minutes, `since` epoch seconds: the candles opened after it, oldest first,
of the newest `MAX_CANDLES` closed ones, then always the open one; `last` the open time of the
newest closed one), `Time`,
`SystemStatus`. Kraken answers errors with HTTP 200 and an `error` array (`EQuery:Unknown
asset pair`, `EGeneral:Invalid arguments`); an unknown endpoint is a 404.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from streamer.simulator.listing import Listing
from streamer.simulator.market import Candle, Market
from streamer.venues.kraken import sim_wire as wire
from streamer.venues.kraken.sim_listing import Pair, asset_pair, pair_of
from streamer.venues.kraken.symbols import ws_symbol

MAX_TRADES = 1000
MAX_CANDLES = 720
MINUTE_MS = 60_000
UNKNOWN_PAIR = "EQuery:Unknown asset pair"


class PublicRest:
    def __init__(self, listings: Mapping[str, Listing], markets: Mapping[str, Market]) -> None:
        self.listings = listings  # the venue's own dict: a relisting shows here
        self.markets = markets
        self.pairs: dict[str, Pair] = {symbol: pair_of(symbol) for symbol in listings}
        self.by_name: dict[str, str] = {}
        for symbol, pair in self.pairs.items():
            for name in (pair.key, pair.altname, ws_symbol(symbol)):
                self.by_name[name] = symbol

    def answer(self, endpoint: str, params: Mapping[str, str], now: int) -> tuple[int, Any]:
        if endpoint == "/Time":
            return 200, wire.ok({"unixtime": now // 1000})
        if endpoint == "/SystemStatus":
            return 200, wire.ok({"status": "online", "timestamp": wire.millis_text(now)})
        if endpoint in ("/AssetPairs", "/Ticker"):
            chosen = self._chosen(params.get("pair"))
            if chosen is None:
                return 200, wire.error(UNKNOWN_PAIR)
            if endpoint == "/Ticker":
                return 200, wire.ok({self.pairs[s].key: wire.rest_ticker(self.markets[s])
                                     for s in chosen})  # fmt: skip
            return 200, wire.ok({self.pairs[s].key: asset_pair(self.listings[s], self.pairs[s])
                                 for s in chosen})  # fmt: skip
        if endpoint == "/Trades":
            symbol = self.by_name.get(params.get("pair", ""))
            if symbol is None:
                return 200, wire.error(UNKNOWN_PAIR)
            try:
                return 200, self._trades(symbol, params, now)
            except (ValueError, InvalidOperation):
                return 200, wire.error("EGeneral:Invalid arguments")
        if endpoint == "/OHLC":
            symbol = self.by_name.get(params.get("pair", ""))
            if symbol is None:
                return 200, wire.error(UNKNOWN_PAIR)
            try:
                return 200, self._ohlc(symbol, params)
            except ValueError:
                return 200, wire.error("EGeneral:Invalid arguments")
        return 404, wire.error("EGeneral:Unknown method")

    def _chosen(self, wanted: str | None) -> list[str] | None:
        if not wanted:
            return list(self.listings)
        chosen = [self.by_name.get(name) for name in wanted.split(",")]
        return None if None in chosen else [s for s in chosen if s is not None]

    def _trades(self, symbol: str, params: Mapping[str, str], now: int) -> dict[str, Any]:
        count = max(1, min(int(params.get("count", MAX_TRADES)), MAX_TRADES))
        history = self.markets[symbol].served()
        since_text = params.get("since")
        if since_text is None:
            rows = list(history)[-count:]
            since = rows[0].time * 1_000_000 if rows else now * 1_000_000
        else:
            since = _nanos(since_text)
            rows = list(itertools.islice((t for t in history if wire.nanos(t) >= since), count))
        last = wire.nanos(rows[-1]) if rows else since
        return wire.ok({self.pairs[symbol].key: [wire.trade_row(t) for t in rows],
                        "last": str(last)})  # fmt: skip

    def _ohlc(self, symbol: str, params: Mapping[str, str]) -> dict[str, Any]:
        interval = int(params.get("interval", 1)) * MINUTE_MS
        since = int(params.get("since", 0)) * 1000
        market = self.markets[symbol]
        market.track(interval)
        current = market.candles[interval]
        closed = _with_quiet_minutes(market.closed[interval], current)[-MAX_CANDLES:]
        rows = [wire.rest_candle(c) for c in closed if c.open_time > since]
        rows.append(wire.rest_candle(current))
        last = closed[-1].open_time // 1000 if closed else since // 1000
        return wire.ok({self.pairs[symbol].key: rows, "last": last})


def _with_quiet_minutes(closed: Sequence[Candle], current: Candle) -> list[Candle]:
    """`closed` with a row for every interval without a trade, as Kraken's OHLC has one: open,
    high, low and close at the close before, volume and count 0."""
    out: list[Candle] = []
    for candle in [*closed, current]:
        if out:
            before = out[-1]
            step = before.interval_ms
            for open_time in range(before.open_time + step, candle.open_time, step):
                price = before.close
                out.append(Candle(open_time, step, price, price, price, price))
        out.append(candle)
    return out[:-1]


def _nanos(text: str) -> int:
    """`since`: nanoseconds, or seconds (with a fraction, or below 1e11)."""
    value = Decimal(text)
    if "." in text or value < 10**11:
        return int(value * 1_000_000_000)
    return int(value)
