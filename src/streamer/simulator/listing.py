"""What a venue lists (pure): the configured symbols plus N generated ones, with deterministic
names, quote assets, statuses and activity.

Generated symbols are named by their number, `C0001-USDT`, `C0002-BTC`, ... (Coinbase:
`C0001-USD`, ...), the quote asset cycling through a fixed mix, and a few in every hundred are
not trading (Binance `BREAK` or `HALT`; Coinbase `delisted`, or `online` with
`trading_disabled`). Non-trading symbols never move, so their streams are acknowledged and
then silent, as on the real venues. Activity is skewed like a real market: each configured
symbol has weight 1 and the k-th generated one `1 / (k + 1) ** skew`, so a few trade often and
most rarely. Nothing here depends on the seed: a client can predict every name and status.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

BINANCE_QUOTES = ("USDT",) * 11 + ("BTC",) * 4 + ("FDUSD",) * 3 + ("USDC",) * 2
COINBASE_QUOTES = ("USD",) * 10 + ("USDC",) * 5 + ("USDT",) * 3 + ("BTC",) * 2
BINANCE_BREAK_EVERY = 50  # generated number k with k % 50 == 17 is in BREAK (2 %)
BINANCE_HALT_EVERY = 97  # k % 97 == 41 is in HALT (about 1 %)
COINBASE_DELISTED_EVERY = 40  # k % 40 == 13: status "delisted" (2.5 %)
COINBASE_DISABLED_EVERY = 60  # k % 60 == 29: "online" but trading_disabled (about 1.7 %)
MARGIN_EVERY = 3  # every third USDT symbol may also be traded on margin


@dataclass(frozen=True, slots=True)
class Listing:
    symbol: str  # the simulator's BASE-QUOTE name
    base: str
    quote: str
    status: str  # as the venue writes it: Binance TRADING/BREAK/HALT, Coinbase online/delisted
    trading: bool  # False: acknowledged when subscribed, never a frame
    weight: float  # share of the venue's market events, relative to the others
    generated: bool = False  # generated symbols start with a day of history (see venue.py)
    disabled: bool = False  # Coinbase `trading_disabled`
    margin: bool = False  # Binance: the permission sets include MARGIN


def _listed(symbols: Iterable[str], status: str) -> list[Listing]:
    out = []
    for symbol in symbols:
        base, _, quote = symbol.partition("-")
        out.append(Listing(symbol, base, quote, status, True, 1.0))
    return out


def binance_listings(symbols: Iterable[str], count: int, skew: float) -> list[Listing]:
    """The configured `symbols` (trading), then `count` generated ones."""
    out = _listed(symbols, "TRADING")
    for k in range(1, count + 1):
        base, quote = f"C{k:04d}", BINANCE_QUOTES[(k - 1) % len(BINANCE_QUOTES)]
        status = "TRADING"
        if k % BINANCE_BREAK_EVERY == 17:
            status = "BREAK"
        elif k % BINANCE_HALT_EVERY == 41:
            status = "HALT"
        trading = status == "TRADING"
        margin = quote == "USDT" and k % MARGIN_EVERY == 0
        weight = 1 / (k + 1) ** skew if trading else 0.0
        out.append(Listing(f"{base}-{quote}", base, quote, status, trading, weight, True,
                           margin=margin))  # fmt: skip
    return out


def coinbase_listings(symbols: Iterable[str], count: int, skew: float) -> list[Listing]:
    """The configured `symbols` (online), then `count` generated products."""
    out = _listed(symbols, "online")
    for k in range(1, count + 1):
        base, quote = f"C{k:04d}", COINBASE_QUOTES[(k - 1) % len(COINBASE_QUOTES)]
        status = "delisted" if k % COINBASE_DELISTED_EVERY == 13 else "online"
        disabled = k % COINBASE_DISABLED_EVERY == 29
        trading = status == "online" and not disabled
        weight = 1 / (k + 1) ** skew if trading else 0.0
        out.append(Listing(f"{base}-{quote}", base, quote, status, trading, weight, True,
                           disabled=disabled))  # fmt: skip
    return out


def relisted(item: Listing, status: str, trading: bool) -> Listing:
    """`item` with a new venue status, as when a venue halts, resumes or delists a symbol at
    runtime; a symbol that starts trading gets the weight of a configured one."""
    weight = (item.weight or 1.0) if trading else 0.0
    return replace(item, status=status, trading=trading, weight=weight, disabled=False)
