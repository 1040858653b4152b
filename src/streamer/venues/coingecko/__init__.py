"""CoinGecko: the REST poller of aggregated prices and the market-cap ranking, and its
simulator.

Modules: `settings` (plans, keys, poll intervals), `decode` (pure: answers -> rows),
`source` (the poller), `simulator` and `sim_wire` (the API on loopback).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streamer.venue_spec import VenueSpec
from streamer.venues.coingecko import settings

if TYPE_CHECKING:
    from streamer.simulator.venue import Context, Venue, VenueConfig
    from streamer.sources.base import Clock, Source
    from streamer.sources.rediscovery import Rediscovery


def _source(config: Any, *, clock: Clock, rediscovery: Rediscovery | None) -> Source:
    from streamer.venues.coingecko.source import CoinGeckoSource

    return CoinGeckoSource(config, clock=clock)


def _simulator(config: VenueConfig, context: Context) -> Venue:
    from streamer.venues.coingecko.simulator import simulate

    return simulate(config, context)


def _stale_after(config: Any) -> float:
    """Three polls missed, and half a minute more."""
    return 3 * float(config.poll_seconds) + 30


VENUE = VenueSpec(
    name="coingecko",
    rows=settings.ROWS,
    load=settings.load,
    defaults=settings.CoinGeckoSettings(),
    source=_source,
    shardable=False,
    stale_after=_stale_after,
    simulator=_simulator,
    sim_symbols=("bitcoin", "ethereum", "solana"),
    demo={"STREAMER_COINGECKO_POLL_SECONDS": "10"},
)
