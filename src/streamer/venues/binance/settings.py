"""Binance Spot's settings: the typed record, its documented rows and how they are read."""

from __future__ import annotations

from dataclasses import dataclass

from streamer.selectors import Selector
from streamer.settings_read import Reader
from streamer.settings_spec import Setting, row

KLINE_INTERVALS = (
    "1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w",
    "1M",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class BinanceSettings:
    symbols: tuple[str, ...] = ("BTC-USDT", "ETH-USDT", "SOL-USDT")
    selector: Selector | None = None  # symbols chosen from the venue's listing at start
    ws_url: str = "wss://stream.binance.com:9443"
    rest_url: str = "https://api.binance.com"
    kline_interval: str = "1m"
    trades: str = "trade"  # or "aggTrade"
    depth: int = 20  # 5, 10 or 20 (partial book stream depth<N>@100ms; top N of the full book)
    book_updates: bool = False  # the full book from `<s>@depth@100ms`, into `book_updates`
    keep_open_candles: bool = False
    stale_seconds: float = 30.0  # no frame on the connection (or a ticker/book stream): reconnect
    rotate_seconds: float = 23.5 * 3600  # replace each connection before the venue's 24 h cut


ROWS: tuple[Setting, ...] = (
    row(
        "binance_symbols",
        "BTC-USDT,ETH-USDT,SOL-USDT",
        "normalized `BASE-QUOTE` symbols, or a market: `all` (every trading spot symbol), "
        "`quote:<Q>`, `top:<N>` (by 24 h quote volume), combined as an intersection, e.g. "
        "`quote:USDT,top:100`; resolved from `exchangeInfo` at start and every "
        "`STREAMER_DISCOVERY_SECONDS`",
    ),
    row(
        "binance_ws_url binance_rest_url",
        "wss://stream.binance.com:9443 / https://api.binance.com",
        "also `wss://data-stream.binance.vision`, Binance.US",
    ),
    row("binance_kline_interval", "1m", "any Binance interval, `1s` included"),
    row("binance_trades", "trade", "`trade` or `aggTrade`"),
    row(
        "binance_depth",
        "20",
        "levels of the published books: 5, 10 or 20, every 100 ms (the partial book stream, or "
        "the top of the full book)",
    ),
    row(
        "binance_book_updates",
        "false",
        "`true`: keep each full book from the diff stream `<s>@depth@100ms` (REST snapshots of "
        "5,000 levels, weight 250, at most 12 a minute) and write every level change to "
        "`book_updates`; the published books are its top levels",
    ),
    row(
        "binance_rotate_seconds",
        "84600",
        "replace each Binance connection through an overlapping one before the venue's 24 h cut "
        "(23.5 h)",
    ),
)


def load(r: Reader) -> BinanceSettings:
    d = BinanceSettings()
    symbols, selector = r.market("binance_symbols", d.symbols)
    return BinanceSettings(
        symbols=symbols,
        selector=selector,
        ws_url=r.url("binance_ws_url", d.ws_url, ("ws", "wss")),
        rest_url=r.url("binance_rest_url", d.rest_url, ("http", "https")),
        kline_interval=r.choice("binance_kline_interval", d.kline_interval, KLINE_INTERVALS),
        trades=r.choice("binance_trades", d.trades, ("trade", "aggTrade")),
        depth=int(r.choice("binance_depth", str(d.depth), ("5", "10", "20"))),
        book_updates=r.flag("binance_book_updates", d.book_updates),
        keep_open_candles=r.flag("keep_open_candles", d.keep_open_candles),
        stale_seconds=r.number("stale_seconds", d.stale_seconds, 1, 3600),
        rotate_seconds=r.number("binance_rotate_seconds", d.rotate_seconds, 1, 86_000),
    )
