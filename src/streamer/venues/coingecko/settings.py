"""CoinGecko's settings: the typed record, its documented rows and how they are read."""

from __future__ import annotations

import re
from dataclasses import dataclass

from streamer.errors import ConfigError
from streamer.selectors import Selector
from streamer.settings_read import Reader
from streamer.settings_spec import Setting, row

PLANS = ("keyless", "demo", "pro")
URLS = {
    "keyless": "https://api.coingecko.com/api/v3",
    "demo": "https://api.coingecko.com/api/v3",
    "pro": "https://pro-api.coingecko.com/api/v3",
}
# Default poll interval per plan. Each poll costs two calls (/simple/price, /coins/markets).
# Keyless shares ~5 calls/min per IP; Demo allows 30/min and CoinGecko caches its answers 60 s,
# so polling faster returns the same data; paid plans are cached 20 s at the edge.
POLL_SECONDS = {"keyless": 120.0, "demo": 60.0, "pro": 20.0}
_COIN_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")


@dataclass(frozen=True, slots=True)
class CoinGeckoSettings:
    coins: tuple[str, ...] = ("bitcoin", "ethereum", "solana")
    url: str = URLS["keyless"]
    api_key: str | None = None
    plan: str = "keyless"
    poll_seconds: float = POLL_SECONDS["keyless"]
    vs_currencies: tuple[str, ...] = ("usd", "eur", "btc")
    markets_per_page: int = 100

    @property
    def symbols(self) -> tuple[str, ...]:
        """What it collects: the coins (a poller, not split between shards)."""
        return self.coins

    @property
    def selector(self) -> Selector | None:
        return None

    def __repr__(self) -> str:  # never print the key
        key = "set" if self.api_key else None
        return f"CoinGeckoSettings(plan={self.plan!r}, url={self.url!r}, api_key={key})"


ROWS: tuple[Setting, ...] = (
    row("coingecko_coins", "bitcoin,ethereum,solana", "CoinGecko API ids"),
    row(
        "coingecko_api_key coingecko_plan",
        "none / `keyless` (`demo` with a key)",
        "`keyless`, `demo` (`x-cg-demo-api-key`) or `pro` (`pro-api.coingecko.com`, "
        "`x-cg-pro-api-key`)",
        literal=False,
    ),
    row("coingecko_url", "by plan", "", literal=False),
    row(
        "coingecko_poll_seconds",
        "keyless 120, demo 60, pro 20",
        "each poll makes 2 calls; Demo allows 30 calls/min and caches 60 s. A Demo key's monthly "
        "credits (about 10,000) last about 3.5 days at 60 s: use `600` to stay inside a month",
        literal=False,
    ),
)


def load(r: Reader) -> CoinGeckoSettings:
    d = CoinGeckoSettings()
    api_key = r.text("coingecko_api_key", "") or None
    plan = r.choice("coingecko_plan", "demo" if api_key else "keyless", PLANS)
    if plan != "keyless" and not api_key:
        raise ConfigError(
            "STREAMER_COINGECKO_API_KEY",
            f"plan {plan!r} needs an API key",
            "Set the key, or STREAMER_COINGECKO_PLAN=keyless.",
        )
    settings = CoinGeckoSettings(
        coins=r.items("coingecko_coins", d.coins),
        url=r.url("coingecko_url", URLS[plan], ("http", "https")),
        api_key=api_key if plan != "keyless" else None,
        plan=plan,
        poll_seconds=r.number("coingecko_poll_seconds", POLL_SECONDS[plan], 1, 86400),
    )
    for coin in settings.coins:
        if not _COIN_ID.fullmatch(coin):
            raise ConfigError(
                "STREAMER_COINGECKO_COINS",
                f"{coin!r} is not a CoinGecko coin id",
                "Use API ids such as bitcoin, ethereum (see /coins/list).",
            )
    return settings
