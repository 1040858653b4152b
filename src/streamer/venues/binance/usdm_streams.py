"""Binance USD-M's symbols, stream names and diff-depth chain rule (pure).

Symbols. USD-M names a perpetual `BTCUSDT` and a dated contract `BTCUSDT_260327`; both share one
namespace (venues.md 1.2). The lake's normalized names carry the contract's kind, so the same
asset pair never collides across kinds or venues:

* a perpetual is `BASE-QUOTE-PERP` (`BTC-USDT-PERP`),
* a dated (delivery) contract is `BASE-QUOTE-YYMMDD`, its UTC delivery day (`BTC-USDT-260327`).

The normalized name is built from the listing's `baseAsset`, `quoteAsset`, `contractType` and
`deliveryDate` (`usdm_rest.instruments`), never by splitting a venue symbol; going the other way
(`native_symbol`) is exact. Streams use the venue symbol in lower case.

Chain rule (`PREVIOUS_ID_CHAIN`). Futures diff events carry `U` (first update id), `u` (final)
and `pu` (the final id of the event before, for this symbol); ids are not consecutive between
events. Binance's USD-M procedure ("How to manage a local order book correctly"): drop events
with `u` < the snapshot's `lastUpdateId`; the first event applied must have
`U <= lastUpdateId <= u`; every later event's `pu` must equal the previous event's `u`,
otherwise the book is lost and re-snapshotted.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from streamer.sources.depth_diff import DiffEvent

EXCHANGE_USDM = "binance_usdm"
PERP = "PERP"
CONTRACT_SYMBOL = re.compile(r"([A-Z0-9]{1,20})-([A-Z0-9]{1,20})-(PERP|[0-9]{6})")
"""A normalized USD-M symbol: base, quote, then `PERP` or the delivery day `YYMMDD`."""

PERPETUAL = "perpetual"
DELIVERY = "delivery"
CONTRACT_KINDS = {
    "PERPETUAL": PERPETUAL,
    "TRADIFI_PERPETUAL": PERPETUAL,  # TradFi (equity, commodity) perpetuals
    "PERPETUAL_DELIVERING": PERPETUAL,  # a perpetual being delisted
    "CURRENT_QUARTER": DELIVERY,
    "NEXT_QUARTER": DELIVERY,
    "CURRENT_MONTH": DELIVERY,
    "NEXT_MONTH": DELIVERY,
}
"""`exchangeInfo`'s `contractType` -> the instrument's kind; a type not named here is not
listed (a new kind is a decision to make, not a guess)."""


def delivery_day(delivery_ms: int) -> str:
    """`1774598400000` -> `260327`: the UTC day a dated contract delivers."""
    return datetime.fromtimestamp(delivery_ms / 1000, UTC).strftime("%y%m%d")


def contract_symbol(base: str, quote: str, kind: str, delivery_ms: int | None) -> str:
    """The normalized name of a contract: `BTC-USDT-PERP`, or `BTC-USDT-260327` if dated."""
    if kind == PERPETUAL:
        return f"{base}-{quote}-{PERP}"
    if delivery_ms is None:
        raise ValueError(f"a {kind} contract of {base}-{quote} needs its delivery time")
    return f"{base}-{quote}-{delivery_day(delivery_ms)}"


def native_symbol(symbol: str) -> str:
    """`BTC-USDT-PERP` -> `BTCUSDT`; `BTC-USDT-260327` -> `BTCUSDT_260327`, as USD-M writes them."""
    match = CONTRACT_SYMBOL.fullmatch(symbol)
    if match is None:
        raise ValueError(f"{symbol!r} is not a USD-M symbol (BASE-QUOTE-PERP or BASE-QUOTE-YYMMDD)")
    base, quote, tail = match.groups()
    return f"{base}{quote}" if tail == PERP else f"{base}{quote}_{tail}"


MARK_PRICE_STREAM = "!markPrice@arr@1s"
"""The whole market's mark prices and predicted funding, one frame a second (`/market` path;
TradFi contracts are not in it)."""
LIQUIDATION_STREAM = "!forceOrder@arr"
"""Every symbol's liquidations, at most the latest one per symbol and second (`/market`)."""


def trade_stream(symbol: str, trades: str) -> str:
    """`<s>@aggTrade` (`/market` path) or `<s>@trade` (`/public`)."""
    return f"{native_symbol(symbol).lower()}@{trades}"


def depth_stream(symbol: str) -> str:
    """`<s>@depth@100ms`, the diff stream full books are kept from (`/public` path)."""
    return f"{native_symbol(symbol).lower()}@depth@100ms"


def kline_stream(symbol: str, interval: str) -> str:
    """`<s>@kline_<interval>` (`/market` path); the interval keeps its case (`1m` vs `1M`)."""
    return f"{native_symbol(symbol).lower()}@kline_{interval}"


def ticker_stream(symbol: str) -> str:
    """`<s>@ticker`, the rolling 24 h `24hrTicker` (`/market` path)."""
    return f"{native_symbol(symbol).lower()}@ticker"


PUBLIC, MARKET = "public", "market"
"""The routed paths of the WebSocket host (venues.md 1.2, mandatory since 2026-04-23)."""
_PUBLIC_KINDS = ("@depth", "@bookTicker", "@rpiDepth")


def route(stream: str) -> str:
    """The path a stream must be asked on: `/public` for `depth*`, `bookTicker` and `@trade`;
    `/market` for the rest (`aggTrade`, `markPrice`, `kline`, `ticker`, `forceOrder`...). On
    the wrong path (or none) a `/market` stream is acknowledged and then never delivers."""
    if stream.endswith("@trade") or any(kind in stream for kind in _PUBLIC_KINDS):
        return PUBLIC
    return MARKET


SPARSE_BY_NATURE = ("forceOrder", "@aggTrade", "@trade", "@kline_")
"""Streams whose silence means a quiet market, not a dead subscription: liquidations (minutes
or hours apart), trades, and candles of an illiquid contract (USD-M's kline stream pushes
"every 250 milliseconds (if existing)", Kline-Candlestick-Streams: a candle nobody trades in
may not change for its whole interval, an hour or a day)."""


def watched(streams: list[str]) -> list[str]:
    """The streams that tick on their own (`!markPrice@arr@1s` every second, each diff depth
    stream, tickers): silent for the stale limit, they are a dead subscription."""
    return [name for name in streams if not any(kind in name for kind in SPARSE_BY_NATURE)]


class PreviousUpdateId:
    """USD-M's chain: an event follows the book when its `pu` is the book's id. The first event
    on a snapshot with id `n` follows it when `U <= n` (`u > n` is checked before), or when its
    `pu` is `n` (the event that ended at `n` was already in the snapshot, and dropped). A
    snapshot is too old when the first buffered event starts after it and does not link to it."""

    def continues(self, event: DiffEvent, book_id: int, after_snapshot: bool) -> bool:
        if after_snapshot and event.first <= book_id:
            return True
        return event.previous == book_id

    def predates(self, snapshot_id: int, first: DiffEvent) -> bool:
        return snapshot_id < first.first and first.previous != snapshot_id


PREVIOUS_ID_CHAIN = PreviousUpdateId()
