"""OKX v5 (`okx`): spot pairs and linear perpetual swaps over WebSockets, books proven by the
`prevSeqId` chain, trade backfills by id, closed candles without holes, settled funding and
instruments from REST.

Modules: `symbols` (names, channels, routes, the chain rule), `settings`, `rows` (payload
elements -> rows), `decode` (the pure decoder: frames -> rows), `rest` (the client within
OKX's per-endpoint limits, listings, the trade and candle backfills), `candles` (which closed
candles to publish, which holes to fetch), `polls` (REST snapshots for books,
settled funding, instruments) and `source` (the asyncio shell: connections to `/ws/v5/public`
and `/ws/v5/business`, subscribe budgets, `ping`/`pong`). The venue on loopback: `simulator`
(routes, channels, limits), `sim_rest` (REST within per-endpoint limits), `sim_wire`
(payloads), `sim_market` (the `books` chain, a swap's funding and liquidations) and
`sim_listing` (what it lists).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from streamer.venue_spec import VenueSpec
from streamer.venues.okx import settings

if TYPE_CHECKING:
    from streamer.simulator.venue import Context, Venue, VenueConfig
    from streamer.sources.base import Clock, Source
    from streamer.sources.rediscovery import Rediscovery


def _source(config: Any, *, clock: Clock, rediscovery: Rediscovery | None) -> Source:
    from streamer.venues.okx.source import OkxSource

    return OkxSource(config, clock=clock, rediscovery=rediscovery)


def _resolve(config: Any, selector: Any, **kwargs: Any) -> Awaitable[tuple[tuple[str, ...], int]]:
    from streamer.venues.okx.rest import resolve

    return resolve(config, selector, **kwargs)


def _simulator(config: VenueConfig, context: Context) -> Venue:
    from streamer.venues.okx.simulator import simulate

    return simulate(config, context)


VENUE = VenueSpec(
    name="okx",
    rows=settings.ROWS,
    load=settings.load,
    defaults=settings.OkxSettings(),
    source=_source,
    resolve=_resolve,
    shardable=True,
    default_on=False,  # opt-in: name it in STREAMER_SOURCES (the demo and Terraform can)
    stale_after=lambda s: float(s.stale_seconds) * 3,
    simulator=_simulator,
    sim_symbols=("BTC-USDT", "ETH-USDT", "BTC-USDT-PERP", "ETH-USDT-PERP"),
    sim_markets=True,
)
"""OKX v5 (`okx`): runs when `STREAMER_SOURCES` names it."""
