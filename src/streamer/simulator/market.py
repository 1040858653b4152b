"""A synthetic but consistent market for one symbol (pure: no I/O, no await).

Prices are integer ticks and sizes integer base units (1e-8), so every book, trade and candle
is exact. `step()` either changes one book level or makes a trade that takes the best level on
the other side (a buy lifts the ask, a sell hits the bid), so trades always happen at the
spread. Candles and 24 h statistics are built from those trades.
"""

from __future__ import annotations

import itertools
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

SIZE_UNIT = 10**8  # sizes are integers of 1e-8 base units
BOOK_LEVELS = 200  # levels kept per side
TRADE_PROBABILITY = 0.35  # of one `step`
MEAN_TRADE_UNITS = SIZE_UNIT // 4  # about the mean size of a trade
TRADE_HISTORY = 20_000  # trades REST can still serve per market, by default


def price_text(ticks: int, decimals: int) -> str:
    """Ticks of 0.01 as text with `decimals` digits (at least 2)."""
    return f"{ticks // 100}.{ticks % 100:02d}" + "0" * (decimals - 2)


def size_text(units: int, trim: bool = False) -> str:
    text = f"{units // SIZE_UNIT}.{units % SIZE_UNIT:08d}"
    return text.rstrip("0").rstrip(".") if trim else text


@dataclass(frozen=True, slots=True)
class Notation:
    """How a venue writes prices (`decimals` digits) and sizes (trailing zeros `trim`med)."""

    decimals: int
    trim: bool

    def price(self, ticks: int) -> str:
        return price_text(ticks, self.decimals)

    def size(self, units: int) -> str:
        return size_text(units, self.trim)


@dataclass(slots=True)
class Trade:
    trade_id: int
    price: int
    size: int
    taker_side: str  # "buy" or "sell"
    time: int


@dataclass(slots=True)
class Candle:
    open_time: int
    interval_ms: int
    open: int
    high: int
    low: int
    close: int
    volume: int = 0
    quote_volume: int = 0  # in ticks * units
    trades: int = 0
    first_id: int = -1
    last_id: int = -1

    @property
    def close_time(self) -> int:
        return self.open_time + self.interval_ms - 1


@dataclass(slots=True)
class Change:
    side: str  # "bid" or "ask"
    price: int
    size: int  # absolute; 0 removes the level


