"""OKX v5's symbols, channels, routes and book chain rule (pure).

Symbols. OKX names a spot pair `BTC-USDT` and a perpetual swap `BTC-USDT-SWAP`. The lake's
names are `BTC-USDT` (spot) and `BTC-USDT-PERP` (the swap), as for Binance USD-M; the way back
(`inst_id`) is exact. Only linear (USDT- or USDC-margined) swaps are listed: an inverse swap's
contract value is in the quote currency (`BTC-USD-SWAP`: 100 USD), which `instruments` has no
column to say (a decision for later, not a guess).

Sizes. OKX states spot sizes in the base currency and swap sizes in contracts (`sz`, book
levels, `oi`, liquidation `sz`, candle `vol`). The lake keeps the venue's text: a swap's sizes
are contracts, and `instruments.contract_size` (OKX `ctVal`, in the base currency) turns them
into base units. Binance USD-M's contract is one base unit (its `contract_size` is 1), so the
rule "sizes in contracts; times `contract_size` for base units" reads the same on both.

Channels (venues.md 2; OKX docs "WS / All trades channel", "WS / Order book channel"):
`trades-all` and `candle1m` live on `/ws/v5/business`; `books`, `tickers`, `funding-rate`,
`mark-price`, `index-tickers`, `open-interest` and `liquidation-orders` on `/ws/v5/public`.
`trades` (public) aggregates the fills of one taker order at one price into one message
(`count`, and `tradeId` the last id), so it cannot carry every fill; `trades-all` pushes one
trade per message, with each trade's own id: that is the one taken.

Chain rule (`PREV_SEQ_CHAIN`). A `books` message carries `seqId` and `prevSeqId`; a message
follows the book when its `prevSeqId` is the book's `seqId`. On a REST snapshot with `seqId`
`n`, the first message applied must have `prevSeqId <= n < seqId` (OKX's "How to manage a
local order book correctly", 2026 changelog). A keep-alive message repeats the last `seqId`
(`prevSeqId == seqId`, no levels) and is ignored; a sequence reset after maintenance
(`seqId < prevSeqId`) is taken as a break and resynced.
"""

from __future__ import annotations

import re

from streamer.sources.depth_diff import DiffEvent

EXCHANGE = "okx"
PERP = "PERP"
SWAP = "SWAP"
SYMBOL = re.compile(r"([A-Z0-9]{1,20})-([A-Z0-9]{1,20})(?:-(PERP))?")
"""A normalized OKX symbol: `BASE-QUOTE` (spot) or `BASE-QUOTE-PERP` (a perpetual swap)."""

SPOT = "spot"
PERPETUAL = "perpetual"
KINDS = (SPOT, PERPETUAL)
"""The selector's kinds; the first is meant when none is named."""

PUBLIC, BUSINESS = "public", "business"
"""The paths of the WebSocket host: `<ws>/ws/v5/public` and `<ws>/ws/v5/business`."""

TRADES = "trades-all"
BOOKS = "books"
TICKERS = "tickers"
CANDLES = "candle1m"
FUNDING = "funding-rate"
MARK = "mark-price"
INDEX = "index-tickers"
OPEN_INTEREST = "open-interest"
LIQUIDATIONS = "liquidation-orders"
ROUTES = {TRADES: BUSINESS, CANDLES: BUSINESS}
"""Channels asked on `/business`; every other on `/public`."""
SPARSE_BY_NATURE = frozenset({TRADES, CANDLES, LIQUIDATIONS, FUNDING, OPEN_INTEREST})
"""Channels whose silence means a quiet market (or a slow push), not a dead subscription."""


def route(channel: str) -> str:
    return ROUTES.get(channel, PUBLIC)


def is_perpetual(symbol: str) -> bool:
    return symbol.endswith("-" + PERP)


def inst_id(symbol: str) -> str:
    """`BTC-USDT` -> `BTC-USDT`; `BTC-USDT-PERP` -> `BTC-USDT-SWAP`, as OKX writes them."""
    match = SYMBOL.fullmatch(symbol)
    if match is None:
        raise ValueError(f"{symbol!r} is not an OKX symbol (BASE-QUOTE or BASE-QUOTE-PERP)")
    base, quote, perp = match.groups()
    return f"{base}-{quote}-{SWAP}" if perp else f"{base}-{quote}"


def index_id(symbol: str) -> str:
    """The index a swap's `index-tickers` are asked by: `BTC-USDT-PERP` -> `BTC-USDT`."""
    return symbol.removesuffix("-" + PERP)


def normalized(inst: str) -> str | None:
    """`BTC-USDT-SWAP` -> `BTC-USDT-PERP`, `BTC-USDT` -> `BTC-USDT`; None for another kind."""
    swap = inst.endswith("-" + SWAP)
    name = inst.removesuffix("-" + SWAP) + "-" + PERP if swap else inst
    return name if SYMBOL.fullmatch(name) else None


def channels(symbol: str, *, books: bool) -> list[tuple[str, str]]:
    """(channel, instId) of every per-symbol subscription `symbol` needs."""
    inst = inst_id(symbol)
    args = [(TRADES, inst), (TICKERS, inst), (CANDLES, inst)]
    args += [(BOOKS, inst)] if books else []
    if is_perpetual(symbol):
        args += [(FUNDING, inst), (MARK, inst), (OPEN_INTEREST, inst), (INDEX, index_id(symbol))]
    return args


class PrevSeqId:
    """OKX's chain: an event follows the book when its `prevSeqId` is the book's `seqId`; the
    first one on a snapshot with `seqId` `n` when `prevSeqId <= n` (`seqId > n` is checked
    before). A snapshot is too old when the first buffered event starts after it."""

    def continues(self, event: DiffEvent, book_id: int, after_snapshot: bool) -> bool:
        previous = event.previous
        if previous is None:
            return False
        if after_snapshot:
            return previous <= book_id
        return previous == book_id

    def predates(self, snapshot_id: int, first: DiffEvent) -> bool:
        return first.previous is not None and snapshot_id < first.previous


PREV_SEQ_CHAIN = PrevSeqId()
