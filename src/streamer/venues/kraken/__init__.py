"""Kraken spot over WebSocket v2: books proven by their checksum on every message, trades
complete by `trade_id`, tickers and one-minute candles.

Modules: `settings`, `symbols` (v2, REST and lake names of a pair), `checksum` (the `book`
CRC32), `books` (each pair's book: applied, cut to the depth, verified), `rows` (payload
entries -> rows), `decode` (the pure decoder), `rest` (`AssetPairs`, `Trades`, `Ticker`),
`source` (the asyncio shell: connections, subscriptions that survive `Exceeded msg rate`,
book resubscribes, trade backfill). No simulator yet.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from streamer.venue_spec import VenueSpec
from streamer.venues.kraken import settings

if TYPE_CHECKING:
    from streamer.sources.base import Clock, Source
    from streamer.sources.rediscovery import Rediscovery


def _source(config: Any, *, clock: Clock, rediscovery: Rediscovery | None) -> Source:
    from streamer.venues.kraken.source import KrakenSource

    return KrakenSource(config, clock=clock, rediscovery=rediscovery)


def _resolve(config: Any, selector: Any, **kwargs: Any) -> Awaitable[tuple[tuple[str, ...], int]]:
    from streamer.venues.kraken.listings import resolve

    return resolve(config, selector, **kwargs)


VENUE = VenueSpec(
    name="kraken",
    rows=settings.ROWS,
    load=settings.load,
    defaults=settings.KrakenSettings(),
    source=_source,
    resolve=_resolve,
    shardable=True,
    default_on=False,  # until the simulator, the demo, the report and Terraform cover it
)
"""Kraken spot (`kraken`): runs when `STREAMER_SOURCES` names it."""
