"""The one WebSocket session loop every streaming source uses.

`run_websocket` connects (`transport.open_connection`: picows underneath), calls the source's
`on_connect` (to subscribe), then hands `on_frames` the payloads of each socket read at once,
with their local receive time. A dropped connection is logged and reconnected; so is a silent
one (no data for `stale_after` seconds, even if pings are answered: the transport's stale
timer). Failed attempts and sessions that end quickly back off with `retry.backoff_delay`, so a
broken feed never becomes a tight reconnect loop. Only a refusal that retrying cannot fix (HTTP
451 from a venue that refuses the location, say) ends the loop, as a `SourceError`. The time
from a drop to the next frame is kept in `FeedStats.recovery_ms`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from streamer.errors import RestrictedLocation, SourceError
from streamer.logsafe import shown
from streamer.records import Millis
from streamer.retry import Sleep, backoff_delay
from streamer.sources.attempts import AttemptWindow
from streamer.sources.base import Clock, FeedStats
from streamer.sources.transport import (
    CONNECT_ERRORS,
    ConnectionEnded,
    HandshakeRefused,
    WsConnection,
    open_connection,
)

log = logging.getLogger(__name__)

OnConnect = Callable[[WsConnection], Awaitable[None]]
OnFrames = Callable[[list[bytes], Millis], Awaitable[None]]

STABLE_SESSION_MS = 30_000
"""A session that lasted this long resets the reconnect backoff."""
OPEN_TIMEOUT_SECONDS = 15.0
FRAMES_PER_CALL = 1000
"""A read can hold tens of thousands of frames (picows grows its buffer under a flood): the
source gets them in slices, so the pipeline's row bound holds back the rows, not a read's worth."""


def refusal(source: str, setting: str, status: int, elsewhere: str = "") -> SourceError | None:
    """The error that ends a source for a handshake refused with `status`; None: retry.
    `elsewhere` names what to use instead when the venue refuses the location (451)."""
    if status == 451:
        return RestrictedLocation(
            f"{source}: the venue answered HTTP 451 (unavailable from a restricted "
            f"location). Set {setting} to a venue you may use"
            + (f", e.g. {elsewhere}" if elsewhere else "")
        )
    if status in (401, 403, 404):
        return SourceError(f"{source}: the venue answered HTTP {status}; check {setting}")
    return None


async def run_websocket(
    url: str | Callable[[], str],
    *,
    source: str,
    setting: str,
    on_connect: OnConnect,
    on_frames: OnFrames,
    stats: FeedStats,
    clock: Clock,
    max_size: int = 4 * 1024 * 1024,
    stale_after: float = 30.0,
    sleep: Sleep = asyncio.sleep,
    rng: random.Random | None = None,
    attempts: AttemptWindow | None = None,
    elsewhere: str = "",
) -> None:
    """Stream frames from `url` forever, reconnecting after every drop.

    `attempts`, shared by a venue's connections, keeps their connection attempts within the
    venue's limit (a mass reconnect is spread out rather than refused). `url` may be a function,
    asked before every attempt (a connection whose streams change while it runs).
    """
    link = object()  # this loop's key in the feed's connection time (`quality`)
    stats.quality.link(link, False)
    try:
        await _reconnect(
            url,
            source,
            setting,
            on_connect,
            on_frames,
            stats,
            clock,
            max_size,
            stale_after,
            sleep,
            rng or random.Random(),
            attempts,
            elsewhere,
            link,
        )
    finally:
        stats.quality.unlink(link)


async def _reconnect(
    url: str | Callable[[], str],
    source: str,
    setting: str,
    on_connect: OnConnect,
    on_frames: OnFrames,
    stats: FeedStats,
    clock: Clock,
    max_size: int,
    stale_after: float,
    sleep: Sleep,
    rng: random.Random,
    attempts: AttemptWindow | None,
    elsewhere: str,
    link: object,
) -> None:
    loop = asyncio.get_running_loop()
    failures = 0  # failed attempts and short sessions in a row
    lost_at: Millis | None = None  # when the last session ended (for the recovery time)
    while True:
        if attempts is not None:
            wait = attempts.reserve(loop.time())
            if wait > 0:
                log.info("ws.attempts_paced source=%s seconds=%.2f", source, wait)
                await sleep(wait)
        target = url() if callable(url) else url
        try:
            conn = await open_connection(
                target,
                max_size=max_size,
                open_timeout=OPEN_TIMEOUT_SECONDS,
                stale_after=stale_after,
            )
        except HandshakeRefused as exc:
            fatal = refusal(source, setting, exc.status, elsewhere)
            if fatal is not None:
                raise fatal from None
            log.warning("ws.connect_failed source=%s error=%s", source, shown(exc))
        except CONNECT_ERRORS as exc:
            log.warning("ws.connect_failed source=%s error=%s", source, shown(exc))
        else:
            opened = clock()
            stats.quality.link(link, True)
            try:
                lost_at = await _session(
                    conn, target, source, on_connect, on_frames, stats, clock, lost_at
                )
            finally:
                stats.quality.link(link, False)
            if clock() - opened >= STABLE_SESSION_MS:
                failures = 0
                continue
        delay = backoff_delay(failures, rng)
        failures += 1
        log.info("ws.reconnect_backoff source=%s seconds=%.2f", source, delay)
        await sleep(delay)


async def _session(
    conn: WsConnection,
    url: str,
    source: str,
    on_connect: OnConnect,
    on_frames: OnFrames,
    stats: FeedStats,
    clock: Clock,
    lost_at: Millis | None,
) -> Millis:
    """One connection from subscribe to close; returns when the feed went down."""
    stats.connects += 1
    last_frame = clock()
    log.info("ws.connected source=%s url=%.120s connects=%d", source, url, stats.connects)
    try:
        await on_connect(conn)
        while True:
            payloads = await conn.read()
            now = last_frame = clock()
            if lost_at is not None:
                stats.recovered(now - lost_at)
                lost_at = None
            if len(payloads) <= FRAMES_PER_CALL:
                await on_frames(payloads, now)
                continue
            for start in range(0, len(payloads), FRAMES_PER_CALL):
                await on_frames(payloads[start : start + FRAMES_PER_CALL], now)
    except ConnectionEnded:
        if conn.stale:
            # The common failure: pings still answered, but no data. Start over.
            stats.stalls += 1
            log.warning("ws.stale source=%s (no data; reconnecting)", source)
            return last_frame  # the feed has been down since its last frame
        log.warning(
            "ws.disconnected source=%s closed_by=%s code=%s reason=%s",
            source, conn.closed_by, conn.close_code, shown(conn.close_reason),
        )  # fmt: skip
    finally:
        # Whatever ended the session (a stop, a cancelled task, a bug in a handler), the
        # connection goes with it.
        await conn.close()
    return lost_at if lost_at is not None else clock()
