"""The registry: every venue `streamer` collects, one line each, in the order they run.

A venue is one package, `venues/<venue>/`, whose `VENUE` (a `VenueSpec`) ties it in; nothing
outside its package names it (`docs/adding-a-venue.md`). Settings, the service, `/health`,
discovery, the simulator, the demo, the CLI and the generated docs all read `VENUES`.
`register` adds a venue defined elsewhere (a plugin, or a test's toy venue).
"""

from __future__ import annotations

from streamer.venue_spec import VenueSpec
from streamer.venues import binance, coinbase, coingecko, kraken, okx

VENUES: list[VenueSpec] = [
    binance.VENUE,
    binance.USDM,
    coinbase.VENUE,
    coingecko.VENUE,
    okx.VENUE,
    kraken.VENUE,
]


def register(spec: VenueSpec) -> None:
    """Add `spec` after the others; a second venue of the same name is refused."""
    if any(s.name == spec.name for s in VENUES):
        raise ValueError(f"a venue named {spec.name!r} is registered already")
    VENUES.append(spec)


def unregister(name: str) -> None:
    VENUES[:] = [s for s in VENUES if s.name != name]
