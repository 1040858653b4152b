"""Kraken spot (WebSocket v2)'s settings: the typed record, its documented rows, `load`."""

from __future__ import annotations

from dataclasses import dataclass

from streamer.selectors import Selector
from streamer.settings_read import Reader
from streamer.settings_spec import Setting, row

BOOK_DEPTHS = ("10", "25", "100", "500", "1000")
"""The depths the `book` channel takes (docs.kraken.com websocket-v2/book)."""


@dataclass(frozen=True, slots=True)
class KrakenSettings:
    symbols: tuple[str, ...] = ("BTC-USD", "ETH-USD")
    selector: Selector | None = None  # pairs chosen from `AssetPairs` at start
    ws_url: str = "wss://ws.kraken.com/v2"
    rest_url: str = "https://api.kraken.com"
    book_depth: int = 10  # the depth the `book` channel is subscribed with
    book_levels: int = 10  # levels of each published `order_books` row
    book_updates: bool = True  # every verified book message into `book_updates`
    keep_open_candles: bool = False
    stale_seconds: float = 30.0  # heartbeats come every second: silence means a dead socket


ROWS: tuple[Setting, ...] = (
    row(
        "kraken_symbols",
        "BTC-USD,ETH-USD",
        "Kraken spot pairs as `BASE-QUOTE` with v2's asset names (`BTC`, not `XBT`), or a market "
        "as for Binance (`quote:USD,top:20`), resolved from `/0/public/AssetPairs` at start and "
        "every `STREAMER_DISCOVERY_SECONDS` (status `online`)",
    ),
    row(
        "kraken_ws_url kraken_rest_url",
        "wss://ws.kraken.com/v2 / https://api.kraken.com",
        "",
    ),
    row(
        "kraken_book_depth",
        "10",
        "depth the `book` channel is subscribed with: 10, 25, 100, 500 or 1000; the CRC32 "
        "checksum over the top 10 levels is verified on every message, and a book that fails "
        "is resubscribed and never published",
    ),
    row(
        "kraken_book_levels",
        "10",
        "levels of each published `order_books` row (at most the book depth)",
    ),
    row(
        "kraken_book_updates",
        "true",
        "`true`: also write every verified book message to `book_updates`",
    ),
)


def load(r: Reader) -> KrakenSettings:
    d = KrakenSettings()
    symbols, selector = r.market("kraken_symbols", d.symbols)
    depth = int(r.choice("kraken_book_depth", str(d.book_depth), BOOK_DEPTHS))
    return KrakenSettings(
        symbols=symbols,
        selector=selector,
        ws_url=r.url("kraken_ws_url", d.ws_url, ("ws", "wss")),
        rest_url=r.url("kraken_rest_url", d.rest_url, ("http", "https")),
        book_depth=depth,
        book_levels=r.integer("kraken_book_levels", d.book_levels, 1, depth),
        book_updates=r.flag("kraken_book_updates", d.book_updates),
        keep_open_candles=r.flag("keep_open_candles", d.keep_open_candles),
        stale_seconds=r.number("stale_seconds", d.stale_seconds, 1, 3600),
    )
