"""Coinbase Advanced Trade's settings: the typed record, its documented rows and how they are
read."""

from __future__ import annotations

from dataclasses import dataclass

from streamer.selectors import Selector
from streamer.settings_read import Reader
from streamer.settings_spec import Setting, row


@dataclass(frozen=True, slots=True)
class CoinbaseSettings:
    symbols: tuple[str, ...] = ("BTC-USD", "ETH-USD", "SOL-USD")
    selector: Selector | None = None  # products chosen from the venue's listing at start
    ws_url: str = "wss://advanced-trade-ws.coinbase.com"
    rest_url: str = "https://api.coinbase.com"
    book_depth: int = 20
    book_interval: float = 1.0  # seconds between published top-N snapshots per symbol
    book_updates: bool = False  # every change of the level2 book, into `book_updates`
    max_frame_bytes: int = 64 * 1024 * 1024  # level2 snapshots of BTC-USD are several MiB
    keep_open_candles: bool = False
    stale_seconds: float = 30.0  # no frame (heartbeats arrive every second): reconnect


ROWS: tuple[Setting, ...] = (
    row(
        "coinbase_symbols",
        "BTC-USD,ETH-USD,SOL-USD",
        "Coinbase product ids, or a market as for Binance (`quote:USD,top:16`), resolved from "
        "`market/products` at start and every `STREAMER_DISCOVERY_SECONDS` (SPOT, online, trading "
        "not disabled)",
    ),
    row(
        "coinbase_ws_url coinbase_rest_url",
        "wss://advanced-trade-ws.coinbase.com / https://api.coinbase.com",
        "",
    ),
    row(
        "coinbase_book_depth coinbase_book_interval",
        "20 / 1",
        "top-N levels published every N seconds from the local level2 book",
    ),
    row(
        "coinbase_book_updates",
        "false",
        "`true`: also write every change of the local level2 book (the whole book) to "
        "`book_updates`",
    ),
    row(
        "coinbase_max_frame_bytes",
        "67108864",
        "level2 snapshots are several MiB (minimum 10 MiB)",
    ),
)


def load(r: Reader) -> CoinbaseSettings:
    d = CoinbaseSettings()
    symbols, selector = r.market("coinbase_symbols", d.symbols)
    return CoinbaseSettings(
        symbols=symbols,
        selector=selector,
        ws_url=r.url("coinbase_ws_url", d.ws_url, ("ws", "wss")),
        rest_url=r.url("coinbase_rest_url", d.rest_url, ("http", "https")),
        book_depth=r.integer("coinbase_book_depth", d.book_depth, 1, 1000),
        book_interval=r.number("coinbase_book_interval", d.book_interval, 0.05, 3600),
        book_updates=r.flag("coinbase_book_updates", d.book_updates),
        max_frame_bytes=r.integer(
            "coinbase_max_frame_bytes", d.max_frame_bytes, 10 * 1024 * 1024, 1024**3
        ),
        keep_open_candles=r.flag("keep_open_candles", d.keep_open_candles),
        stale_seconds=r.number("stale_seconds", d.stale_seconds, 1, 3600),
    )
