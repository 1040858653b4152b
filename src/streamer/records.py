"""The normalized records: one immutable, typed row class per dataset.

These classes are the single source of truth for the lake's schema. `schema.py` reads their
field names and annotations to produce Glue columns, Athena DDL and DuckDB column types, and
`jsonline.py` compiles an encoder for each of them.

Value conventions (chosen for speed on the per-message path and for exactness):

* `Dec` and `Real` hold the venue's number *text* (validated by `numbers.py`) and are written
  into JSON as bare numbers, so no float round trip can change a digit. `Dec` is an exchange
  price or size (Glue `decimal(38,18)`); `Real` is a CoinGecko aggregate that CoinGecko itself
  sends as a binary float (Glue `double`).
* `Millis` is a UTC instant in integer milliseconds since the epoch, written as
  `YYYY-MM-DD HH:MM:SS.mmm`, which Athena's JSON SerDe and DuckDB both read as TIMESTAMP.
* `Levels` is an order-book side, best level first: `((price, size), ...)`.
* `Hours` is a whole number of hours (a funding interval), written as an integer.
* `IdRanges` is a list of inclusive id ranges `((first, last), ...)` (Glue
  `array<struct<first:bigint,last:bigint>>`); `Holes` the same with the reason each range could
  not be recovered, `((first, last, reason), ...)`.

Rows are `NamedTuple`s: frozen, slotted (tuples) and about ten times cheaper to build than a
frozen dataclass, which matters at tens of thousands of messages per second.
"""

from __future__ import annotations

from typing import NamedTuple, NewType

Dec = NewType("Dec", str)
Real = NewType("Real", str)
Millis = NewType("Millis", int)
Hours = NewType("Hours", int)
Level = tuple[Dec, Dec]
Levels = tuple[Level, ...]
IdRange = tuple[int, int]
IdRanges = NewType("IdRanges", tuple[IdRange, ...])
Hole = tuple[int, int, str]
Holes = NewType("Holes", tuple[Hole, ...])

RAW_LIMIT = 4096
"""Characters of a rejected frame's raw text kept in the rejects dataset."""


class Ticker(NamedTuple):
    """A venue's rolling 24-hour statistics for one symbol."""

    exchange: str
    symbol: str
    event_time: Millis
    received_at: Millis
    last_price: Dec
    best_bid: Dec | None
    best_bid_size: Dec | None
    best_ask: Dec | None
    best_ask_size: Dec | None
    open_24h: Dec | None
    high_24h: Dec | None
    low_24h: Dec | None
    volume_24h: Dec | None
    quote_volume_24h: Dec | None
    price_change_pct_24h: Dec | None
    trade_count_24h: int | None
    record_id: str


class Candle(NamedTuple):
    """One OHLCV candle; `is_closed` is false only for in-progress updates (opt-in)."""

    exchange: str
    symbol: str
    event_time: Millis
    received_at: Millis
    interval: str
    open_time: Millis
    close_time: Millis
    open: Dec
    high: Dec
    low: Dec
    close: Dec
    volume: Dec
    quote_volume: Dec | None
    trade_count: int | None
    is_closed: bool
    origin: str
    record_id: str


class BookSnapshot(NamedTuple):
    """The top `depth` levels of one order book; `sequence` is the venue's update id.

    `bid_price` .. `ask_size` repeat the best level of each side (null for an empty side), so a
    spread or mid-price series reads four narrow columns instead of the level arrays. Build
    rows with `book_snapshot`, which fills them from the levels."""

    exchange: str
    symbol: str
    event_time: Millis
    received_at: Millis
    depth: int
    bids: Levels
    asks: Levels
    bid_price: Dec | None
    bid_size: Dec | None
    ask_price: Dec | None
    ask_size: Dec | None
    sequence: int | None
    record_id: str


_NO_LEVEL = (None, None)
_new_book = tuple.__new__


def book_snapshot(
    exchange: str,
    symbol: str,
    event_time: Millis,
    received_at: Millis,
    depth: int,
    bids: Levels,
    asks: Levels,
    sequence: int | None,
    record_id: str,
) -> BookSnapshot:
    """A `BookSnapshot` whose top-of-book columns are the levels' first entries."""
    bid = bids[0] if bids else _NO_LEVEL
    ask = asks[0] if asks else _NO_LEVEL
    return _new_book(
        BookSnapshot, (exchange, symbol, event_time, received_at, depth, bids, asks, bid[0],
                       bid[1], ask[0], ask[1], sequence, record_id),
    )  # fmt: skip


class Trade(NamedTuple):
    """One trade (or Binance aggregate trade); `side` is the taker's side, buy or sell."""

    exchange: str
    symbol: str
    event_time: Millis
    received_at: Millis
    trade_id: str
    price: Dec
    size: Dec
    side: str
    record_id: str


class BookUpdate(NamedTuple):
    """One order-book level (`side` bid or ask) set to a new size; a size of 0 removes it.

    Flat like tardis.dev's incremental L2. The `is_snapshot` rows sharing one (`event_time`,
    `sequence`) are a whole book, which replaces the one before; the other rows change it, in
    (`event_time`, `sequence`) order (`book_replay.py` rebuilds the books).
    """

    exchange: str
    symbol: str
    event_time: Millis
    received_at: Millis
    side: str
    price: Dec
    size: Dec
    is_snapshot: bool
    sequence: int
    record_id: str


