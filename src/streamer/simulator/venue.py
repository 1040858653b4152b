"""What `server.py` routes to: a venue's REST answers and, for an exchange, its WebSocket
sessions and the driver that moves its markets.

A venue's simulator lives in its package (`venues/<venue>/simulator.py`), a class that fits
`Venue` (or `StreamingVenue`), built by its `VenueSpec.simulator`; adding an endpoint touches
only that module.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import itertools
import random
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from websockets.frames import Opcode

from streamer.simulator.limits import Breaches
from streamer.simulator.listing import Listing, relisted
from streamer.simulator.market import (
    TRADE_HISTORY,
    TRADE_PROBABILITY,
    Change,
    Market,
    Trade,
    start_price,
)
from streamer.simulator.outbox import Connection
from streamer.simulator.replay import Replay
from streamer.simulator.truth import Truth


@dataclass(frozen=True, slots=True)
class Context:
    """What the venues of one simulator share."""

    clock: Callable[[], int]  # the market's clock, epoch ms
    rng: random.Random  # picks which market steps next
    rate: float  # market events per second per venue; 0 = as fast as clients read
    seed: int
    truth: Truth
    replay: Replay | None  # recorded frames to send instead of the market's
    breaches: Breaches = field(default_factory=Breaches)
    monotonic: Callable[[], float] = time.monotonic  # the limits' clock, seconds
    trade_history: int = TRADE_HISTORY  # trades kept per market
    history_depths: Mapping[str, int] = field(default_factory=dict)
    """Venue name -> how many of each market's newest trades its REST serves (else all kept)."""


@dataclass(frozen=True, slots=True)
class VenueConfig:
    """What one venue's simulator is asked to list, from `SimulatorConfig`."""

    symbols: tuple[str, ...]  # configured, all trading
    markets: int = 0  # generated listings after them (`listing.generated`)
    skew: float = 1.0  # the k-th generated one's share of events ~ 1/(k+1)**skew
    options: Any = None  # the venue's own options (its limits...), None for its defaults


