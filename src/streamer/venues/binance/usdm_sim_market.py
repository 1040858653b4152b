"""What a simulated USD-M contract adds to its spot-like `Market` (pure: no I/O, no await): the
diff-event chain (`U`, `u`, `pu`), mark and index prices off a drifting premium, the predicted
and settled funding, open interest, and liquidation bursts.

Money is integers: prices in the market's ticks (0.01), sizes in its units (1e-8), mark and
index prices and funding rates in 1e-8 (`usdm_sim_wire.RATE_UNIT`). Each contract draws from its
own seeded `rng`, so these never disturb the market's own sequence of events.
"""

from __future__ import annotations

import collections
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from streamer.simulator.market import Change, Market, Trade
from streamer.venues.binance import usdm_sim_wire as wire
from streamer.venues.binance.usdm_sim_wire import Contract
from streamer.venues.binance.usdm_streams import native_symbol

HOUR_MS = 3_600_000
FUNDING_HISTORY = 90  # settled fundings before the start (30 days of 8 h), for backfills
MAX_PREMIUM_BP = 30  # the premium of mark over index drifts within +-0.30 %
INTEREST = 10_000  # 0.01 % per funding, in 1e-8
INTEREST_CLAMP = 50_000  # Binance clamps (interest - premium) to +-0.05 %
TICKS_TO_RATE_UNITS = 10**6  # 0.01 ticks -> 1e-8 units
START_OPEN_INTEREST = 10_000  # contracts, in whole base units
Diff = tuple[int, int, dict[tuple[str, int], int]]  # U, pu, (side, price) -> new size


class Dice(Protocol):
    """The part of the venue's options a contract's liquidation bursts read."""

    @property
    def liquidation_probability(self) -> float: ...

    @property
    def burst_ms(self) -> int: ...


def predicted_rate(premium_bp: int) -> int:
    """Binance's funding formula in 1e-8: premium + clamp(interest - premium, +-0.05 %)."""
    premium = premium_bp * 10**4
    return premium + max(-INTEREST_CLAMP, min(INTEREST_CLAMP, INTEREST - premium))


