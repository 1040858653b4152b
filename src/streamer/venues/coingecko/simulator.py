"""The simulated CoinGecko API (REST only, under `/coingecko/api/v3`): `/ping`,
`/simple/price` and `/coins/markets`, answered from `coingecko_wire.CoinUniverse` or, when
replaying, from the recorded bodies."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from streamer.simulator.venue import ADMITTED, Admission, Context, VenueConfig
from streamer.venues.coingecko.sim_wire import CoinUniverse

MAX_PER_PAGE = 250


def simulate(config: VenueConfig, context: Context) -> CoinGecko:
    return CoinGecko(config.symbols, context)


class CoinGecko:
    rest_prefix = "/coingecko/api/v3"

    def __init__(self, coins: tuple[str, ...], context: Context) -> None:
        self.coins = coins
        self.context = context
        self.universe = CoinUniverse(coins, random.Random(context.seed))

    def environment(self, base: str) -> dict[str, str]:
        return {
            "STREAMER_COINGECKO_URL": f"http://{base}{self.rest_prefix}",
            "STREAMER_COINGECKO_COINS": ",".join(self.coins),
        }

    def admit(self, target: str, client: str, websocket: bool) -> Admission:
        return ADMITTED

    def rest(self, endpoint: str, params: Mapping[str, str]) -> tuple[int, Any]:
        replay = self.context.replay
        if endpoint == "/ping":
            return 200, {"gecko_says": "(V3) To the Moon!"}
        if endpoint == "/simple/price":
            if replay is not None:
                return 200, replay.body("coingecko_simple_price")
            ids, vs = params["ids"].split(","), params["vs_currencies"].split(",")
            return 200, self.universe.simple_price(ids, vs)
        if endpoint == "/coins/markets":
            if replay is not None:
                return 200, replay.body("coingecko_coins_markets")
            per_page, page = int(params.get("per_page", 100)), int(params.get("page", 1))
            return 200, self.universe.markets(min(per_page, MAX_PER_PAGE), page)
        return 404, {"error": "Not found"}
