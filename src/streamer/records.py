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

Rows are `NamedTuple`s: frozen, slotted (tuples) and about ten times cheaper to build than a
frozen dataclass, which matters at tens of thousands of messages per second.
"""

from __future__ import annotations

from typing import NamedTuple, NewType

Dec = NewType("Dec", str)
Real = NewType("Real", str)
Millis = NewType("Millis", int)
Level = tuple[Dec, Dec]
Levels = tuple[Level, ...]

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
    """The top `depth` levels of one order book; `sequence` is the venue's update id."""

    exchange: str
    symbol: str
    event_time: Millis
    received_at: Millis
    depth: int
    bids: Levels
    asks: Levels
    sequence: int | None
    record_id: str


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


Row = Ticker | Candle | BookSnapshot | BookUpdate | Trade | SpotPrice | Market
Item = Row | Reject
