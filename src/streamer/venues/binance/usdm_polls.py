"""Binance USD-M's periodic REST polls (the asyncio shell; decoding stays in `usdm_rest`).

Every poll goes through the source's one `UsdmRest`, so it is counted in the same request-weight
budget as the snapshots and trade backfills, and a 429/418 is waited out for the venue's
`Retry-After` exactly as theirs are (`rest.PollStop`: a rate limit is always waited out, other
failures end after `POLL_ATTEMPTS`). A poll that still fails is counted (`polls_failed`,
`http_errors`) and logged, and the next one goes ahead as usual; an answer that does not decode
is handed on as a `Reject`. Polls do not take the backfills' fetch semaphore: each poller asks
one request at a time, and a long trade backfill must not starve them.

* `fetch`: one poll's answer, or None (counted and logged).
* `OpenInterestPolls`: `GET /fapi/v1/openInterest?symbol=` (weight 1) of every selected contract
  once per `every` seconds, spread over the interval (`slots`), following the selection.
* `FundingIntervals`: `GET /fapi/v1/fundingInfo`, the symbols off the default 8 h interval,
  asked at most once per `max_age` and within the funding endpoints' own limit (`FUNDING_PACE`);
  the instruments and the funding rows carry its answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import httpx

from streamer.logsafe import shown
from streamer.records import Item, Millis, Reject
from streamer.retry import GaveUp, Sleep
from streamer.sources.attempts import AttemptWindow
from streamer.sources.base import Clock, Emit, FeedStats
from streamer.sources.rest import RestClient, RestRefused, poll_stop
from streamer.venues.binance.usdm_client import FUNDING_INFO, OPEN_INTEREST
from streamer.venues.binance.usdm_rest import funding_intervals, open_interest
from streamer.venues.binance.usdm_streams import EXCHANGE_USDM, native_symbol

log = logging.getLogger(__name__)

POLL_ATTEMPTS = 3
FUNDING_REQUESTS, FUNDING_WINDOW_SECONDS = 450, 300.0
"""`fundingRate` and `fundingInfo` share 500 requests per 5 minutes per IP (Binance's docs;
verify), apart from the request weight: this source keeps 50 under it."""
Monotonic = Callable[[], float]
Symbols = Callable[[], Sequence[str]]
"""The source's selection as it is now (rediscovery adds and drops contracts)."""


async def fetch(
    rest: RestClient, path: str, params: dict[str, str], stats: FeedStats
) -> bytes | None:
    """One poll's answer; None when it failed (counted and logged, the next poll goes ahead)."""
    try:
        return await rest.get(path, params, stop=poll_stop(POLL_ATTEMPTS), retry_refusals=False)
    except GaveUp:
        stats.extra["polls_failed"] += 1  # the client logged it
    except RestRefused as refused:
        stats.extra["http_errors"] += 1
        log.error("%s.http_error path=%s params=%s status=%d body=%s", EXCHANGE_USDM, path,
                  shown(params), refused.status, shown(refused.body[:200]))  # fmt: skip
    except httpx.HTTPError as exc:  # not a request error (those are retried): e.g. a bad URL
        stats.extra["polls_failed"] += 1
        log.error("%s.poll_failed path=%s error=%s", EXCHANGE_USDM, path, shown(exc))
    return None


async def publish(items: list[Item], received_at: Millis, stats: FeedStats, emit: Emit) -> None:
    """Count `items` (rows and rejects, as one REST answer) and hand them on."""
    if items:
        stats.count(items, received_at)
        await emit(items)


async def paced(window: AttemptWindow, monotonic: Monotonic, sleep: Sleep) -> None:
    """Wait for a place in `window` (a limit of its own, apart from the request weight)."""
    wait = window.reserve(monotonic())
    if wait > 0:
        await sleep(wait)


def slots(symbols: Sequence[str], start: float, every: float) -> list[tuple[float, str]]:
    """(when, symbol) of one round starting at `start`: the k-th of n symbols is asked
    `k * every / n` later, so a round's requests are spread over its interval."""
    count = len(symbols)
    return [(start + k * every / count, symbol) for k, symbol in enumerate(symbols)]


class OpenInterestPolls:
    """`open_interest` rows: each selected contract once per `every` seconds, one request at a
    time on the slots of `slots`; a round that overran (long 429 waits) starts the next at once.
    A contract dropped meanwhile is skipped; one added is asked from the next round on."""

    def __init__(
        self,
        rest: RestClient,
        symbols: Symbols,
        every: float,
        stats: FeedStats,
        *,
        clock: Clock,
        sleep: Sleep = asyncio.sleep,
        monotonic: Monotonic | None = None,
    ) -> None:
        self.rest = rest
        self.symbols = symbols
        self.every = every
        self.stats = stats
        self.clock = clock
        self.sleep = sleep
        self.monotonic = monotonic

    async def run(self, emit: Emit) -> None:
        """Poll until cancelled."""
        now = self.monotonic or asyncio.get_running_loop().time
        start = now()
        while True:
            for at, symbol in slots(tuple(self.symbols()), start, self.every):
                wait = at - now()
                if wait > 0:
                    await self.sleep(wait)
                if symbol in self.symbols():
                    await self.poll(symbol, emit)
            start += self.every
            wait = start - now()
            if wait > 0:
                await self.sleep(wait)
            else:
                start = now()

    async def poll(self, symbol: str, emit: Emit) -> None:
        params = {"symbol": native_symbol(symbol)}
        body = await fetch(self.rest, OPEN_INTEREST, params, self.stats)
        if body is None:
            return
        self.stats.extra["open_interest_polls"] += 1
        received_at = self.clock()
        await publish(open_interest(body, symbol, received_at), received_at, self.stats, emit)


class FundingIntervals:
    """Venue symbol -> funding hours off the default (`fundingInfo`), asked again once the
    answer is `max_age` seconds old; a failed or malformed answer keeps the last good one."""

    def __init__(
        self,
        rest: RestClient,
        stats: FeedStats,
        pace: AttemptWindow,
        max_age: float,
        *,
        clock: Clock,
        sleep: Sleep = asyncio.sleep,
        monotonic: Monotonic | None = None,
    ) -> None:
        self.rest = rest
        self.stats = stats
        self.pace = pace
        self.max_age = max_age
        self.clock = clock
        self.sleep = sleep
        self.monotonic = monotonic
        self.hours: dict[str, int] = {}
        self.asked_at: float | None = None
        self._lock = asyncio.Lock()  # the instruments and funding tasks ask it at once at start

    def _now(self) -> float:
        return (self.monotonic or asyncio.get_running_loop().time)()

    async def get(self, emit: Emit) -> dict[str, int]:
        async with self._lock:
            asked = self.asked_at
            if asked is None or self._now() - asked >= self.max_age:
                await self._ask(emit)
        return self.hours

    async def _ask(self, emit: Emit) -> None:
        now = self.monotonic or asyncio.get_running_loop().time
        await paced(self.pace, now, self.sleep)
        body = await fetch(self.rest, FUNDING_INFO, {}, self.stats)
        self.asked_at = now()
        if body is None:
            return
        received_at = self.clock()
        answer = funding_intervals(body, received_at)
        if isinstance(answer, Reject):
            await publish([answer], received_at, self.stats, emit)
            return
        self.hours = answer