class Instrument(NamedTuple):
    """One contract or pair as its venue lists it (written at start and on every change).

    `symbol` is the normalized name (`BTC-USDT-PERP`, `BTC-USDT-260327`, `BTC-USDT`) and
    `venue_symbol` the venue's own (`BTCUSDT`, `BTCUSDT_260327`); `kind` is perpetual, delivery
    or spot. `event_time` is the listing's server time. The `record_id` is derived from the
    listed values, not the time, so an unchanged listing fetched again de-duplicates.
    """

    exchange: str
    symbol: str
    event_time: Millis
    received_at: Millis
    venue_symbol: str
    kind: str
    base: str
    quote: str
    settle: str | None
    contract_size: Dec | None
    tick_size: Dec | None
    lot_size: Dec | None
    delivery_time: Millis | None
    funding_interval_hours: Hours | None
    status: str
    record_id: str


class DerivativeTicker(NamedTuple):
    """A contract's mark, index and estimated settle price with its predicted funding.

    `funding_rate` is the venue's current (predicted) rate for the funding at
    `next_funding_time`, not a settled one (`funding_rates` holds those); both are null for a
    contract that does not fund (a dated one). `open_interest` and `last_price` are null where
    the source frame does not carry them.
    """

    exchange: str
    symbol: str
    event_time: Millis
    received_at: Millis
    mark_price: Dec
    index_price: Dec | None
    estimated_settle_price: Dec | None
    funding_rate: Dec | None
    next_funding_time: Millis | None
    open_interest: Dec | None
    last_price: Dec | None
    record_id: str


class OpenInterest(NamedTuple):
    """A contract's open interest at the venue's time (in contracts; base units if linear)."""

    exchange: str
    symbol: str
    event_time: Millis
    received_at: Millis
    open_interest: Dec
    record_id: str


class FundingRate(NamedTuple):
    """One settled funding of a perpetual: its rate, at `event_time` (the funding time).

    `funding_interval_hours` is the symbol's interval when collected; `mark_price` the mark
    price the venue reports for the funding, where it does.
    """

    exchange: str
    symbol: str
    event_time: Millis
    received_at: Millis
    funding_rate: Dec
    funding_interval_hours: Hours | None
    mark_price: Dec | None
    record_id: str


class Liquidation(NamedTuple):
    """A forced order that closed a position (a liquidation), as the venue reports it.

    `side` is the liquidated order's side: buy means a short was liquidated, sell a long.
    `event_time` is the order's trade time. A venue may report only some of them (Binance: the
    latest per symbol and second), so counts are a lower bound.
    """

    exchange: str
    symbol: str
    event_time: Millis
    received_at: Millis
    side: str
    price: Dec
    average_price: Dec | None
    quantity: Dec
    filled_quantity: Dec
    status: str
    record_id: str


class Quality(NamedTuple):
    """What one stream of one symbol received, wrote and lost in one minute (or one flush).

    `stream` is the stream kind (trades, book, candles, ...); `minute` the start of the window
    (UTC, whole minute). `gaps` are the id ranges found missing in the live stream,
    `backfilled` the ids recovered from history, `unrecoverable` the ranges that could not be
    recovered with the reason (a history limit, a delisted symbol). Book resyncs are counted by
    cause. `silent_subscriptions` counts subscriptions the venue acknowledged that then sent
    nothing; `connected_ms` and `disconnected_ms` split the window's time. `shard` is the
    process's `STREAMER_SHARD` (`0/1`). The `record_id` is derived from (exchange, symbol,
    stream, minute, shard), so a row delivered twice de-duplicates.
    """

    exchange: str
    symbol: str
    stream: str
    minute: Millis
    received_at: Millis
    messages: int
    rows: int
    gaps: IdRanges
    backfilled: int
    unrecoverable: Holes
    resyncs_sequence_break: int
    resyncs_checksum_mismatch: int
    resyncs_venue_reset: int
    silent_subscriptions: int
    connected_ms: int
    disconnected_ms: int
    rejects: int
    shard: str
    record_id: str


class SpotPrice(NamedTuple):
    """CoinGecko's aggregated price of one coin in one currency."""

    coin_id: str
    vs_currency: str
    price: Real | None
    market_cap: Real | None
    volume_24h: Real | None
    change_pct_24h: Real | None
    last_updated_at: Millis | None
    received_at: Millis
    record_id: str


class Market(NamedTuple):
    """One row of CoinGecko's market-cap ranking (`/coins/markets`)."""

    coin_id: str
    symbol: str
    name: str
    vs_currency: str
    market_cap_rank: int | None
    price: Real | None
    market_cap: Real | None
    fully_diluted_valuation: Real | None
    volume_24h: Real | None
    high_24h: Real | None
    low_24h: Real | None
    price_change_24h: Real | None
    price_change_pct_24h: Real | None
    circulating_supply: Real | None
    total_supply: Real | None
    max_supply: Real | None
    last_updated_at: Millis | None
    received_at: Millis
    record_id: str


class Reject(NamedTuple):
    """A frame that could not be normalized, kept aside with the reason and its raw text."""

    source: str
    reason: str
    raw: str
    received_at: Millis


Row = (
    Ticker
    | Candle
    | BookSnapshot
    | BookUpdate
    | Trade
    | Instrument
    | DerivativeTicker
    | OpenInterest
    | FundingRate
    | Liquidation
    | Quality
    | SpotPrice
    | Market
)
Item = Row | Reject