@dataclass(frozen=True, slots=True)
class Admission:
    """A venue's word on a request before it is served: refused (status, body) or not, and
    headers every answer carries."""

    refusal: tuple[int, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


ADMITTED = Admission()
Meter = Callable[[Opcode], bool]  # one incoming frame of a connection: still within limits?


class Venue(Protocol):
    """A venue that answers plain HTTP GETs under `rest_prefix` (no trailing slash)."""

    rest_prefix: str

    def environment(self, base: str) -> dict[str, str]:
        """The `STREAMER_*` settings that point `streamer run` at it on `base` (host:port)."""
        ...

    def rest(self, endpoint: str, params: Mapping[str, str]) -> tuple[int, Any]:
        """The status and body (JSON-able, or bytes as they are) for a GET of
        `rest_prefix + endpoint`; a missing or malformed parameter raises KeyError or
        ValueError (the server answers 400)."""
        ...

    def admit(self, target: str, client: str, websocket: bool) -> Admission:
        """Whether a request for `target` (path and query) from IP `client` is served."""
        ...


@runtime_checkable
class StreamingVenue(Venue, Protocol):
    """A venue that also serves WebSocket clients on `ws_path`."""

    ws_path: str

    def meter(self, client: str, who: str) -> Meter:
        """The check of each incoming frame on a new connection `who` from IP `client`."""
        ...

    async def session(self, conn: Connection, query: str) -> None:
        """Serve one client until it leaves; frames go to `conn.outbox` (the server sends
        them). `query` is the URL's query string."""
        ...

    async def drive(self) -> None:
        """Move the venue's markets for ever, fanning frames out to subscribed clients (the
        server does not run it when replaying recorded frames)."""
        ...


def ws_paths(venue: StreamingVenue) -> tuple[str, ...]:
    """Every path `venue` serves WebSockets on: its `ws_paths` when it is routed on several
    (Binance USD-M's `/public` and `/market`; its `session` reads the path it was reached on
    from `conn.ws.request`), else its one `ws_path`."""
    paths: tuple[str, ...] | None = getattr(venue, "ws_paths", None)
    return paths if paths else (venue.ws_path,)


class Feed(Protocol):
    """What a venue makes of its markets as `drive` moves them."""

    def tick(self, market: Market, now: int) -> None:
        """The clock moved to `now`: closed candles, periodic frames."""
        ...

    def event(self, market: Market, changes: list[Change], trade: Trade | None, now: int) -> None:
        """`market` stepped: book `changes` and perhaps a `trade`."""
        ...

    @property
    def listing_version(self) -> int:
        """Changes whenever the set of trading markets changes (a runtime relisting)."""
        ...


class Listed:
    """The listings of a streaming venue and which of its markets trade, changeable at runtime
    (`relist`): the driver picks the change up on its next step."""

    listings: dict[str, Listing]
    markets: dict[str, Market]
    symbols: tuple[str, ...]
    trading: list[Market]
    weights: list[float]
    _version: int = 0

    def _list(self, listings: Iterable[Listing]) -> None:
        self.listings = {item.symbol: item for item in listings}
        self._pool()

    def _pool(self) -> None:
        items = [item for item in self.listings.values() if item.trading]
        self.symbols = tuple(item.symbol for item in items)
        # In place: the running driver holds these very lists.
        trading = [self.markets[item.symbol] for item in items]
        weights = [item.weight for item in items]
        if hasattr(self, "trading"):
            self.trading[:], self.weights[:] = trading, weights
        else:
            self.trading, self.weights = trading, weights
        self._version += 1

    @property
    def listing_version(self) -> int:
        return self._version

    def relist(self, symbol: str, status: str, *, trading: bool) -> None:
        """The venue gives `symbol` a new status (halts, resumes, lists or delists it)."""
        self.listings[symbol] = relisted(self.listings[symbol], status, trading)
        self._pool()


def build_markets(
    venue: str, listings: Iterable[Listing], context: Context, candle_ms: int
) -> dict[str, Market]:
    """One seeded market per listing, building candles of `candle_ms` from now, its REST trade
    history `context.history_depths[venue]` deep (else all it keeps). A generated listing
    starts with the day of trades its activity weight would have made at `rate`."""
    listed = list(listings)
    now, total = context.clock(), sum(item.weight for item in listed) or 1.0
    depth = context.history_depths.get(venue)
    kept = max(context.trade_history, depth or 0)
    per_day = (context.rate or NOMINAL_RATE) * 86_400 * TRADE_PROBABILITY
    markets: dict[str, Market] = {}
    for item in listed:
        rng = random.Random(f"{context.seed}:{venue}:{item.symbol}")
        markets[item.symbol] = market = Market(item.symbol, rng, start_price(item.symbol), now)
        market.history = collections.deque(maxlen=kept)
        market.depth = depth
        market.track(candle_ms)
        if item.generated and item.weight:
            market.assume_history(round(per_day * item.weight / total))
    return markets


class Schedule:
    """Periodic frames on the market clock: a key is due once per `every` ms, on multiples."""

    def __init__(self) -> None:
        self._next: dict[tuple[str, str], int] = {}

    def due(self, key: tuple[str, str], now: int, every: int) -> bool:
        if now < self._next.get(key, 0):
            return False
        self._next[key] = now - now % every + every
        return True


NOMINAL_RATE = 200.0  # events per second a generated market's history assumes when unpaced
TICK_MS = 100  # every market ticks at least this often on the market clock (Binance's books)
MIN_SLEEP_SECONDS = 0.002  # steps due sooner than this are made now, in one batch
YIELD_SECONDS = 0.005  # a driver that fell behind still lets the event loop run this often


def pick(weights: Sequence[float]) -> Callable[[random.Random], int]:
    """A draw of an index by `weights` (all equal: a plain `randrange`, as before weights)."""
    if len(set(weights)) <= 1:
        count = len(weights)
        return lambda rng: rng.randrange(count)
    cumulative = list(itertools.accumulate(weights))
    total = cumulative[-1]
    last = len(cumulative) - 1
    return lambda rng: min(bisect.bisect_right(cumulative, rng.random() * total), last)


async def drive_markets(
    feed: Feed,
    markets: Iterable[Market],
    clients: Collection[Connection],
    context: Context,
    weights: Sequence[float] | None = None,
) -> None:
    """Step one of `markets`, drawn by `weights` (default: all alike), `context.rate` times a
    second (0: as fast as the clients read); waits while any client's outbox is full.

    Every market `tick`s when the market clock crosses a multiple of `TICK_MS`, and the stepped
    one also just before its step, so periodic frames keep their cadence without visiting every
    market on every step (which starved the event loop at a thousand symbols)."""
    pool = list(markets)
    draw = pick([1.0] * len(pool) if weights is None else weights)
    version = feed.listing_version
    clock, rng, rate = context.clock, context.rng, context.rate
    interval = 1.0 / rate if rate > 0 else 0.0
    next_at = time.monotonic()
    yield_at = next_at + YIELD_SECONDS
    next_tick = 0
    steps = 0
    while True:
        if feed.listing_version != version:  # a symbol was halted or listed meanwhile
            version, pool = feed.listing_version, list(markets)
            draw = pick([1.0] * len(pool) if weights is None else weights)
        if not pool:
            await asyncio.sleep(0.05)
            continue
        for client in list(clients):
            if not client.outbox.space.is_set():
                await client.outbox.space.wait()
        now = clock()
        if now >= next_tick:
            for market in pool:
                feed.tick(market, now)
            next_tick = now - now % TICK_MS + TICK_MS
        market = pool[draw(rng)]
        feed.tick(market, now)
        changes, trade = market.step()
        feed.event(market, changes, trade, now)
        steps += 1
        if interval:
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > MIN_SLEEP_SECONDS:  # shorter waits would cost a loop turn per step
                await asyncio.sleep(delay)
                yield_at = time.monotonic() + YIELD_SECONDS
                continue
            if delay < -1:
                next_at = time.monotonic()  # fell behind: don't burst
        elif not clients:
            await asyncio.sleep(0.01)
            continue
        if steps % 64 == 0 or time.monotonic() >= yield_at:
            await asyncio.sleep(0)  # behind or unpaced: the loop still serves handshakes
            yield_at = time.monotonic() + YIELD_SECONDS
