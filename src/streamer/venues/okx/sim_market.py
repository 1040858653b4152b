"""The state OKX adds to a simulated market (pure): the `books` chain and a swap's derivative
values (mark and index prices, predicted and settled funding, open interest, liquidations).

The chain. Every change of the market's book is gathered until the next `books` update (every
100 ms); an update's `seqId` is the market's sequence then and its `prevSeqId` the `seqId` of
the update before, whether that one was sent or lost on purpose (a break a client must notice).
An update that changes nothing is not made; after `keepalive_ms` without one, a keep-alive
(`prevSeqId == seqId`, no levels) is.

Funding follows OKX's formula: the premium plus the 0.01 % interest less it, clamped to
+-0.05 %; it settles every 8 h on the market's clock, the realized rate a hair off the
predicted (OKX charges what the premium is at settlement), and `FUNDING_HISTORY` settled
fundings exist before the simulator starts.
"""

from __future__ import annotations

import collections
import random
from dataclasses import dataclass, field

from streamer.simulator.market import Change, Market, Trade

HOUR_MS = 3_600_000
FUNDING_HOURS = 8
FUNDING_HISTORY = 90  # settled fundings before the start (30 days at 8 h)
INTEREST = 10_000  # 0.01 % in 1e-8
CLAMP = 50_000  # 0.05 %
MAX_PREMIUM_BP = 30
START_OPEN_INTEREST = 50_000  # contracts
TICKS_TO_UNITS = 10**6  # a 0.01 tick in 1e-8 units


def predicted_rate(premium_bp: int) -> int:
    """OKX's rate in 1e-8: premium + clamp(interest - premium, +-0.05 %)."""
    premium = premium_bp * 10**4
    return premium + max(-CLAMP, min(CLAMP, INTEREST - premium))


@dataclass(slots=True)
class Chain:
    """One market's `books` chain."""

    last: int  # `seqId` of the last update made (sent or lost): the next one's `prevSeqId`
    sent_at: int = 0  # market ms of the last frame that went out (update or keep-alive)
    pending: dict[tuple[str, int], int] = field(default_factory=dict)  # level -> size now

    def record(self, changes: list[Change]) -> None:
        for change in changes:
            self.pending[(change.side, change.price)] = change.size

    def take(self, sequence: int) -> tuple[int, int, dict[tuple[str, int], int]] | None:
        """The next update's (seqId, prevSeqId, changed levels), or None if nothing changed;
        the chain moves on whether it is sent or not."""
        if not self.pending:
            return None
        changed, self.pending = self.pending, {}
        previous, self.last = self.last, sequence
        return sequence, previous, changed


@dataclass(slots=True)
class Swap:
    """A perpetual swap's derivative values (prices and rates in 1e-8, sizes in contracts)."""

    market: Market
    rng: random.Random
    next_funding: int  # epoch ms
    open_interest: int = START_OPEN_INTEREST * 10**8
    premium_bp: int = 0
    index_open: int = 0  # the index at the start (its `open24h`)
    fundings: collections.deque[tuple[int, int, int]] = field(
        default_factory=lambda: collections.deque(maxlen=10_000)
    )
    """Settled fundings (time, predicted rate, realized rate), oldest first."""
    last_liquidation: int = -1  # the second of the last liquidation pushed

    @classmethod
    def start(cls, market: Market, rng: random.Random, now: int) -> Swap:
        interval = FUNDING_HOURS * HOUR_MS
        self = cls(market, rng, now - now % interval + interval)
        self.index_open = self.mark()
        for k in range(FUNDING_HISTORY, 0, -1):
            rate = predicted_rate(rng.randint(-MAX_PREMIUM_BP // 3, MAX_PREMIUM_BP // 3))
            self.fundings.append((self.next_funding - k * interval, rate,
                                  rate + rng.randint(-3, 3)))  # fmt: skip
        return self

    def mark(self) -> int:
        """The mid price in 1e-8."""
        return (self.market.best_bid() + self.market.best_ask()) * TICKS_TO_UNITS // 2

    def drift(self) -> None:
        """The premium moves a step (once a second)."""
        step = self.rng.choice((-1, 0, 1))
        self.premium_bp = max(-MAX_PREMIUM_BP, min(MAX_PREMIUM_BP, self.premium_bp + step))

    def index(self) -> int:
        return self.mark() * (10_000 - self.premium_bp) // 10_000

    def rate(self) -> int:
        return predicted_rate(self.premium_bp)

    def settle(self, now: int) -> None:
        """Settle every funding due by `now`."""
        while now >= self.next_funding:
            rate = self.rate()
            self.fundings.append((self.next_funding, rate, rate + self.rng.randint(-3, 3)))
            self.next_funding += FUNDING_HOURS * HOUR_MS

    def traded(self, trade: Trade, now: int, probability: float) -> tuple[str, int, int] | None:
        """Open interest moves with `trade`; perhaps an order is liquidated: its (side,
        bankruptcy price in ticks, size), at most one pushed per second."""
        rng = self.rng
        if rng.random() < 0.55:
            self.open_interest += trade.size
        else:
            self.open_interest -= min(trade.size, self.open_interest)
        if rng.random() >= probability or now // 1000 == self.last_liquidation:
            return None
        self.last_liquidation = now // 1000
        side = rng.choice(("buy", "sell"))
        slip = trade.price // 200 or 1
        price = trade.price + slip if side == "buy" else max(1, trade.price - slip)
        size = trade.size * rng.randint(1, 4)
        self.open_interest -= min(size, self.open_interest)
        return side, price, size
