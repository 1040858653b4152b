"""The one WebSocket session loop every streaming source uses.

`run_websocket` connects with websockets' reconnecting iterator (`async for ws in connect()`),
which retries failed connection attempts with capped, jittered exponential backoff. After each
connect it calls the source's `on_connect` (to subscribe), then hands every frame to `on_frame`
with its local receive time. A dropped connection is logged and reconnected; so is a silent
one (no frame for `stale_after` seconds, even if pings are answered: the watchdog). Only a
refusal that retrying cannot fix (HTTP 451 from Binance, say) ends the loop, as a
`SourceError`. The time from a drop to the next frame is kept in `FeedStats.recovery_ms`.
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
from streamer.retry import Sleep, backoff_delay
from streamer.sources.base import Clock, FeedStats

log = logging.getLogger(__name__)

OnConnect = Callable[[ClientConnection], Awaitable[None]]
OnFrame = Callable[[str | bytes, Millis], Awaitable[None]]

STABLE_SESSION_MS = 30_000
"""A session that lasted this long resets the reconnect backoff."""


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
    stale_after: float = 30.0,
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
    lost_at: Millis | None = None  # when the last session ended (for the recovery time)
    async for ws in connect(
        url,
        max_size=max_size,
        max_queue=64,
        compression=None,
        open_timeout=15,
        ping_interval=20,
        ping_timeout=60,
        close_timeout=2,
        process_exception=_classify(source, setting),
    ):
        stats.connects += 1
        opened = clock()
        log.info("ws.connected source=%s url=%.120s connects=%d", source, url, stats.connects)
        last_frame = opened
        try:
            await on_connect(ws)
            while True:
                try:
                    async with asyncio.timeout(stale_after):
                        raw = await ws.recv()
                except TimeoutError:
                    # The common failure: pings still answered, but no data. Start over.
                    stats.stalls += 1
                    lost_at = last_frame  # the feed has been down since its last frame
                    log.warning("ws.stale source=%s silent_seconds=%g (reconnecting)",
                                source, stale_after)  # fmt: skip
                    await ws.close(1000, "no data")
                    break
                now = last_frame = clock()
                if lost_at is not None:
                    stats.recovered(now - lost_at)
                    lost_at = None
                await on_frame(raw, now)
        except ConnectionClosed as exc:
            frame, side = (exc.rcvd, "venue") if exc.rcvd else (exc.sent, "client")
            log.warning(
                "ws.disconnected source=%s closed_by=%s code=%s reason=%r",
                source,
                side,
                frame.code if frame else None,
                frame.reason if frame else "",
            )
        finally:
            # Whatever ended the session (a stop, a cancelled task, a bug in a handler), the
            # connection goes with it; websockets' iterator does not close it on its own.
            await ws.close()
        if lost_at is None:
            lost_at = clock()
        short_sessions = short_sessions + 1 if clock() - opened < STABLE_SESSION_MS else 0
        if short_sessions:
            delay = backoff_delay(short_sessions - 1, rng)
            log.info("ws.reconnect_backoff source=%s seconds=%.2f", source, delay)
            await sleep(delay)
