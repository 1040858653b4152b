"""Market selectors: parsed from the symbol settings, applied to the venues' own listings, and
resolved at start over REST (retried until the venue answers)."""

from __future__ import annotations

import httpx
import orjson
import pytest

from streamer.discovery import resolve
from streamer.errors import ConfigError
from streamer.records import Millis
from streamer.selectors import Listing, Selector, choose
from streamer.settings import load
from streamer.venues.binance.listings import binance_listings
from streamer.venues.coinbase.listings import coinbase_listings


def _symbol(native: str, base: str, quote: str, status: str = "TRADING", **extra: object) -> dict:
    return {"symbol": native, "status": status, "baseAsset": base, "quoteAsset": quote,
            "permissionSets": [["SPOT", "MARGIN"]], **extra}  # fmt: skip


EXCHANGE_INFO = orjson.dumps({"timezone": "UTC", "symbols": [
    _symbol("BTCUSDT", "BTC", "USDT"),
    _symbol("ETHUSDT", "ETH", "USDT"),
    _symbol("SOLUSDT", "SOL", "USDT"),
    _symbol("LUNAUSDT", "LUNA", "USDT", status="BREAK"),
    _symbol("HALTUSDT", "HALT", "USDT", status="HALT"),
    _symbol("ETHBTC", "ETH", "BTC"),
    {**_symbol("LEVUSDT", "LEV", "USDT"), "permissionSets": [["LEVERAGED"]]},
    {**_symbol("OLDUSDT", "OLD", "USDT"), "permissionSets": None, "permissions": ["SPOT"]},
]})  # fmt: skip
TICKERS = orjson.dumps([
    {"symbol": "BTCUSDT", "quoteVolume": "900000.5"},
    {"symbol": "ETHUSDT", "quoteVolume": "500000"},
    {"symbol": "SOLUSDT", "quoteVolume": "700000"},
    {"symbol": "OLDUSDT", "quoteVolume": "1"},
    {"symbol": "ETHBTC", "quoteVolume": "99999999"},
    {"symbol": "LUNAUSDT", "quoteVolume": "99999999"},
])  # fmt: skip
PRODUCTS = orjson.dumps({"products": [
    {"product_id": "BTC-USD", "base_currency_id": "BTC", "quote_currency_id": "USD",
     "product_type": "SPOT", "status": "online", "trading_disabled": False,
     "approximate_quote_24h_volume": "1000"},
    {"product_id": "ETH-USD", "base_currency_id": "ETH", "quote_currency_id": "USD",
     "product_type": "SPOT", "status": "online", "trading_disabled": False,
     "approximate_quote_24h_volume": "2000"},
    {"product_id": "OFF-USD", "base_currency_id": "OFF", "quote_currency_id": "USD",
     "product_type": "SPOT", "status": "offline", "trading_disabled": False},
    {"product_id": "DIS-USD", "base_currency_id": "DIS", "quote_currency_id": "USD",
     "product_type": "SPOT", "status": "online", "trading_disabled": True},
    {"product_id": "BTC-PERP", "base_currency_id": "BTC", "quote_currency_id": "USD",
     "product_type": "FUTURE", "status": "online", "trading_disabled": False},
], "num_products": 5})  # fmt: skip


@pytest.mark.parametrize(
    ("text", "selector"),
    [
        ("all", Selector()),
        ("quote:USDT", Selector(quote="USDT")),
        ("top:100", Selector(top=100)),
        ("quote:USDT,top:3", Selector(quote="USDT", top=3)),
        ("all,quote:BTC", Selector(quote="BTC")),
    ],
)
def test_selectors_parse_from_the_symbol_setting(text: str, selector: Selector) -> None:
    settings = load({"STREAMER_BINANCE_SYMBOLS": text})
    assert (
        settings.venues["binance"].selector == selector and settings.venues["binance"].symbols == ()
    )
    assert load({}).venues["binance"].selector is None


@pytest.mark.parametrize("text", ["BTC-USDT,quote:USDT", "top:0", "top:x", "quote:usdt",
                                  "quote:USDT,quote:BTC", "top:5,top:6"])  # fmt: skip
def test_a_bad_selector_names_the_setting(text: str) -> None:
    with pytest.raises(ConfigError, match="STREAMER_COINBASE_SYMBOLS"):
        load({"STREAMER_COINBASE_SYMBOLS": text})


def test_only_trading_spot_symbols_are_listed_and_names_come_from_the_venue() -> None:
    listings = binance_listings(EXCHANGE_INFO, TICKERS)
    trading = {item.symbol for item in listings if item.trading}
    assert trading == {"BTC-USDT", "ETH-USDT", "SOL-USDT", "ETH-BTC", "OLD-USDT"}
    assert choose(listings, Selector()) == tuple(sorted(trading))
    assert choose(listings, Selector(quote="USDT", top=2)) == ("BTC-USDT", "SOL-USDT")
    assert choose(listings, Selector(top=1)) == ("ETH-BTC",)  # LUNA's volume does not count


def test_coinbase_lists_online_spot_products_that_trade() -> None:
    listings = coinbase_listings(PRODUCTS)
    assert choose(listings, Selector()) == ("BTC-USD", "ETH-USD")
    assert choose(listings, Selector(top=1)) == ("ETH-USD",)


def test_ranking_ties_break_by_name() -> None:
    same = [Listing(s, s.replace("-", ""), "USDT", True, 5.0) for s in ("B-USDT", "A-USDT")]
    assert choose(same, Selector(top=1)) == ("A-USDT",)


async def test_resolve_waits_out_an_outage_then_picks_the_market() -> None:
    calls: list[str] = []

    def venue(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) == 1:
            return httpx.Response(503, text="maintenance")
        bodies = {
            "/api/v3/exchangeInfo": EXCHANGE_INFO,
            "/api/v3/ticker/24hr": TICKERS,
            "/api/v3/brokerage/market/products": PRODUCTS,
        }
        return httpx.Response(200, content=bodies[request.url.path],
                              headers={"x-mbx-used-weight-1m": "100"})  # fmt: skip

    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    settings = load({"STREAMER_BINANCE_SYMBOLS": "quote:USDT,top:2",
                     "STREAMER_COINBASE_SYMBOLS": "all"})  # fmt: skip
    resolved = await resolve(settings, clock=lambda: Millis(0), sleep=sleep,
                             transport=httpx.MockTransport(venue))  # fmt: skip
    assert resolved.venues["binance"].symbols == ("BTC-USDT", "SOL-USDT")
    assert resolved.venues["coinbase"].symbols == ("BTC-USD", "ETH-USD")
    assert len(slept) == 1  # the 503 was waited out once
    assert calls.count("/api/v3/exchangeInfo") == 2
