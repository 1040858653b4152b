"""Binance USD-M's settings (`binance_usdm`): the typed record, its documented rows, `load`.

Symbols are the lake's contract names (`usdm_streams.CONTRACT_SYMBOL`): `BTC-USDT-PERP` for a
perpetual, `BTC-USDT-260327` for a contract delivered on that UTC day. A market is named as on
Spot (`all`, `quote:<Q>`, `top:<N>`), narrowed to a kind of contract: `perpetual` (meant when no
kind is named) or `delivery`, or both.
"""

from __future__ import annotations

from dataclasses import dataclass

from streamer.selectors import Selector
from streamer.settings_read import Reader
from streamer.settings_spec import Setting, row
from streamer.venues.binance.usdm_streams import CONTRACT_SYMBOL, DELIVERY, PERPETUAL

KINDS = (PERPETUAL, DELIVERY)
"""The selector's contract kinds; the first is the default universe."""
MAX_STREAMS_PER_CONNECTION = 1024
"""The most the venue is documented to take (venues.md 1.2); other copies of its docs say 200."""
DEFAULT_STREAMS_PER_CONNECTION = 200
KLINE_INTERVALS = (
    "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M",
)  # fmt: skip
"""USD-M's kline intervals (Kline-Candlestick-Streams): Spot's without `1s`."""


@dataclass(frozen=True, slots=True)
class UsdmSettings:
    symbols: tuple[str, ...] = ("BTC-USDT-PERP", "ETH-USDT-PERP")
    selector: Selector | None = None  # symbols chosen from `exchangeInfo` at start
    ws_url: str = "wss://fstream.binance.com"  # routed: `/public` and `/market` are added
    rest_url: str = "https://fapi.binance.com"
    streams_per_connection: int = DEFAULT_STREAMS_PER_CONNECTION
    trades: str = "aggTrade"  # or "trade"
    kline_interval: str = "1m"  # `<s>@kline_<interval>` -> ohlcv, backfilled from REST klines
    keep_open_candles: bool = False  # the shared STREAMER_KEEP_OPEN_CANDLES
    depth: int = 20  # levels of the published `order_books`
    book_updates: bool = True  # full books from `<s>@depth@100ms` (and `book_updates` rows)
    open_interest_seconds: float = 60.0
    funding_lookback_hours: float = 24.0
    stale_seconds: float = 30.0  # a watched stream silent this long is flagged, reconnected


ROWS: tuple[Setting, ...] = (
    row(
        "binance_usdm_symbols",
        "BTC-USDT-PERP,ETH-USDT-PERP",
        "USD-M contracts: `BASE-QUOTE-PERP` (perpetual) or `BASE-QUOTE-YYMMDD` (delivered that "
        "UTC day), or a market: `all`, `quote:<Q>`, `top:<N>` as on Spot, narrowed to "
        "`perpetual` (when no kind is named) or `delivery` contracts, e.g. `quote:USDT,top:50`; "
        "resolved from `/fapi/v1/exchangeInfo` at start and every `STREAMER_DISCOVERY_SECONDS`",
    ),
    row(
        "binance_usdm_ws_url binance_usdm_rest_url",
        "wss://fstream.binance.com / https://fapi.binance.com",
        "the routed paths `/public` (depth, trade) and `/market` (aggTrade, mark prices, "
        "liquidations, klines, tickers) are added to the WebSocket URL",
    ),
    row(
        "binance_usdm_streams_per_connection",
        str(DEFAULT_STREAMS_PER_CONNECTION),
        "streams per connection (the venue's copies of its docs say 200 or 1024; at most 1024)",
    ),
    row("binance_usdm_trades", "aggTrade", "`aggTrade` (backfilled by id) or `trade`"),
    row(
        "binance_usdm_kline_interval",
        "1m",
        "candles of `<s>@kline_<interval>` (any USD-M interval; no `1s`), holes filled from "
        "`/fapi/v1/klines`; tickers come from `<s>@ticker`, which has no best bid or ask",
    ),
    row("binance_usdm_depth", "20", "levels of the published books: 5, 10 or 20"),
    row(
        "binance_usdm_book_updates",
        "true",
        "`true`: keep each full book from `<s>@depth@100ms` (REST snapshots of 1,000 levels, "
        "weight 20) into `order_books` and `book_updates`; `false`: no books",
    ),
    row(
        "binance_usdm_open_interest_seconds",
        "60",
        "how often `/fapi/v1/openInterest` (weight 1) is polled for each symbol (the symbols' "
        "polls spread over the interval) into `open_interest`",
    ),
    row(
        "binance_usdm_funding_lookback_hours",
        "24",
        "settled funding rates (`/fapi/v1/fundingRate`) fetched at start, this far back (0: "
        "none); each one is fetched once it settles in any case",
    ),
)


def load(r: Reader) -> UsdmSettings:
    d = UsdmSettings()
    symbols, selector = r.market(
        "binance_usdm_symbols",
        d.symbols,
        pattern=CONTRACT_SYMBOL,
        shape="BASE-QUOTE-PERP or BASE-QUOTE-YYMMDD in upper case, e.g. BTC-USDT-PERP",
        kinds=KINDS,
    )
    per_connection = r.integer(
        "binance_usdm_streams_per_connection",
        d.streams_per_connection,
        3,  # the two all-market streams and one more
        MAX_STREAMS_PER_CONNECTION,
    )
    return UsdmSettings(
        symbols=symbols,
        selector=selector,
        ws_url=r.url("binance_usdm_ws_url", d.ws_url, ("ws", "wss")),
        rest_url=r.url("binance_usdm_rest_url", d.rest_url, ("http", "https")),
        streams_per_connection=per_connection,
        trades=r.choice("binance_usdm_trades", d.trades, ("aggTrade", "trade")),
        kline_interval=r.choice("binance_usdm_kline_interval", d.kline_interval, KLINE_INTERVALS),
        keep_open_candles=r.flag("keep_open_candles", d.keep_open_candles),
        depth=int(r.choice("binance_usdm_depth", str(d.depth), ("5", "10", "20"))),
        book_updates=r.flag("binance_usdm_book_updates", d.book_updates),
        open_interest_seconds=r.number(
            "binance_usdm_open_interest_seconds", d.open_interest_seconds, 1, 86_400
        ),
        funding_lookback_hours=r.number(
            "binance_usdm_funding_lookback_hours", d.funding_lookback_hours, 0, 24 * 365
        ),
        stale_seconds=r.number("stale_seconds", d.stale_seconds, 1, 3600),
    )