@dataclass
class Market:
    symbol: str
    rng: random.Random
    start_price: int
    now: int
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)
    sequence: int = 1
    next_trade_id: int = 1
    last_price: int = 0
    open_24h: int = 0
    high_24h: int = 0
    low_24h: int = 0
    volume_24h: int = 0
    quote_volume_24h: int = 0
    trade_count: int = 0
    first_trade_id: int = 1
    candles: dict[int, Candle] = field(default_factory=dict)  # interval_ms -> open candle
    closed: dict[int, list[Candle]] = field(default_factory=dict)  # history per interval
    history: deque[Trade] = field(default_factory=lambda: deque(maxlen=TRADE_HISTORY))
    """The newest trades, oldest first; older ones are gone for good."""
    depth: int | None = None
    """How many of the newest trades REST still serves (None: all of `history`): a venue
    whose trade history runs out, so a hole older than it cannot be filled."""

    def __post_init__(self) -> None:
        for k in range(1, BOOK_LEVELS + 1):
            self.bids[self.start_price - k] = self._random_size()
            self.asks[self.start_price + k] = self._random_size()
        self.last_price = self.open_24h = self.high_24h = self.low_24h = self.start_price

    def assume_history(self, trades: int) -> None:
        """Start as if `trades` trades of the mean size had happened in the last 24 h at the
        start price: volumes and counts, with trade ids continuing after them."""
        self.trade_count = trades
        self.next_trade_id = self.first_trade_id + trades
        self.volume_24h = trades * MEAN_TRADE_UNITS
        self.quote_volume_24h = self.volume_24h * self.start_price

    def served(self) -> Sequence[Trade]:
        """The trades the venue's REST trade history still serves, oldest first: the newest
        `depth` of `history` (the stream, snapshots and tickers still see all of it)."""
        history, depth = self.history, self.depth
        if depth is None or depth >= len(history):
            return history
        return list(itertools.islice(history, len(history) - depth, None))

    def _random_size(self) -> int:
        return self.rng.randint(1, 200) * SIZE_UNIT // 100

    def best_bid(self) -> int:
        return max(self.bids)

    def best_ask(self) -> int:
        return min(self.asks)

    def top(self, side: str, n: int) -> list[tuple[int, int]]:
        if side == "bid":
            return [(p, self.bids[p]) for p in sorted(self.bids, reverse=True)[:n]]
        return [(p, self.asks[p]) for p in sorted(self.asks)[:n]]

    def track(self, interval_ms: int) -> None:
        """Start building candles of this interval from now on."""
        if interval_ms not in self.candles:
            start = self.now - self.now % interval_ms
            p = self.last_price
            self.candles[interval_ms] = Candle(start, interval_ms, p, p, p, p)
            self.closed[interval_ms] = []

    def advance(self, now: int) -> list[Candle]:
        """Move the clock; returns the candles that closed (empty buckets repeat the close)."""
        self.now = max(self.now, now)
        done: list[Candle] = []
        for interval, candle in self.candles.items():
            while self.now >= candle.open_time + interval:
                done.append(candle)
                history = self.closed[interval]
                history.append(candle)
                del history[:-1000]
                c = candle.close
                candle = Candle(candle.open_time + interval, interval, c, c, c, c)
            self.candles[interval] = candle
        return done

    def step(self) -> tuple[list[Change], Trade | None]:
        """One market event: a trade (about one in three) or a book change."""
        if self.rng.random() < TRADE_PROBABILITY:
            return self._trade()
        return self._book_change(), None

    def _set(self, side: str, price: int, size: int, changes: list[Change]) -> None:
        book = self.bids if side == "bid" else self.asks
        if size:
            book[price] = size
        else:
            book.pop(price, None)
        changes.append(Change(side, price, size))

    def _book_change(self) -> list[Change]:
        changes: list[Change] = []
        side = "bid" if self.rng.random() < 0.5 else "ask"
        best_bid, best_ask = self.best_bid(), self.best_ask()
        if best_ask - best_bid > 1 and self.rng.random() < 0.5:
            price = self.rng.randint(best_bid + 1, best_ask - 1)  # improve inside the spread
        elif side == "bid":
            price = best_bid - self.rng.randint(0, 30)
        else:
            price = best_ask + self.rng.randint(0, 30)
        if price <= best_bid:
            side = "bid"
        elif price >= best_ask:
            side = "ask"
        book = self.bids if side == "bid" else self.asks
        remove = price in book and len(book) > 20 and self.rng.random() < 0.3
        self._set(side, price, 0 if remove else self._random_size(), changes)
        self._trim(changes)
        self.sequence += 1
        return changes

    def _trim(self, changes: list[Change]) -> None:
        while len(self.bids) > BOOK_LEVELS:
            self._set("bid", min(self.bids), 0, changes)
        while len(self.asks) > BOOK_LEVELS:
            self._set("ask", max(self.asks), 0, changes)

    def _trade(self) -> tuple[list[Change], Trade]:
        taker = "buy" if self.rng.random() < 0.5 else "sell"
        side, book = ("ask", self.asks) if taker == "buy" else ("bid", self.bids)
        price = self.best_ask() if taker == "buy" else self.best_bid()
        size = min(book[price], self._random_size() // 4 or 1)
        changes: list[Change] = []
        self._set(side, price, book[price] - size, changes)
        if not book:  # never let a side run empty
            self._set(side, price + (1 if side == "ask" else -1), self._random_size(), changes)
        self.sequence += 1
        trade = Trade(self.next_trade_id, price, size, taker, self.now)
        self.next_trade_id += 1
        self.history.append(trade)
        self._record(trade)
        return changes, trade

    def _record(self, trade: Trade) -> None:
        self.last_price = trade.price
        self.high_24h = max(self.high_24h, trade.price)
        self.low_24h = min(self.low_24h, trade.price)
        self.volume_24h += trade.size
        self.quote_volume_24h += trade.size * trade.price
        self.trade_count += 1
        for candle in self.candles.values():
            if candle.trades == 0:
                candle.open = candle.high = candle.low = trade.price
                candle.first_id = trade.trade_id
            candle.high = max(candle.high, trade.price)
            candle.low = min(candle.low, trade.price)
            candle.close = trade.price
            candle.volume += trade.size
            candle.quote_volume += trade.size * trade.price
            candle.trades += 1
            candle.last_id = trade.trade_id


def trades_from(history: Sequence[Trade], first_id: int, limit: int) -> list[Trade]:
    """Up to `limit` trades of `history` (consecutive ids) from id `first_id` on; from the
    oldest there is when `first_id` is older (empty when it is newer than them all)."""
    if not history:
        return []
    start = max(0, first_id - history[0].trade_id)
    return [history[i] for i in range(start, min(len(history), start + limit))]


def quote_text(amount: int, decimals: int = 8) -> str:
    """ticks * units (1e-2 * 1e-8) as decimal text with `decimals` digits."""
    scaled = amount // 10 ** (10 - decimals)
    return f"{scaled // 10**decimals}.{scaled % 10**decimals:0{decimals}d}"


def start_price(symbol: str) -> int:
    """A plausible starting price in ticks for well-known bases, else a hashed one."""
    base = symbol.split("-")[0]
    known = {"BTC": 8_600_000, "ETH": 320_000, "SOL": 18_000, "XRP": 250, "ADA": 80,
             "DOGE": 40, "AVAX": 3_500, "LINK": 1_800, "OMG": 1_372, "BNB": 60_000}  # fmt: skip
    return known.get(base, 1_000 + sum(map(ord, base)) * 37)
