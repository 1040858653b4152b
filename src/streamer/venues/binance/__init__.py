"""Binance Spot: combined-stream WebSockets, REST backfills and full books, and its simulator.

Modules: `settings` (typed settings and their documented rows), `wire` (msgspec structs of the
hottest frames), `decode` and `streams` (the pure decoder: frames -> rows), `rest` (klines,
trades, depth snapshots within the request weight), `listings` (`exchangeInfo` -> symbols),
`depth_snapshots` (the shell that fetches the snapshots full books ask for), `source` (the
asyncio shell: connection plan, rotation, backfills), `simulator` and `sim_wire` (the venue
on loopback). Binance USD-M (`binance_usdm`) is a second spec here, sharing wire shapes and
pacing: `usdm_settings`, `usdm_streams` (symbols, stream names, routes, the `pu` chain rule),
`usdm_wire`, `usdm_decode` (frames -> rows), `usdm_rows` (the all-market streams' rows),
`usdm_rest` (listing, open interest, funding decoders), `usdm_client` (REST within USD-M's
weight), `usdm_source` (routed connections, books, backfills, the silent-stream watchdog), its
REST-driven datasets in `usdm_polls` (open interest), `usdm_funding` (settled funding) and
`usdm_instruments`, and the simulated venue in `usdm_simulator` and `usdm_sim_*`.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from streamer.venue_spec import VenueSpec
from streamer.venues.binance import settings, usdm_settings

if TYPE_CHECKING:
    from streamer.simulator.venue import Context, Venue, VenueConfig
    from streamer.sources.base import Clock, Source
    from streamer.sources.rediscovery import Rediscovery


def _source(config: Any, *, clock: Clock, rediscovery: Rediscovery | None) -> Source:
    from streamer.venues.binance.source import BinanceSource

    return BinanceSource(config, clock=clock, rediscovery=rediscovery)


def _resolve(config: Any, selector: Any, **kwargs: Any) -> Awaitable[tuple[tuple[str, ...], int]]:
    from streamer.venues.binance.listings import resolve

    return resolve(config, selector, **kwargs)


def _usdm_source(config: Any, *, clock: Clock, rediscovery: Rediscovery | None) -> Source:
    from streamer.venues.binance.usdm_source import UsdmSource

    return UsdmSource(config, clock=clock, rediscovery=rediscovery)


def _usdm_resolve(
    config: Any, selector: Any, **kwargs: Any
) -> Awaitable[tuple[tuple[str, ...], int]]:
    from streamer.venues.binance.usdm_client import resolve

    return resolve(config, selector, **kwargs)


def _simulator(config: VenueConfig, context: Context) -> Venue:
    from streamer.venues.binance.simulator import simulate

    return simulate(config, context)


def _usdm_simulator(config: VenueConfig, context: Context) -> Venue:
    from streamer.venues.binance.usdm_simulator import simulate

    return simulate(config, context)


VENUE = VenueSpec(
    name="binance",
    rows=settings.ROWS,
    load=settings.load,
    defaults=settings.BinanceSettings(),
    source=_source,
    resolve=_resolve,
    simulator=_simulator,
    sim_symbols=("BTC-USDT", "ETH-USDT", "SOL-USDT"),
    sim_markets=True,
    demo={"STREAMER_BINANCE_KLINE_INTERVAL": "1s", "STREAMER_BINANCE_BOOK_UPDATES": "true"},
)

USDM = VenueSpec(
    name="binance_usdm",
    rows=usdm_settings.ROWS,
    load=usdm_settings.load,
    defaults=usdm_settings.UsdmSettings(),
    source=_usdm_source,
    resolve=_usdm_resolve,
    shardable=True,
    default_on=False,  # opt-in: name it in STREAMER_SOURCES (the demo and Terraform can)
    simulator=_usdm_simulator,
    sim_symbols=("BTC-USDT-PERP", "ETH-USDT-PERP", "SOL-USDT-PERP"),
    sim_markets=True,  # C0001-USDT-PERP...: `streamer simulate --binance-usdm-markets N`
    demo={"STREAMER_BINANCE_USDM_OPEN_INTEREST_SECONDS": "5"},  # a row per contract in seconds
)
"""Binance USD-M futures (`binance_usdm`): runs when `STREAMER_SOURCES` names it."""
