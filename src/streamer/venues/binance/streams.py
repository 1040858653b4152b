"""Binance Spot's stream names, and the candle ledger's decision on decoded rows (pure).

Every configured symbol gets four streams: `<s>@ticker`, `<s>@kline_<interval>`,
`<s>@depth<N>@100ms` (or the diff stream `<s>@depth@100ms` for full books) and `<s>@trade` (or
`<s>@aggTrade`), where `<s>` is the native symbol in lower case (`BTC-USDT` -> `btcusdt`).
"""

from __future__ import annotations

from collections.abc import Iterable

from streamer.sources.depth_diff import DiffEvent
from streamer.venues.binance.settings import BinanceSettings


def native_symbol(symbol: str) -> str:
    """`BTC-USDT` -> `BTCUSDT`, the symbol as Binance writes it in payloads."""
    return symbol.replace("-", "")


def symbol_streams(symbol: str, settings: BinanceSettings) -> tuple[str, str, str, str]:
    """The ticker, kline, book (partial, or the diff stream for full books) and trade streams
    of one symbol (lower case symbol)."""
    s = native_symbol(symbol).lower()
    book = f"{s}@depth@100ms" if settings.book_updates else f"{s}@depth{settings.depth}@100ms"
    return (
        f"{s}@ticker",
        f"{s}@kline_{settings.kline_interval}",  # the interval keeps its case: 1m vs 1M
        book,
        f"{s}@{settings.trades}",
    )


def stream_names(settings: BinanceSettings) -> list[str]:
    """Every stream to read, four per configured symbol, in order."""
    return [name for symbol in settings.symbols for name in symbol_streams(symbol, settings)]


def ticking_streams(streams: Iterable[str]) -> list[str]:
    """The ticker and book streams among `streams`: they tick on their own, so silence means
    a dead subscription (a silent trade or kline stream is only a quiet market)."""
    return [name for name in streams if "@ticker" in name or "@depth" in name]


class UpdateIdRanges:
    """Binance Spot's diff events chain by ranges of update ids (exchanges.md 1.7): an event
    holds `U` to `u`, and applies after a book at id `n` when `U <= n + 1` (its `u > n` is
    checked before); a snapshot whose `lastUpdateId` is below the first buffered `U` is too
    old. (USD-M's chain is the previous id `pu`, a rule of its own.)"""

    def continues(self, event: DiffEvent, book_id: int, after_snapshot: bool) -> bool:
        return event.first <= book_id + 1

    def predates(self, snapshot_id: int, first: DiffEvent) -> bool:
        return snapshot_id < first.first


SPOT_CHAIN = UpdateIdRanges()
