"""What the simulated Kraken lists (pure): the configured pairs, then N generated ones, each
with the names `AssetPairs` gives it.

A pair `BTC-USD` (v2's names) is listed under the key REST answers with (`XXBTZUSD` for the
old assets quoted in fiat, else its `altname`), its `altname` `XBTUSD` and `wsname` `XBT/USD`
in v1's asset names (`symbols.V1_ASSETS`), `pair_decimals` 2 and `lot_decimals` 8 (the
market's ticks and units). Generated pairs are `C0001-USD`, `C0002-EUR`, ..., the quote
cycling through `QUOTES`; a few in every fifty are not `online` (`cancel_only`,
`post_only`, `limit_only`, `reduce_only`: listed, never trading). Activity is skewed as on the
other venues (`simulator.listing`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streamer.simulator.listing import Listing, generated
from streamer.simulator.venue import VenueConfig
from streamer.venues.kraken.sim_wire import LOT_DECIMALS, PRICE_DECIMALS
from streamer.venues.kraken.symbols import V1_ASSETS

QUOTES = ("USD", "USD", "EUR", "USD", "USDT", "EUR", "USD", "GBP")
STATUS_EVERY = {7: "cancel_only", 19: "post_only", 31: "limit_only", 43: "reduce_only"}
"""k % 50 -> a generated pair's status other than `online`."""
OLD_ASSETS = frozenset({"XBT", "ETH", "LTC", "XRP", "XLM", "ETC", "XMR", "ZEC", "MLN"})
FIATS = frozenset({"USD", "EUR", "GBP", "JPY", "CAD", "AUD", "CHF"})
_V1 = {v2: v1 for v1, v2 in V1_ASSETS.items()}


@dataclass(frozen=True, slots=True)
class Pair:
    """A listed pair's REST names."""

    key: str  # XXBTZUSD
    altname: str  # XBTUSD
    wsname: str  # XBT/USD
    base: str  # XXBT
    quote: str  # ZUSD


def pair_of(symbol: str) -> Pair:
    base, _, quote = symbol.partition("-")
    v1_base, v1_quote = _V1.get(base, base), _V1.get(quote, quote)
    altname = v1_base + v1_quote
    old = v1_base in OLD_ASSETS and v1_quote in FIATS
    rest_base = f"X{v1_base}" if v1_base in OLD_ASSETS else v1_base
    rest_quote = f"Z{v1_quote}" if v1_quote in FIATS else v1_quote
    key = rest_base + rest_quote if old else altname
    return Pair(key, altname, f"{v1_base}/{v1_quote}", rest_base, rest_quote)


def listings(config: VenueConfig) -> list[Listing]:
    def make(k: int, weight: float) -> Listing:
        base, quote = f"C{k:04d}", QUOTES[(k - 1) % len(QUOTES)]
        status = STATUS_EVERY.get(k % 50, "online")
        trading = status == "online"
        return Listing(f"{base}-{quote}", base, quote, status, trading,
                       weight if trading else 0.0, True)  # fmt: skip

    return generated(config.symbols, "online", config.markets, config.skew, make)


def asset_pair(item: Listing, pair: Pair) -> dict[str, Any]:
    """One entry of `AssetPairs` (the fields a client reads, and a few it does not)."""
    return {
        "altname": pair.altname, "wsname": pair.wsname, "aclass_base": "currency",
        "base": pair.base, "aclass_quote": "currency", "quote": pair.quote, "lot": "unit",
        "cost_decimals": 5, "pair_decimals": PRICE_DECIMALS, "lot_decimals": LOT_DECIMALS,
        "lot_multiplier": 1, "leverage_buy": [], "leverage_sell": [],
        "fees": [[0, 0.4], [10000, 0.35]], "fees_maker": [[0, 0.25], [10000, 0.2]],
        "fee_volume_currency": "ZUSD", "margin_call": 80, "margin_stop": 40,
        "ordermin": "0.0001", "costmin": "0.5", "tick_size": "0.01", "status": item.status,
    }  # fmt: skip
