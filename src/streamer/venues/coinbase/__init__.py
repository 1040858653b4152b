"""Coinbase Advanced Trade: WebSocket channels, local level2 books, REST backfills, and its
simulator.

Modules: `settings`, `wire` (msgspec structs), `decode` and `state` (the pure decoder and each
product's state), `rest` (candles and trades), `listings` (`market/products` -> symbols),
`source` (the asyncio shell: subscriptions, resyncs, book sampling, backfills), `simulator`
and `sim_wire` (the venue on loopback).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from streamer.venue_spec import VenueSpec
from streamer.venues.coinbase import settings

if TYPE_CHECKING:
    from streamer.simulator.venue import Context, Venue, VenueConfig
    from streamer.sources.base import Clock, Source
    from streamer.sources.rediscovery import Rediscovery


def _source(config: Any, *, clock: Clock, rediscovery: Rediscovery | None) -> Source:
    from streamer.venues.coinbase.source import CoinbaseSource

    return CoinbaseSource(config, clock=clock, rediscovery=rediscovery)


def _resolve(config: Any, selector: Any, **kwargs: Any) -> Awaitable[tuple[tuple[str, ...], int]]:
    from streamer.venues.coinbase.listings import resolve

    return resolve(config, selector, **kwargs)


def _simulator(config: VenueConfig, context: Context) -> Venue:
    from streamer.venues.coinbase.simulator import simulate

    return simulate(config, context)


VENUE = VenueSpec(
    name="coinbase",
    rows=settings.ROWS,
    load=settings.load,
    defaults=settings.CoinbaseSettings(),
    source=_source,
    resolve=_resolve,
    simulator=_simulator,
    sim_symbols=("BTC-USD", "ETH-USD", "SOL-USD"),
    sim_markets=True,
    demo={"STREAMER_COINBASE_BOOK_UPDATES": "true"},
)
