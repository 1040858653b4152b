"""Kraken spot over WebSocket v2: books proven by their checksum on every message, trades
complete by `trade_id`, tickers and one-minute candles without holes.

Modules: `settings`, `symbols` (v2, REST and lake names of a pair), `checksum` (the `book`
CRC32), `books` (each pair's book: applied, cut to the depth, verified), `rows` (payload
entries -> rows), `decode` (the pure decoder), `rest` (`AssetPairs`, `Trades`, `OHLC`,
`Ticker`), `candles` (which closed candles to publish, which holes to fetch), `source` (the
asyncio shell: connections, subscriptions that survive `Exceeded msg rate`, book resubscribes,
trade and candle backfills), and the venue on loopback: `simulator` (WebSocket v2 and
REST, with its faults), `sim_wire` (payloads and the venue's own checksum), `sim_book` (what a
subscriber at one depth is sent), `sim_listing` (pairs and their REST names), `sim_rest`
(its public REST).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from streamer.venue_spec import VenueSpec
from streamer.venues.kraken import settings

if TYPE_CHECKING:
    from streamer.simulator.venue import Context, Venue, VenueConfig
    from streamer.sources.base import Clock, Source
    from streamer.sources.rediscovery import Rediscovery


def _source(config: Any, *, clock: Clock, rediscovery: Rediscovery | None) -> Source:
    from streamer.venues.kraken.source import KrakenSource

    return KrakenSource(config, clock=clock, rediscovery=rediscovery)


def _resolve(config: Any, selector: Any, **kwargs: Any) -> Awaitable[tuple[tuple[str, ...], int]]:
    from streamer.venues.kraken.listings import resolve

    return resolve(config, selector, **kwargs)


def _simulator(config: VenueConfig, context: Context) -> Venue:
    from streamer.venues.kraken.simulator import simulate

    return simulate(config, context)


VENUE = VenueSpec(
    name="kraken",
    rows=settings.ROWS,
    load=settings.load,
    defaults=settings.KrakenSettings(),
    source=_source,
    resolve=_resolve,
    shardable=True,
    default_on=False,  # opt-in: name it in STREAMER_SOURCES (the demo and Terraform can)
    simulator=_simulator,
    sim_symbols=("BTC-USD", "ETH-USD", "SOL-USD"),
    sim_markets=True,
)
"""Kraken spot (`kraken`): runs when `STREAMER_SOURCES` names it."""
