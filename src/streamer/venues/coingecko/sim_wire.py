"""CoinGecko `/simple/price` and `/coins/markets` bodies for a synthetic coin universe."""

from __future__ import annotations

import random
import time
from typing import Any

_KNOWN = {  # id: (symbol, name, usd price, circulating supply, max supply or None)
    "bitcoin": ("btc", "Bitcoin", 86_000.0, 19_822_040.0, 21_000_000.0),
    "ethereum": ("eth", "Ethereum", 3_200.0, 120_535_801.66, None),
    "solana": ("sol", "Solana", 180.0, 480_000_000.0, None),
    "ripple": ("xrp", "XRP", 2.5, 57_000_000_000.0, 100_000_000_000.0),
    "cardano": ("ada", "Cardano", 0.8, 35_000_000_000.0, 45_000_000_000.0),
}
EUR_PER_USD = 0.92


class CoinUniverse:
    """Prices that drift a little on every request; 100+ coins ranked by market cap."""

    def __init__(self, coins: tuple[str, ...], rng: random.Random) -> None:
        self.rng = rng
        self.coins: dict[str, list[Any]] = {}
        for coin in (*coins, *_KNOWN):
            if coin not in self.coins:
                symbol, name, price, supply, cap = _KNOWN.get(
                    coin, (coin[:4], coin.title(), rng.uniform(0.01, 500), 1e9, None)
                )
                self.coins[coin] = [symbol, name, price, supply, cap]
        for n in range(len(self.coins), 120):
            price = rng.uniform(0.001, 5)
            self.coins[f"coin-{n}"] = [f"c{n}", f"Coin {n}", price, rng.uniform(1e6, 1e9), None]

    def _tick(self) -> None:
        for row in self.coins.values():
            row[2] *= 1 + self.rng.uniform(-0.001, 0.001)

    def simple_price(self, ids: list[str], vs: list[str]) -> dict[str, Any]:
        self._tick()
        btc = self.coins["bitcoin"][2]
        now = int(time.time())
        out: dict[str, Any] = {}
        for coin in ids:
            if coin not in self.coins:
                continue  # CoinGecko leaves unknown ids out
            _, _, usd, supply, _ = self.coins[coin]
            entry: dict[str, Any] = {}
            for currency in vs:
                rates = {"usd": 1.0, "eur": EUR_PER_USD}
                if currency not in rates and currency != "btc":
                    continue
                price = usd / btc if currency == "btc" else usd * rates[currency]
                entry[currency] = price
                entry[f"{currency}_market_cap"] = price * supply
                entry[f"{currency}_24h_vol"] = price * supply * 0.03
                entry[f"{currency}_24h_change"] = self.rng.uniform(-5, 5)
            entry["last_updated_at"] = now
            out[coin] = entry
        return out

    def markets(self, per_page: int, page: int) -> list[dict[str, Any]]:
        self._tick()
        ranked = sorted(self.coins.items(), key=lambda kv: -kv[1][2] * kv[1][3])
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        rows = []
        for rank, (coin, (symbol, name, usd, supply, cap)) in enumerate(ranked, start=1):
            rows.append({
                "id": coin, "symbol": symbol, "name": name, "image": "",
                "current_price": usd, "market_cap": round(usd * supply),
                "market_cap_rank": rank,
                "fully_diluted_valuation": round(usd * cap) if cap else None,
                "total_volume": usd * supply * 0.03, "high_24h": usd * 1.02,
                "low_24h": usd * 0.98, "price_change_24h": usd * 0.01,
                "price_change_percentage_24h": 1.0, "market_cap_change_24h": 0.0,
                "market_cap_change_percentage_24h": 0.0, "circulating_supply": supply,
                "total_supply": cap or supply, "max_supply": cap, "ath": usd * 1.5,
                "ath_change_percentage": -33.3, "ath_date": "2025-01-20T09:11:54.494Z",
                "atl": usd / 10, "atl_change_percentage": 900.0,
                "atl_date": "2015-10-20T00:00:00.000Z", "roi": None, "last_updated": stamp,
            })  # fmt: skip
        start = (page - 1) * per_page
        return rows[start : start + per_page]
