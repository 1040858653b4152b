"""OKX selectors resolve against the simulated `public/instruments` as users name them: spot
pairs by default, linear swaps with `perpetual`, a quote, the top N by volume, only what trades
(never the inverse swap); and the REST polls beside the connections: settled funding (the
`realizedRate`, once each, new ones as they settle) and instruments (written when changed)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from streamer.discovery import check_symbols, resolve
from streamer.errors import ConfigError
from streamer.records import FundingRate, Instrument, Item
from streamer.settings import load
from streamer.simulator import Simulator, SimulatorConfig
from streamer.sources.base import FeedStats
from streamer.timefmt import now_millis
from streamer.venues.okx.polls import FundingHistory, InstrumentWatch
from streamer.venues.okx.rest import OkxRest
from streamer.venues.okx.sim_listing import STATE_EVERY, SWAP_EVERY
from streamer.venues.okx.sim_wire import trimmed
from streamer.venues.okx.simulator import Okx
from streamer.venues.okx.symbols import SYMBOL

NAME = "okx"
CONFIGURED = ("BTC-USDT", "ETH-BTC", "BTC-USDT-PERP", "ETH-USDC-PERP")
MARKETS = 60  # generated C0001-USDT..C0060-USDT, every third with its swap
EIGHT_HOURS = 8 * 3_600_000


class ShiftedClock:
    """The wall clock in epoch ms, plus a shift a test moves (funding in seconds, not hours)."""

    def __init__(self) -> None:
        self.shift = 0

    def __call__(self) -> int:
        return time.time_ns() // 1_000_000 + self.shift


def _config(rate: float = 50) -> SimulatorConfig:
    return SimulatorConfig(port=0, rate=rate, symbols={NAME: CONFIGURED},
                           markets={NAME: MARKETS})  # fmt: skip


@pytest.fixture
async def env() -> AsyncIterator[dict[str, str]]:
    async with Simulator(_config()) as sim:
        yield sim.environment() | {"STREAMER_SOURCES": NAME}


async def _symbols(env: dict[str, str], text: str) -> tuple[str, ...]:
    settings = await resolve(load(env | {"STREAMER_OKX_SYMBOLS": text}), clock=now_millis)
    return tuple(settings.venues[NAME].symbols)


async def test_all_means_every_trading_spot_pair(env: dict[str, str]) -> None:
    symbols = await _symbols(env, "all")
    halted = {f"C{k:04d}-USDT" for k in range(1, MARKETS + 1) if k % 50 in STATE_EVERY}
    assert len(halted) == 2 and set(symbols).isdisjoint(halted)
    assert len(symbols) == 2 + MARKETS - 2
    assert all(SYMBOL.fullmatch(s) and not s.endswith("-PERP") for s in symbols)


async def test_perpetual_names_the_linear_swaps_and_never_the_inverse_one(
    env: dict[str, str],
) -> None:
    swaps = await _symbols(env, "perpetual")
    generated = {f"C{k:04d}-USDT-PERP" for k in range(SWAP_EVERY, MARKETS + 1, SWAP_EVERY)}
    assert set(swaps) == {"BTC-USDT-PERP", "ETH-USDC-PERP"} | generated
    assert "BTC-USD-PERP" not in swaps  # BTC-USD-SWAP is inverse: listed, left out
    both = await _symbols(env, "spot,perpetual")
    assert set(both) == set(swaps) | set(await _symbols(env, "all"))


async def test_quote_and_top_narrow_the_market(env: dict[str, str]) -> None:
    assert await _symbols(env, "quote:BTC") == ("ETH-BTC",)
    assert await _symbols(env, "perpetual,quote:USDC") == ("ETH-USDC-PERP",)
    top = await _symbols(env, "top:5")
    assert len(top) == 5 and not any(s.endswith("-PERP") for s in top)
    # the simulated activity falls with the generated index, so the busiest come first
    assert set(await _symbols(env, "top:3")) < set(top)
    assert {"C0001-USDT", "C0002-USDT"} <= set(top)
    assert set(await _symbols(env, "perpetual,top:2")) == {"C0003-USDT-PERP", "C0006-USDT-PERP"}


async def test_an_unlisted_symbol_is_refused_with_the_nearest_names(env: dict[str, str]) -> None:
    settings = load(env | {"STREAMER_OKX_SYMBOLS": "BTC-USDT,BTX-USDT"})
    with pytest.raises(ConfigError) as raised:
        await check_symbols(settings, clock=now_millis)
    text = str(raised.value)
    assert "STREAMER_OKX_SYMBOLS" in text and "BTX-USDT" in text and "BTC-USDT" in text


async def test_settled_funding_is_polled_once_each_and_new_ones_as_they_settle() -> None:
    clock = ShiftedClock()
    async with Simulator(_config(rate=200), clock=clock) as sim:
        venue = sim.venues[NAME]
        assert isinstance(venue, Okx)
        stats = FeedStats()
        async with OkxRest(sim.environment()["STREAMER_OKX_REST_URL"], clock=clock) as rest:
            history = FundingHistory(rest, lambda: ("BTC-USDT-PERP",), 24.0, 600.0, stats,
                                     clock=clock, sleep=_never)  # fmt: skip
            first = await history.poll("BTC-USDT-PERP")
            assert await history.poll("BTC-USDT-PERP") == []  # nothing settled since
            clock.shift += EIGHT_HOURS  # eight hours pass in a moment
            swap = venue.swaps["BTC-USDT-PERP"]
            settled_at = swap.next_funding
            while swap.fundings[-1][0] < settled_at:  # the market's second settles it
                await _tick()
            later = await history.poll("BTC-USDT-PERP")
    assert all(type(r) is FundingRate for r in first + later)
    assert [r.event_time for r in first] == [settled_at - k * EIGHT_HOURS for k in (3, 2, 1)]
    assert [r.event_time for r in later] == [settled_at]
    realized = {at: trimmed(rate) for at, _, rate in swap.fundings}
    assert all(r.funding_rate == realized[r.event_time] for r in first + later)  # type: ignore[union-attr]
    assert all(r.funding_interval_hours == 8 for r in first[1:] + later)  # type: ignore[union-attr]
    assert stats.extra["funding_rates"] == 4


async def test_instruments_are_written_at_start_and_only_when_they_change() -> None:
    async with Simulator(_config(rate=20)) as sim:
        stats, emitted = FeedStats(), []

        async def emit(items: list[Item]) -> None:
            emitted.append(items)

        async with OkxRest(sim.environment()["STREAMER_OKX_REST_URL"], clock=now_millis) as rest:
            watch = InstrumentWatch(rest, lambda: ("BTC-USDT", "BTC-USDT-PERP"), 60.0, stats,
                                    sleep=_stop)  # fmt: skip
            for _ in range(2):
                with pytest.raises(_Stopped):
                    await watch.run(emit)  # type: ignore[arg-type]
    [rows] = emitted  # the second look found nothing changed
    by_symbol = {r.symbol: r for r in rows if type(r) is Instrument}
    spot, swap = by_symbol["BTC-USDT"], by_symbol["BTC-USDT-PERP"]
    assert (spot.kind, spot.venue_symbol, spot.contract_size, spot.settle) == (
        "spot", "BTC-USDT", None, None)  # fmt: skip
    assert (swap.kind, swap.venue_symbol, swap.contract_size, swap.settle) == (
        "perpetual", "BTC-USDT-SWAP", "0.01", "USDT")  # fmt: skip
    assert (swap.base, swap.quote, swap.tick_size, swap.status) == ("BTC", "USDT", "0.01", "live")


class _Stopped(Exception):
    pass


async def _stop(seconds: float) -> None:
    raise _Stopped


async def _never(seconds: float) -> None:
    raise AssertionError("the test polls by hand")


async def _tick() -> None:
    await asyncio.sleep(0.02)
