"""Resolving a market selector again while the service runs (the asyncio shell of a feed).

Each source resolves its selector every `STREAMER_DISCOVERY_SECONDS` (`rediscover`): `change`
says which symbols of this shard were listed or halted/delisted since, and the source
subscribes the new ones on new connections and unsubscribes the others on theirs, leaving every
other connection alone. A refresh that fails keeps the current set, and so does one that would
drop more than half of it: a venue-wide halt (maintenance) is not a delisting, and
unsubscribing everything would lose the hour until the next refresh.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from streamer.logsafe import shown
from streamer.retry import Sleep
from streamer.selectors import Selector
from streamer.sharding import Shard, select

log = logging.getLogger(__name__)
MAX_DROPPED_SHARE = 0.5
"""A refresh that would unsubscribe more than this share of the symbols is not applied."""
MIN_REFRESH_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Rediscovery:
    """What a running source needs to resolve its market again."""

    selector: Selector
    shard: Shard
    every: float  # seconds between refreshes


@dataclass(frozen=True, slots=True)
class Change:
    added: tuple[str, ...]  # newly selected, in the venue's order
    removed: tuple[str, ...]  # no longer selected (halted, delisted, out of the top N)


def change(current: Sequence[str], found: Sequence[str]) -> Change | None:
    """What a refresh that found `found` changes in `current` (pure); None when it would drop
    more than `MAX_DROPPED_SHARE` of `current`, which is then kept."""
    now, then = set(found), set(current)
    removed = tuple(s for s in current if s not in now)
    if current and len(removed) > MAX_DROPPED_SHARE * len(current):
        return None
    return Change(tuple(s for s in found if s not in then), removed)


async def rediscover(
    source: str,
    rediscovery: Rediscovery,
    current: Callable[[], Sequence[str]],
    fetch: Callable[[Selector], Awaitable[tuple[tuple[str, ...], int]]],
    apply: Callable[[Change], Awaitable[None]],
    sleep: Sleep = asyncio.sleep,
) -> None:
    """Every `rediscovery.every` seconds: resolve the selector again (`fetch`, on the source's
    own REST client and weight budget), keep this shard's part, and `apply` what changed.
    Runs until cancelled; a failure only skips one refresh."""
    selector, shard = rediscovery.selector, rediscovery.shard
    timeout = max(rediscovery.every, MIN_REFRESH_TIMEOUT_SECONDS)
    while True:
        await sleep(rediscovery.every)
        held = current()
        try:
            async with asyncio.timeout(timeout):
                found, _ = await fetch(selector)
        except Exception as exc:  # any failure (REST refused, timeout): keep what runs
            log.warning("discovery.refresh_failed source=%s error=%s (keeping %d symbols)",
                        source, shown(exc), len(held))  # fmt: skip
            continue
        mine = select(source, found, shard)
        delta = change(held, mine)
        if delta is None:
            log.warning("discovery.refresh_ignored source=%s found=%d held=%d: it would drop "
                        "more than half (a venue-wide halt?); keeping the current set",
                        source, len(mine), len(held))  # fmt: skip
            continue
        if delta.added or delta.removed:
            named = (*delta.added[:5], *(f"-{s}" for s in delta.removed[:5]))
            log.info("discovery.refresh source=%s added=%d removed=%d (%s)", source,
                     len(delta.added), len(delta.removed), ",".join(named))  # fmt: skip
            await apply(delta)
