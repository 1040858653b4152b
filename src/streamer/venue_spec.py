"""What a venue package gives the core: one `VenueSpec`, listed by the registry
(`streamer.venues.VENUES`).

The core (settings, the service, sharding, `/health`, discovery, the simulator's routes, the
demo, the CLI and the generated docs) reads venues only through these fields, so adding a
venue touches nothing outside `venues/<venue>/` but the registry's one line
(`docs/adding-a-venue.md`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from streamer.settings_read import Reader
from streamer.settings_spec import Setting

if TYPE_CHECKING:
    from streamer.simulator.venue import Context, Venue, VenueConfig
    from streamer.sources.base import Clock, Source
    from streamer.sources.rediscovery import Rediscovery


class SourceFactory(Protocol):
    def __call__(self, config: Any, *, clock: Clock, rediscovery: Rediscovery | None) -> Source: ...


Resolver = Callable[..., Awaitable[tuple[tuple[str, ...], int]]]
"""`(settings, selector, *, clock, sleep, transport)` -> (the symbols a selector picks today,
from the venue's own listing; how many trade)."""


@dataclass(frozen=True, slots=True)
class VenueSpec:
    name: str
    """The source's name: `STREAMER_SOURCES` entry, the `exchange` column, log prefix."""
    rows: tuple[Setting, ...]
    """Its `STREAMER_*` settings, documented (the settings reference is generated from them)."""
    load: Callable[[Reader], Any]
    """Reads and validates its settings: a frozen dataclass of the venue's own, with what the
    core reads of it: `symbols` (what it collects), `selector` (a market named instead,
    resolved at start, or None) and `stale_seconds`; `ConfigError` on a bad one."""
    defaults: Any
    """Its settings when nothing is set."""
    source: SourceFactory
    """Builds the feed (a `Source`) from its settings, already narrowed to this shard."""
    resolve: Resolver | None = None
    """Turns a selector into symbols; None when the venue takes no selector."""
    shardable: bool = True
    """Its symbols are split between shards; False: it runs whole in shard 0 (a poller)."""
    default_on: bool = True
    """It runs when `STREAMER_SOURCES` is not set (False: only when named there)."""
    stale_after: Callable[[Any], float] = lambda settings: 60.0
    """Seconds without a frame after which `/health` calls the feed stale."""
    simulator: Callable[[VenueConfig, Context], Venue] | None = None
    """Its simulated venue (`streamer simulate`, the tests, the demo)."""
    sim_symbols: tuple[str, ...] = ()
    """What its simulator lists by default."""
    sim_markets: bool = False
    """Its simulator can generate N more listings (`streamer simulate --markets NAME=N`)."""
    demo: Mapping[str, str] = field(default_factory=dict)
    """Settings the offline demo adds (faster candles or polls, full books)."""
