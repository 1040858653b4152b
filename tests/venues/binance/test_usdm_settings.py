"""Binance USD-M settings: contract symbols, the kind selectors, and errors naming the setting."""

from __future__ import annotations

import pytest

from streamer.errors import ConfigError
from streamer.selectors import Listing, Selector, choose, parse_selector
from streamer.settings_read import Reader
from streamer.venues.binance.usdm_settings import ROWS, UsdmSettings, load

KNOWN = frozenset(n for r in ROWS for n in r.names) | {"stale_seconds", "keep_open_candles"}


def read(**env: str) -> UsdmSettings:
    return load(Reader({f"STREAMER_{k.upper()}": v for k, v in env.items()}, {}, KNOWN))


def test_defaults_are_the_two_perpetuals_on_the_routed_hosts() -> None:
    settings = read()
    assert settings == UsdmSettings()
    assert settings.symbols == ("BTC-USDT-PERP", "ETH-USDT-PERP")
    assert settings.ws_url == "wss://fstream.binance.com"
    assert settings.rest_url == "https://fapi.binance.com"
    assert (settings.streams_per_connection, settings.trades) == (200, "aggTrade")
    assert settings.open_interest_seconds == 60.0


def test_perpetual_and_dated_contracts_are_symbols_and_spot_pairs_are_not() -> None:
    settings = read(binance_usdm_symbols="BTC-USDT-PERP, BTC-USDT-260327")
    assert settings.symbols == ("BTC-USDT-PERP", "BTC-USDT-260327")
    with pytest.raises(ConfigError) as caught:
        read(binance_usdm_symbols="BTC-USDT")
    assert "STREAMER_BINANCE_USDM_SYMBOLS" in str(caught.value)
    assert "BTC-USDT-PERP" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "selector"),
    [
        ("all", Selector(kinds=("perpetual",))),
        ("quote:USDT,top:50", Selector("USDT", 50, ("perpetual",))),
        ("delivery", Selector(kinds=("delivery",))),
        ("delivery,perpetual", Selector(kinds=("perpetual", "delivery"))),
    ],
)
def test_a_market_without_a_kind_means_the_perpetuals(text: str, selector: Selector) -> None:
    settings = read(binance_usdm_symbols=text)
    assert (settings.symbols, settings.selector) == ((), selector)


def test_spot_takes_no_kind_tokens() -> None:
    assert parse_selector(["all"], "X") == Selector()
    with pytest.raises(ConfigError, match="all, quote:<Q>, top:<N>"):
        parse_selector(["all", "perpetual"], "X")


def test_choose_keeps_only_the_named_kinds() -> None:
    listings = [
        Listing("BTC-USDT-PERP", "BTCUSDT", "USDT", True, 9.0, "perpetual"),
        Listing("BTC-USDT-260327", "BTCUSDT_260327", "USDT", True, 5.0, "delivery"),
        Listing("ETH-USDT-PERP", "ETHUSDT", "USDT", False, 7.0, "perpetual"),
    ]
    assert choose(listings, Selector(kinds=("perpetual",))) == ("BTC-USDT-PERP",)
    assert choose(listings, Selector(kinds=("delivery",))) == ("BTC-USDT-260327",)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"binance_usdm_streams_per_connection": "2000"}, "STREAMER_BINANCE_USDM_STREAMS_PER"),
        ({"binance_usdm_trades": "bookTicker"}, "STREAMER_BINANCE_USDM_TRADES"),
        ({"binance_usdm_kline_interval": "1s"}, "STREAMER_BINANCE_USDM_KLINE_INTERVAL"),
        ({"binance_usdm_ws_url": "https://fstream.binance.com"}, "STREAMER_BINANCE_USDM_WS_URL"),
        ({"binance_usdm_open_interest_seconds": "0"}, "STREAMER_BINANCE_USDM_OPEN_INTEREST"),
    ],
)
def test_a_bad_value_names_its_setting_and_the_fix(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read(**env)
    assert named in str(caught.value)
    assert "Use" in str(caught.value)


def test_registered_but_off_until_named_in_streamer_sources() -> None:
    from streamer import settings

    assert settings.load({}).sources == ("binance", "coinbase", "coingecko")
    chosen = settings.load({"STREAMER_SOURCES": "binance,binance_usdm",
                            "STREAMER_BINANCE_USDM_SYMBOLS": "quote:USDT,top:5"})  # fmt: skip
    assert chosen.sources == ("binance", "binance_usdm")
    assert chosen.venues["binance_usdm"].selector == Selector("USDT", 5, ("perpetual",))
