"""The one session loop: refused handshakes back off with the one policy, then connect; a
refusal retrying cannot fix ends the source naming the setting."""

from __future__ import annotations

import asyncio
import random

import pytest
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from streamer.errors import SourceError
from streamer.records import Millis
from streamer.retry import backoff_delay
from streamer.sources.attempts import AttemptWindow
from streamer.sources.base import FeedStats
from streamer.sources.transport import WsConnection
from streamer.sources.wsconnect import run_websocket
from tests.wsserver import venue


async def nothing(ws: WsConnection) -> None:
    return None


async def test_refused_handshakes_back_off_then_the_feed_connects() -> None:
    attempts = 0

    def refuse_twice(connection: ServerConnection, request: Request) -> Response | None:
        nonlocal attempts
        attempts += 1
        return connection.respond(503, "busy\n") if attempts <= 2 else None

    async def handler(ws: ServerConnection) -> None:
        await ws.send("hello")
        await ws.wait_closed()

    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    got: list[bytes] = []
    done = asyncio.Event()

    async def on_frames(payloads: list[bytes], received_at: Millis) -> None:
        got.extend(payloads)
        done.set()

    stats = FeedStats()
    async with venue(handler, process_request=refuse_twice) as url:
        task = asyncio.create_task(
            run_websocket(
                url,
                source="test",
                setting="STREAMER_X",
                on_connect=nothing,
                on_frames=on_frames,
                stats=stats,
                clock=lambda: Millis(0),
                sleep=sleep,
                rng=random.Random(7),
            )
        )
        async with asyncio.timeout(20):
            await done.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert got == [b"hello"] and stats.connects == 1
    expected = random.Random(7)
    assert delays == [backoff_delay(0, expected), backoff_delay(1, expected)]


@pytest.mark.parametrize("status", [401, 403, 404])
async def test_a_refusal_retrying_cannot_fix_names_the_setting(status: int) -> None:
    def refuse(connection: ServerConnection, request: Request) -> Response:
        return connection.respond(status, "no\n")

    async def handler(ws: ServerConnection) -> None:  # pragma: no cover - never upgraded
        await ws.wait_closed()

    async def on_frames(payloads: list[bytes], received_at: Millis) -> None:
        raise AssertionError("no frame can arrive")  # pragma: no cover

    async with venue(handler, process_request=refuse) as url:
        with pytest.raises(SourceError, match=f"HTTP {status}; check STREAMER_X"):
            async with asyncio.timeout(20):
                await run_websocket(
                    url,
                    source="test",
                    setting="STREAMER_X",
                    on_connect=nothing,
                    on_frames=on_frames,
                    stats=FeedStats(),
                    clock=lambda: Millis(0),
                )


async def test_connection_attempts_stay_within_the_shared_window() -> None:
    """Sessions that end at once reconnect; the third attempt within 10 s waits for the window
    (backoffs here are at most 1 s, so a wait of 9-10 s can only be the window's)."""
    events: list[tuple[str, float]] = []

    async def handler(ws: ServerConnection) -> None:
        events.append(("connect", 0.0))
        await ws.close()

    async def sleep(seconds: float) -> None:
        events.append(("sleep", seconds))

    async def on_frames(payloads: list[bytes], received_at: Millis) -> None:
        return None

    stats = FeedStats()
    window = AttemptWindow(limit=2, seconds=10.0)
    async with venue(handler) as url:
        task = asyncio.create_task(
            run_websocket(
                url,
                source="test",
                setting="X",
                on_connect=nothing,
                on_frames=on_frames,
                stats=stats,
                clock=lambda: Millis(0),
                sleep=sleep,
                rng=random.Random(1),
                attempts=window,
            )
        )
        async with asyncio.timeout(20):
            while stats.connects < 3:
                await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    connects = [i for i, (kind, _) in enumerate(events) if kind == "connect"]
    before_second = [w for kind, w in events[: connects[1]] if kind == "sleep"]
    before_third = [w for kind, w in events[connects[1] : connects[2]] if kind == "sleep"]
    assert all(w <= 1.0 for w in before_second)
    assert [w for w in before_third if w > 1.0] == [pytest.approx(10.0, abs=1.0)]