@dataclass(slots=True)
class Derivative:
    market: Market
    contract: Contract
    hours: int  # funding interval
    rng: random.Random
    next_funding: int  # epoch ms; 0 for a dated contract
    open_interest: int  # units
    last_u: int  # `u` of the last diff event, sent or lost: the next one's `pu`
    premium_bp: int = 0
    fundings: collections.deque[tuple[int, int, int]] = field(
        default_factory=lambda: collections.deque(maxlen=10_000)
    )
    """Settled fundings (time, rate, mark price), oldest first."""
    pending: tuple[int, dict[tuple[str, int], int]] | None = None  # U, changes since
    burst_until: int = 0
    burst_side: str = "SELL"
    liquidation: tuple[int, dict[str, Any]] | None = None  # (second, latest order) unsent

    @classmethod
    def start(
        cls, market: Market, contract: Contract, hours: int, rng: random.Random, now: int
    ) -> Derivative:
        """A contract at `now`: for a perpetual, `FUNDING_HISTORY` settled fundings before."""
        interval = hours * HOUR_MS
        next_funding = now - now % interval + interval if contract.perpetual else 0
        units = START_OPEN_INTEREST * 10**8
        self = cls(market, contract, hours, rng, next_funding, units, market.sequence)
        if contract.perpetual:
            mark = market.start_price * TICKS_TO_RATE_UNITS
            for k in range(FUNDING_HISTORY, 0, -1):
                rate = predicted_rate(rng.randint(-MAX_PREMIUM_BP // 3, MAX_PREMIUM_BP // 3))
                drift = mark * rng.randint(-200, 200) // 10_000
                self.fundings.append((next_funding - k * interval, rate, mark + drift))
        return self

    # ---- the book's diff events ------------------------------------------------------------

    def record(self, changes: list[Change], sequence: int) -> None:
        """The market stepped to update id `sequence` with `changes`."""
        if not changes:
            return
        if self.pending is None:
            self.pending = (sequence, {})
        levels = self.pending[1]
        for change in changes:
            levels[(change.side, change.price)] = change.size

    def take_diff(self) -> Diff | None:
        """The next diff event's `U`, `pu` and changes (its `u` is the market's sequence now);
        the chain moves on whether or not it is sent."""
        if self.pending is None:
            return None
        (first, changed), previous = self.pending, self.last_u
        self.pending, self.last_u = None, self.market.sequence
        return first, previous, changed

    # ---- mark price and funding ------------------------------------------------------------

    def mark(self) -> int:
        """The mid price, in 1e-8."""
        return (self.market.best_bid() + self.market.best_ask()) * TICKS_TO_RATE_UNITS // 2

    def mark_price(self, native: str, now: int) -> dict[str, Any]:
        """This second's `markPriceUpdate` (the premium drifts one step first)."""
        step = self.rng.choice((-1, 0, 1))
        self.premium_bp = max(-MAX_PREMIUM_BP, min(MAX_PREMIUM_BP, self.premium_bp + step))
        mark = self.mark()
        index = mark * (10_000 - self.premium_bp) // 10_000
        if not self.contract.perpetual:
            return wire.mark_price(native, mark, index, index, None, 0, now)
        rate = predicted_rate(self.premium_bp)
        return wire.mark_price(native, mark, index, index, rate, self.next_funding, now)

    def settle(self, now: int) -> None:
        """Settle every funding due by `now` at the predicted rate and the mark price."""
        if not self.contract.perpetual:
            return
        while now >= self.next_funding:
            self.fundings.append((self.next_funding, predicted_rate(self.premium_bp), self.mark()))
            self.next_funding += self.hours * HOUR_MS

    # ---- trades: open interest and liquidations --------------------------------------------

    def traded(self, trade: Trade, now: int, dice: Dice) -> tuple[bool, dict[str, Any] | None]:
        """Whether `trade` liquidated an order, and the frame of an earlier second's latest
        liquidation to push now (Binance pushes one per symbol and second)."""
        rng = self.rng
        if rng.random() < 0.55:
            self.open_interest += trade.size
        else:
            self.open_interest -= min(trade.size, self.open_interest)
        if now >= self.burst_until:
            if rng.random() >= dice.liquidation_probability:
                return False, None
            self.burst_until = now + dice.burst_ms
            self.burst_side = rng.choice(("BUY", "SELL"))
        size = trade.size * rng.randint(1, 4)
        slip = trade.price // 200 or 1
        price = trade.price + slip if self.burst_side == "BUY" else trade.price - slip
        native = native_symbol(self.market.symbol)
        order = wire.force_order(native, self.burst_side, price, trade.price, size, now)
        self.open_interest -= min(size, self.open_interest)
        second, flushed = now // 1000, None
        if self.liquidation is not None and self.liquidation[0] != second:
            flushed = self.liquidation[1]
        self.liquidation = (second, order)
        return True, flushed

    def due_liquidation(self, now: int) -> dict[str, Any] | None:
        """The latest liquidation of a second that has ended, once."""
        if self.liquidation is None or now // 1000 <= self.liquidation[0]:
            return None
        order, self.liquidation = self.liquidation[1], None
        return order


class FundingBook:
    """The REST view of every contract's funding: `fundingInfo` and `fundingRate`."""

    DEFAULT_HOURS = 8
    DEFAULT_LIMIT = 100
    MAX_LIMIT = 1000

    def __init__(self, derivatives: Mapping[str, Derivative]) -> None:
        self.derivatives = derivatives

    def info(self) -> list[dict[str, Any]]:
        """The perpetuals whose interval is not the default 8 h."""
        return [
            wire.funding_info(native_symbol(symbol), d.hours)
            for symbol, d in self.derivatives.items()
            if d.contract.perpetual and d.hours != self.DEFAULT_HOURS
        ]

    def history(self, params: Mapping[str, str]) -> tuple[int, Any]:
        """Settled fundings of `symbol` (or every perpetual), oldest first: from `startTime`
        on, or the newest `limit` (default 100, at most 1000) up to `endTime`."""
        wanted = params.get("symbol")
        chosen = [(native_symbol(s), d) for s, d in self.derivatives.items()
                  if d.contract.perpetual]  # fmt: skip
        if wanted is not None:
            chosen = [(n, d) for n, d in chosen if n == wanted]
            if not chosen:
                return 400, {"code": -1121, "msg": "Invalid symbol."}
        start, end = int(params.get("startTime", 0)), int(params.get("endTime", 2**62))
        limit = min(int(params.get("limit", self.DEFAULT_LIMIT)), self.MAX_LIMIT)
        rows = sorted(
            (time, native, rate, mark)
            for native, d in chosen
            for time, rate, mark in d.fundings
            if start <= time <= end
        )
        rows = rows[:limit] if "startTime" in params else rows[-limit:]
        return 200, [wire.funding_row(native, t, rate, mark) for t, native, rate, mark in rows]
