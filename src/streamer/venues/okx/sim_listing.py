"""What the simulated OKX lists (pure): the configured instruments and N generated ones, with
deterministic names, states, contract values and activity.

Names are the lake's (`symbols`): `BTC-USDT` (spot) and `BTC-USDT-PERP` (OKX's
`BTC-USDT-SWAP`). Generated ones are spot pairs `C0001-USDT`, ..., and every third one is also
listed as a linear swap `C0003-USDT-PERP`; two in fifty are `suspend`ed or `preopen` (listed,
never trading). One inverse swap (`BTC-USD-SWAP`, counted in USD) is listed in
`public/instruments` beside them and never trades: a client must leave it out (`INVERSE`).
"""

from __future__ import annotations

from dataclasses import dataclass

from streamer.simulator.listing import Listing, generated
from streamer.simulator.venue import VenueConfig
from streamer.venues.okx.symbols import SYMBOL, is_perpetual

LIVE = "live"
STATE_EVERY = {17: "suspend", 41: "preopen"}  # k % 50 -> a generated instrument's state
SWAP_EVERY = 3  # generated k with k % 3 == 0 also lists a swap
CONTRACT_VALUES = {"BTC": "0.01", "ETH": "0.1"}  # ctVal in the base currency (OKX's)
DEFAULT_CONTRACT_VALUE = "1"
INVERSE = "BTC-USD-SWAP"
"""An inverse swap listed in `public/instruments` only (its contract is 100 USD)."""


@dataclass(frozen=True, slots=True)
class Spec:
    """What `public/instruments` says of a listing beyond its names."""

    swap: bool
    contract_value: str  # ctVal ("" for spot)


def spec_of(symbol: str) -> Spec:
    if SYMBOL.fullmatch(symbol) is None:
        raise ValueError(f"{symbol!r} is not an OKX symbol (BASE-QUOTE or BASE-QUOTE-PERP)")
    if not is_perpetual(symbol):
        return Spec(False, "")
    return Spec(True, CONTRACT_VALUES.get(symbol.split("-")[0], DEFAULT_CONTRACT_VALUE))


def listings(config: VenueConfig) -> list[tuple[Listing, Spec]]:
    """The configured instruments (live), then `config.markets` generated spot pairs, every
    third with its swap, two in fifty not trading."""

    def make(k: int, weight: float) -> Listing:
        state = STATE_EVERY.get(k % 50, LIVE)
        trading = state == LIVE
        return Listing(f"C{k:04d}-USDT", f"C{k:04d}", "USDT", state, trading,
                       weight if trading else 0.0, True)  # fmt: skip

    out: list[tuple[Listing, Spec]] = []
    for item in generated(config.symbols, LIVE, config.markets, config.skew, make):
        if item.generated:
            out.append((item, Spec(False, "")))
            k = int(item.base[1:])
            if k % SWAP_EVERY == 0:
                swap = Listing(f"{item.symbol}-PERP", item.base, item.quote, item.status,
                               item.trading, item.weight, True)  # fmt: skip
                out.append((swap, spec_of(swap.symbol)))
            continue
        spec = spec_of(item.symbol)  # a name OKX cannot have raises here
        base, quote = item.symbol.split("-")[:2]
        out.append((Listing(item.symbol, base, quote, LIVE, True, 1.0), spec))
    return out
