"""The one WebSocket session loop every streaming source uses.

`run_websocket` connects with websockets' reconnecting iterator (`async for ws in connect()`),
which retries failed connection attempts with capped, jittered exponential backoff. After each
connect it calls the source's `on_connect` (to subscribe), then hands every frame to `on_frame`
with its local receive time. A dropped connection is logged and reconnected; only a refusal
that retrying cannot fix (HTTP 451 from Binance, say) ends the loop, as a `SourceError`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from streamer.errors import RestrictedLocation, SourceError
from streamer.records import Millis
from streamer.sources.base import Clock, FeedStats

log = logging.getLogger(__name__)

OnConnect = Callable[[ClientConnection], Awaitable[None]]
OnFrame = Callable[[str | bytes, Millis], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]

STABLE_SESSION_MS = 30_000
"""A session that lasted this long resets the reconnect backoff."""
BACKOFF_FIRST = 0.5
BACKOFF_CAP = 30.0


def backoff_delay(failures: int, rng: random.Random) -> float:
    """Capped exponential backoff with full jitter: uniform in [0, min(cap, first * 2^n)]."""
    return rng.uniform(0, min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** min(failures, 16)))


def _classify(source: str, setting: str) -> Callable[[Exception], Exception | None]:
    """websockets' `process_exception`: None means retry, an exception means give up."""

    def process_exception(exc: Exception) -> Exception | None:
        if isinstance(exc, InvalidStatus):
            status = exc.response.status_code
            if status == 451:
                return RestrictedLocation(
                    f"{source}: the venue answered HTTP 451 (unavailable from a restricted "
                    f"location). Set {setting} to a venue you may use, e.g. "
                    "wss://stream.binance.us:9443 with STREAMER_BINANCE_REST_URL="
                    "https://api.binance.us"
                )
            if status in (401, 403, 404):
                return SourceError(f"{source}: the venue answered HTTP {status}; check {setting}")
        log.warning("ws.connect_failed source=%s error=%r", source, exc)
        return None

    return process_exception


async def run_websocket(
    url: str,
    *,
    source: str,
    setting: str,
    on_connect: OnConnect,
    on_frame: OnFrame,
    stats: FeedStats,
    clock: Clock,
    max_size: int = 4 * 1024 * 1024,
    sleep: Sleep = asyncio.sleep,
    rng: random.Random | None = None,
) -> None:
    """Stream frames from `url` forever, reconnecting after every drop.

    websockets' iterator backs off between failed connection attempts; sessions that open and
    then drop quickly (a frame over `max_size`, a venue closing at once) back off here too, so
    a broken feed never turns into a tight reconnect loop.
    """
    rng = rng or random.Random()
    short_sessions = 0
    async for ws in connect(
        url,
        max_size=max_size,
        max_queue=64,
        compression=None,
        open_timeout=15,
        ping_interval=20,
        ping_timeout=60,
        process_exception=_classify(source, setting),
    ):
        stats.connects += 1
        opened = clock()
        log.info("ws.connected source=%s url=%.120s connects=%d", source, url, stats.connects)
        try:
            await on_connect(ws)
            async for raw in ws:
                await on_frame(raw, clock())
        except ConnectionClosed as exc:
            frame, side = (exc.rcvd, "venue") if exc.rcvd else (exc.sent, "client")
            log.warning(
                "ws.disconnected source=%s closed_by=%s code=%s reason=%r",
                source,
                side,
                frame.code if frame else None,
                frame.reason if frame else "",
            )
        short_sessions = short_sessions + 1 if clock() - opened < STABLE_SESSION_MS else 0
        if short_sessions:
            delay = backoff_delay(short_sessions - 1, rng)
            log.info("ws.reconnect_backoff source=%s seconds=%.2f", source, delay)
            await sleep(delay)
