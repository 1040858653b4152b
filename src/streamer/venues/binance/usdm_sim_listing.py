"""What the simulated Binance USD-M lists (pure): the configured contracts, two dated ones,
and N generated perpetuals, with deterministic names, statuses, funding intervals and activity.

Names are the lake's (`usdm_streams`): `BTC-USDT-PERP`, `BTC-USDT-260626`. The dated contracts
deliver on the last Friday of the next two quarters after the simulator starts (this quarter's
TRADING, next quarter's PENDING_TRADING, which never moves); generated perpetuals are
`C0001-USDT-PERP`..., two in fifty SETTLING or PENDING_TRADING, one in ten funding every 4 h.
Activity is skewed as on Spot (`simulator.listing`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from streamer.simulator.listing import Listing, listed
from streamer.simulator.venue import VenueConfig
from streamer.venues.binance.usdm_sim_wire import Contract, contract_of

STATUS_EVERY = {17: "SETTLING", 41: "PENDING_TRADING"}  # k % 50 -> a generated perp's status
FOUR_HOURLY_EVERY = 10  # generated k with k % 10 == 3 funds every 4 h


def listings(config: VenueConfig, now: int) -> list[tuple[Listing, Contract]]:
    """The configured contracts (TRADING), the first one's base in two dated contracts (this
    quarter's TRADING, next quarter's PENDING_TRADING), then `config.markets` generated
    perpetuals `C0001-USDT-PERP`..., two in fifty SETTLING or PENDING_TRADING. The dated
    contracts deliver on the last Friday of the quarters after `now`."""
    out = [(item, contract_of(item.symbol)) for item in _parsed(config.symbols)]
    base = out[0][0].base if out else "BTC"
    current, following = quarter_ends(now)
    for day, kind, status in ((current, "CURRENT_QUARTER", "TRADING"),
                              (following, "NEXT_QUARTER", "PENDING_TRADING")):  # fmt: skip
        symbol = f"{base}-USDT-{day}"
        if all(item.symbol != symbol for item, _ in out):
            trading = status == "TRADING"
            item = Listing(symbol, base, "USDT", status, trading, 1.0 if trading else 0.0)
            out.append((item, contract_of(symbol, kind)))
    for k in range(1, config.markets + 1):
        status = STATUS_EVERY.get(k % 50, "TRADING")
        trading, weight = status == "TRADING", 1 / (k + 1) ** config.skew
        symbol = f"C{k:04d}-USDT-PERP"
        item = Listing(symbol, f"C{k:04d}", "USDT", status, trading,
                       weight if trading else 0.0, True)  # fmt: skip
        out.append((item, contract_of(symbol)))
    return out


def _parsed(symbols: Iterable[str]) -> list[Listing]:
    out = []
    for item in listed(symbols, "TRADING"):
        contract_of(item.symbol)  # a name USD-M cannot have raises here
        base, quote, _ = item.symbol.split("-")
        out.append(Listing(item.symbol, base, quote, "TRADING", True, 1.0))
    return out


def quarter_ends(now: int) -> tuple[str, str]:
    """The `YYMMDD` of the next two quarterly deliveries (last Friday of Mar/Jun/Sep/Dec)
    after `now` (epoch ms)."""
    day = dt.datetime.fromtimestamp(now / 1000, dt.UTC).date()
    found: list[str] = []
    year, month = day.year, day.month
    while len(found) < 2:
        if month % 3 == 0:
            last = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
            friday = last - dt.timedelta(days=(last.weekday() - 4) % 7)
            if friday > day:
                found.append(friday.strftime("%y%m%d"))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found[0], found[1]


def funding_hours(item: Listing) -> int:
    """8 h, or 4 h for one generated perpetual in ten (listed by `fundingInfo`)."""
    number = int(item.base[1:]) if item.generated and item.base[1:].isdigit() else 0
    return 4 if number % FOUR_HOURLY_EVERY == 3 else 8
