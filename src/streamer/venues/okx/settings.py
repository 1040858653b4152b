"""OKX's settings (`okx`): the typed record, its documented rows, `load`.

Symbols are the lake's names (`symbols.SYMBOL`): `BTC-USDT` for a spot pair, `BTC-USDT-PERP`
for the linear perpetual swap `BTC-USDT-SWAP`. A market is named as on Binance (`all`,
`quote:<Q>`, `top:<N>`), narrowed to `spot` (meant when no kind is named) or `perpetual`
swaps, or both.
"""

from __future__ import annotations

from dataclasses import dataclass

from streamer.selectors import Selector
from streamer.settings_read import Reader
from streamer.settings_spec import Setting, row
from streamer.venues.okx.symbols import KINDS, SYMBOL

MAX_ARGS_PER_CONNECTION = 240
"""Subscriptions one connection takes at most here: OKX counts 480 subscribe requests an hour
per connection (not arguments) and suggests fewer than 30 channels of 400-level books on one."""
DEFAULT_ARGS_PER_CONNECTION = 100


@dataclass(frozen=True, slots=True)
class OkxSettings:
    symbols: tuple[str, ...] = ("BTC-USDT", "BTC-USDT-PERP")
    selector: Selector | None = None  # symbols chosen from `public/instruments` at start
    ws_url: str = "wss://ws.okx.com:8443"  # `/ws/v5/public` and `/ws/v5/business` are added
    rest_url: str = "https://www.okx.com"
    args_per_connection: int = DEFAULT_ARGS_PER_CONNECTION
    depth: int = 20  # levels of the published `order_books`
    book_updates: bool = True  # full books from `books` (and `book_updates` rows)
    funding_lookback_hours: float = 24.0
    funding_poll_seconds: float = 600.0
    stale_seconds: float = 30.0  # a watched channel silent this long is flagged, reconnected


ROWS: tuple[Setting, ...] = (
    row(
        "okx_symbols",
        "BTC-USDT,BTC-USDT-PERP",
        "OKX spot pairs `BASE-QUOTE` and linear perpetual swaps `BASE-QUOTE-PERP` (OKX's "
        "`BASE-QUOTE-SWAP`), or a market: `all`, `quote:<Q>`, `top:<N>`, narrowed to `spot` "
        "(when no kind is named) or `perpetual`, e.g. `perpetual,quote:USDT,top:20`; resolved "
        "from `/api/v5/public/instruments` at start and every `STREAMER_DISCOVERY_SECONDS`. "
        "Swap sizes are in contracts (`instruments.contract_size` base units each)",
    ),
    row(
        "okx_ws_url okx_rest_url",
        "wss://ws.okx.com:8443 / https://www.okx.com",
        "`/ws/v5/public` (books, tickers, funding, mark and index prices, open interest, "
        "liquidations) and `/ws/v5/business` (`trades-all`, `candle1m`) are added to the "
        "WebSocket URL",
    ),
    row(
        "okx_args_per_connection",
        str(DEFAULT_ARGS_PER_CONNECTION),
        f"subscriptions (channel and instrument) per connection (at most "
        f"{MAX_ARGS_PER_CONNECTION})",
    ),
    row("okx_depth", "20", "levels of the published books: 5, 10 or 20"),
    row(
        "okx_book_updates",
        "true",
        "`true`: keep each full book from `books` (400 levels, `seqId`/`prevSeqId`; REST "
        "snapshots from `/api/v5/market/books`) into `order_books` and `book_updates`; "
        "`false`: no books",
    ),
    row(
        "okx_funding_lookback_hours",
        "24",
        "settled funding rates (`/api/v5/public/funding-rate-history`) fetched at start, this "
        "far back (0: none)",
    ),
    row(
        "okx_funding_poll_seconds",
        "600",
        "how often each swap's settled funding rates are asked for again (new ones are written)",
    ),
)


def load(r: Reader) -> OkxSettings:
    d = OkxSettings()
    symbols, selector = r.market(
        "okx_symbols",
        d.symbols,
        pattern=SYMBOL,
        shape="BASE-QUOTE or BASE-QUOTE-PERP in upper case, e.g. BTC-USDT-PERP",
        kinds=KINDS,
    )
    return OkxSettings(
        symbols=symbols,
        selector=selector,
        ws_url=r.url("okx_ws_url", d.ws_url, ("ws", "wss")),
        rest_url=r.url("okx_rest_url", d.rest_url, ("http", "https")),
        args_per_connection=r.integer(
            "okx_args_per_connection", d.args_per_connection, 8, MAX_ARGS_PER_CONNECTION
        ),
        depth=int(r.choice("okx_depth", str(d.depth), ("5", "10", "20"))),
        book_updates=r.flag("okx_book_updates", d.book_updates),
        funding_lookback_hours=r.number(
            "okx_funding_lookback_hours", d.funding_lookback_hours, 0, 24 * 90
        ),
        funding_poll_seconds=r.number(
            "okx_funding_poll_seconds", d.funding_poll_seconds, 10, 86_400
        ),
        stale_seconds=r.number("stale_seconds", d.stale_seconds, 1, 3600),
    )
