"""Coinbase's listing: which products exist and trade
(`GET /api/v3/brokerage/market/products`), with their 24 h quote volume."""

from __future__ import annotations

from typing import Any

import httpx

from streamer.errors import FrameError
from streamer.retry import Sleep
from streamer.selectors import NORMALIZED, Listing, Selector, choose, json_body
from streamer.sources.base import Clock
from streamer.venues.coinbase.rest import CoinbaseRest


def coinbase_listings(products: bytes | str) -> list[Listing]:
    """Spot products from `market/products`: trading means online and not disabled."""
    body = json_body(products, "market/products")
    if type(body) is not dict or type(body.get("products")) is not list:
        raise FrameError("market/products has no products list")
    out = []
    for p in body["products"]:
        base, quote = p.get("base_currency_id"), p.get("quote_currency_id")
        native = p.get("product_id")
        symbol = f"{base}-{quote}"
        if not (NORMALIZED.fullmatch(symbol) and native == symbol):
            continue  # the product id must be the BASE-QUOTE it is subscribed by
        trading = (
            p.get("product_type") == "SPOT"
            and p.get("status") == "online"
            and not p.get("trading_disabled")
            and not p.get("is_disabled")
        )
        volume = float(p.get("approximate_quote_24h_volume") or 0)
        out.append(Listing(symbol, native, quote, trading, volume))
    return out


async def symbols(rest: CoinbaseRest, selector: Selector) -> tuple[tuple[str, ...], int]:
    """(the products `selector` picks, how many spot products trade)."""
    body = await rest.get("/api/v3/brokerage/market/products", {"product_type": "SPOT"})
    listings = coinbase_listings(body)
    return choose(listings, selector), sum(1 for item in listings if item.trading)


async def resolve(
    settings: Any,
    selector: Selector,
    *,
    clock: Clock,
    sleep: Sleep,
    transport: httpx.AsyncBaseTransport | None,
) -> tuple[tuple[str, ...], int]:
    """`symbols` at start, on a REST client of its own."""
    async with CoinbaseRest(
        settings.rest_url, clock=clock, sleep=sleep, transport=transport
    ) as rest:
        return await symbols(rest, selector)
