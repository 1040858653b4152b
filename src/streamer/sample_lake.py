"""A small lake from the bundled simulator: an hour of market in a minute.

The simulator's and the clients' clocks run `speed` times faster than the wall clock, so
1-minute candles close every second and Coinbase's 5-minute candles every 5 s at 60x. The
real clients and pipeline write it, as in `streamer demo`, with a few injected faults;
`make notebooks` runs the notebooks on it, so their stored charts show a dozen bars or more.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from streamer.pipeline import run_pipeline
from streamer.records import Millis
from streamer.service import build_sources
from streamer.settings import load
from streamer.simulator import Simulator, SimulatorConfig
from streamer.simulator.faults import FaultPlan
from streamer.sinks.lake import LakeSink
from streamer.venues import VENUES

SPEED = 60


def two_markets(listed: tuple[str, ...]) -> tuple[str, ...]:
    """BTC's and ETH's markets of a simulated venue's listing, or BTC's alone where those are
    more than two (a pair and a perpetual); none for a venue of coins (a poller)."""
    btc_eth = [s for s in listed if s.split("-")[0] in ("BTC", "ETH") and "-" in s]
    return tuple(btc_eth if len(btc_eth) <= 2 else [s for s in btc_eth if s.startswith("BTC-")][:2])


async def write_sample_lake(
    lake: Path,
    seconds: float = 60.0,
    *,
    seed: int = 5,
    symbols: Mapping[str, tuple[str, ...]] | None = None,
    until: Callable[[], bool] | None = None,
    options: Mapping[str, Any] | None = None,
) -> None:
    """Streams `seconds` of wall-clock time (`seconds * SPEED` of market time) into `lake`, or,
    with `until`, until it holds (checked every half second; `TimeoutError` after `seconds`).
    `symbols`: each venue's simulated listings (default: two markets of each exchange, so every
    venue is in the notebooks' charts, which stay small enough to store); `options`: a venue's
    simulator options (e.g. `UsdmSimOptions`)."""
    start = time.time_ns() // 1_000_000

    def fast_clock() -> Millis:
        return Millis(start + (time.time_ns() // 1_000_000 - start) * SPEED)

    # A few garbage frames, duplicates and cut connections: rejects, de-duplication and REST
    # backfills for the data-health charts, as on a real day.
    faults = FaultPlan(garbage=0.005, duplicate=0.01, disconnect=0.0005, seed=seed)
    if symbols is None:
        symbols = {spec.name: two_markets(spec.sim_symbols) for spec in VENUES}
        symbols = {name: markets for name, markets in symbols.items() if markets}
    config = SimulatorConfig(port=0, rate=100, seed=seed, faults=faults, symbols=symbols,
                             options=options or {})  # fmt: skip
    async with Simulator(config, clock=fast_clock) as sim:
        env = sim.environment()
        env.update(
            STREAMER_LAKE_DIR=str(lake),
            STREAMER_LAKE_BUFFER_SECONDS="0.5",
            STREAMER_BINANCE_KLINE_INTERVAL="1m",
            STREAMER_COINBASE_BOOK_INTERVAL="0.2",
            STREAMER_COINGECKO_POLL_SECONDS="2",
            # every simulated venue, those off by default (Binance USD-M, OKX, Kraken) too
            STREAMER_SOURCES=",".join(spec.name for spec in VENUES if spec.simulator),
        )
        settings = load(env)
        stop = asyncio.Event()
        sources = build_sources(settings, clock=fast_clock)
        pipeline = asyncio.create_task(
            run_pipeline(sources, LakeSink(settings.lake), stop, clock=fast_clock)
        )
        try:
            if until is None:
                await asyncio.sleep(seconds)
            else:
                async with asyncio.timeout(seconds):
                    await _poll(until)
        finally:
            stop.set()
            await pipeline


async def _poll(condition: Callable[[], bool]) -> None:
    """Return once `condition()` holds (it reads the lake: checked every half second)."""
    while not condition():  # noqa: ASYNC110 - nothing to wait on but the files
        await asyncio.sleep(0.5)
