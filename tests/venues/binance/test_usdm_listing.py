"""USD-M selectors resolve against the simulated `/fapi/v1/exchangeInfo` as users name them:
perpetuals by default, dated contracts with `delivery`, the top N by quote volume, and only
contracts that trade."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from streamer.discovery import check_symbols, resolve
from streamer.errors import ConfigError
from streamer.settings import load
from streamer.simulator import Simulator, SimulatorConfig
from streamer.timefmt import now_millis
from streamer.venues.binance.usdm_sim_listing import STATUS_EVERY, quarter_ends
from streamer.venues.binance.usdm_streams import CONTRACT_SYMBOL

NAME = "binance_usdm"
MARKETS = 60  # generated perpetuals C0001..C0060; two in fifty do not trade


@pytest.fixture
async def env() -> AsyncIterator[dict[str, str]]:
    config = SimulatorConfig(port=0, rate=50, symbols={NAME: ("BTC-USDT-PERP", "ETH-USDC-PERP")},
                             markets={NAME: MARKETS})  # fmt: skip
    async with Simulator(config) as sim:
        yield sim.environment() | {"STREAMER_SOURCES": NAME}


async def _symbols(env: dict[str, str], text: str) -> tuple[str, ...]:
    settings = await resolve(load(env | {"STREAMER_BINANCE_USDM_SYMBOLS": text}),
                             clock=now_millis)  # fmt: skip
    return tuple(settings.venues[NAME].symbols)


async def test_all_means_every_trading_perpetual(env: dict[str, str]) -> None:
    symbols = await _symbols(env, "all")
    not_trading = {f"C{k:04d}-USDT-PERP" for k in range(1, MARKETS + 1) if k % 50 in STATUS_EVERY}
    assert len(not_trading) == 2
    assert set(symbols).isdisjoint(not_trading)
    assert len(symbols) == 2 + MARKETS - 2
    assert all(s.endswith("-PERP") and CONTRACT_SYMBOL.fullmatch(s) for s in symbols)


async def test_delivery_names_only_the_dated_contract_that_trades(env: dict[str, str]) -> None:
    current, following = quarter_ends(now_millis())
    assert await _symbols(env, "delivery") == (f"BTC-USDT-{current}",)
    assert f"BTC-USDT-{following}" not in await _symbols(env, "perpetual,delivery")
    both = await _symbols(env, "perpetual,delivery")
    assert f"BTC-USDT-{current}" in both and "BTC-USDT-PERP" in both


async def test_quote_and_top_narrow_the_perpetuals(env: dict[str, str]) -> None:
    assert await _symbols(env, "quote:USDC") == ("ETH-USDC-PERP",)
    top = await _symbols(env, "top:5")
    assert len(top) == 5
    assert all(s.endswith("-PERP") for s in top)
    # the simulated activity falls with the generated index, so the busiest come first
    assert set(await _symbols(env, "top:3")) < set(top)


async def test_an_unlisted_contract_is_refused_with_the_nearest_names(
    env: dict[str, str],
) -> None:
    settings = load(env | {"STREAMER_BINANCE_USDM_SYMBOLS": "BTC-USDT-PERP,BTX-USDT-PERP"})
    with pytest.raises(ConfigError) as raised:
        await check_symbols(settings, clock=now_millis)
    text = str(raised.value)
    assert "STREAMER_BINANCE_USDM_SYMBOLS" in text and "BTX-USDT-PERP" in text
    assert "BTC-USDT-PERP" in text  # the nearest listed name, in the lake's spelling
