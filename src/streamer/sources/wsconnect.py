"""The one WebSocket session loop every streaming source uses.

`run_websocket` connects with websockets' reconnecting iterator (`async for ws in connect()`),
which retries failed connection attempts with capped, jittered exponential backoff. After each
connect it calls the source's `on_connect` (to subscribe), then hands every frame to `on_frame`
with its local receive time. A dropped connection is logged and reconnected; only a refusal
that retrying cannot fix (HTTP 451 from Binance, say) ends the loop, as a `SourceError`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from streamer.errors import RestrictedLocation, SourceError
from streamer.sources.base import Clock, FeedStats
from streamer.records import Millis

log = logging.getLogger(__name__)

OnConnect = Callable[[ClientConnection], Awaitable[None]]
OnFrame = Callable[[str | bytes, Millis], Awaitable[None]]


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
) -> None:
    """Stream frames from `url` forever, reconnecting after every drop."""
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
        log.info("ws.connected source=%s url=%s connects=%d", source, url, stats.connects)
        try:
            await on_connect(ws)
            async for raw in ws:
                await on_frame(raw, clock())
        except ConnectionClosed as exc:
            log.warning(
                "ws.disconnected source=%s code=%s reason=%r",
                source,
                exc.rcvd.code if exc.rcvd else None,
                exc.rcvd.reason if exc.rcvd else "",
            )
            continue
