"""What a venue lists (pure): the configured symbols plus N generated ones, with deterministic
names, quote assets, statuses and activity.

Each venue's simulator generates its own (`generated`): named by their number, `C0001-USDT`,
`C0002-BTC`, ..., the quote asset cycling through the venue's fixed mix, and a few in every
hundred not trading, in the venue's own words (a halt, a delisting). Non-trading symbols never
move, so their streams are acknowledged and then silent, as on the real venues. Activity is
skewed like a real market: each configured symbol has weight 1 and the k-th generated one `1 /
(k + 1) ** skew`, so a few trade often and most rarely. Nothing here depends on the seed: a
client can predict every name and status.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Listing:
    symbol: str  # the simulator's BASE-QUOTE name
    base: str
    quote: str
    status: str  # as the venue writes it (e.g. TRADING, BREAK, HALT; online, delisted)
    trading: bool  # False: acknowledged when subscribed, never a frame
    weight: float  # share of the venue's market events, relative to the others
    generated: bool = False  # generated symbols start with a day of history (see venue.py)
    disabled: bool = False  # listed and online, but trading disabled
    margin: bool = False  # the permission sets include MARGIN


def listed(symbols: Iterable[str], status: str) -> list[Listing]:
    out = []
    for symbol in symbols:
        base, _, quote = symbol.partition("-")
        out.append(Listing(symbol, base, quote, status, True, 1.0))
    return out


def generated(
    symbols: Iterable[str],
    status: str,
    count: int,
    skew: float,
    make: Callable[[int, float], Listing],
) -> list[Listing]:
    """The configured `symbols` (all trading, with `status`), then `count` generated ones:
    `make(k, weight)` gives the k-th (1-based), `weight` its share if it trades."""
    out = listed(symbols, status)
    out += [make(k, 1 / (k + 1) ** skew) for k in range(1, count + 1)]
    return out


def relisted(item: Listing, status: str, trading: bool) -> Listing:
    """`item` with a new venue status, as when a venue halts, resumes or delists a symbol at
    runtime; a symbol that starts trading gets the weight of a configured one."""
    weight = (item.weight or 1.0) if trading else 0.0
    return replace(item, status=status, trading=trading, weight=weight, disabled=False)
