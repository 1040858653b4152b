"""The health signal: is every feed delivering, and can the sink deliver or store its rows?
Served as `GET /health` on STREAMER_HEALTH_PORT.

`assess` (pure) turns each source's last-frame time into a state: `starting` (no frame yet,
within the grace period), `fresh`, `stale` (nothing for longer than its limit) or `failed`
(the source stopped for good). `assess_sink` turns the sink's `failing_since` into `ok`,
`failing` or `stuck` (rows neither delivered nor stored for longer than
STREAMER_UNDELIVERED_SECONDS). The service is healthy when no feed is stale or failed and the
sink is not stuck; the
container health check (`streamer health`) exits 1 otherwise, and ECS replaces the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

log = logging.getLogger(__name__)

GRACE_MS = 120_000  # a feed may take this long to send its first frame after the start


@dataclass(frozen=True, slots=True)
class FeedHealth:
    name: str
    state: str  # starting, fresh, stale or failed
    age_seconds: float | None  # since the last frame (None: no frame yet)
    limit_seconds: float
    detail: str = ""


def assess(
    last_frames: Mapping[str, int | None],
    limits: Mapping[str, float],
    failed: Mapping[str, str],
    started_at: int,
    now: int,
) -> list[FeedHealth]:
    """The state of each feed at `now` (epoch ms)."""
    out = []
    for name, last in last_frames.items():
        limit = limits[name]
        age = None if last is None else max(0.0, (now - last) / 1000)
        if name in failed:
            out.append(FeedHealth(name, "failed", age, limit, failed[name]))
        elif last is None:
            state = "starting" if now - started_at <= max(GRACE_MS, limit * 1000) else "stale"
            out.append(FeedHealth(name, state, None, limit))
        else:
            out.append(FeedHealth(name, "fresh" if age is not None and age <= limit else "stale",
                                  age, limit))  # fmt: skip
    return out


@dataclass(frozen=True, slots=True)
class SinkHealth:
    """Can rows be delivered or stored? `failing` for longer than the limit is unhealthy."""

    state: str  # ok, failing (within the limit) or stuck
    failing_seconds: float
    limit_seconds: float


def assess_sink(failing_since: int | None, limit_seconds: float, now: int) -> SinkHealth:
    if failing_since is None:
        return SinkHealth("ok", 0.0, limit_seconds)
    seconds = max(0.0, (now - failing_since) / 1000)
    return SinkHealth("stuck" if seconds > limit_seconds else "failing", seconds, limit_seconds)


def healthy(feeds: list[FeedHealth], sink: SinkHealth | None = None) -> bool:
    return all(f.state in ("fresh", "starting") for f in feeds) and (
        sink is None or sink.state != "stuck"
    )


def report(
    feeds: list[FeedHealth],
    extra: Mapping[str, Any] | None = None,
    sink: SinkHealth | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "ok" if healthy(feeds, sink) else "unhealthy",
        "feeds": {
            f.name: {
                "state": f.state,
                "age_seconds": None if f.age_seconds is None else round(f.age_seconds, 1),
                "limit_seconds": f.limit_seconds,
                **({"detail": f.detail} if f.detail else {}),
            }
            for f in feeds
        },
    }
    if sink is not None:
        body["storage"] = {
            "state": sink.state,
            "failing_seconds": round(sink.failing_seconds, 1),
            "limit_seconds": sink.limit_seconds,
        }
    if extra:
        body.update(extra)
    return body


class StateLog:
    """Logs each feed's state changes (fresh -> stale -> fresh ...)."""

    def __init__(self) -> None:
        self._last: dict[str, str] = {}

    def update(self, feeds: list[FeedHealth]) -> None:
        for feed in feeds:
            before = self._last.get(feed.name)
            if before == feed.state:
                continue
            self._last[feed.name] = feed.state
            level = logging.WARNING if feed.state in ("stale", "failed") else logging.INFO
            log.log(
                level,
                "feed.state source=%s state=%s was=%s age=%s limit=%g",
                feed.name,
                feed.state,
                before,
                feed.age_seconds,
                feed.limit_seconds,
            )

    def update_sink(self, sink: SinkHealth) -> None:
        before = self._last.get("<sink>")
        if before == sink.state or (before is None and sink.state == "ok"):
            self._last["<sink>"] = sink.state
            return
        self._last["<sink>"] = sink.state
        level = logging.ERROR if sink.state == "stuck" else logging.INFO
        log.log(
            level,
            "sink.state state=%s was=%s failing_seconds=%.0f limit=%g%s",
            sink.state,
            before,
            sink.failing_seconds,
            sink.limit_seconds,
            " (unhealthy: the container is replaced)" if sink.state == "stuck" else "",
        )


REQUEST_LINE_LIMIT = 4096
"""Bytes of one request or header line the endpoint reads (the reader's buffer limit)."""
HEADER_LINES_LIMIT = 32
"""Header lines the endpoint reads; a request with more is answered 431."""
REQUEST_SECONDS = 5.0
"""Time a client has to send its request."""


async def serve(
    port: int, body: Callable[[], tuple[bool, dict[str, Any]]], host: str = "127.0.0.1"
) -> asyncio.Server:
    """`GET /health` (or `/`) on `host`:`port`: 200 with the report when healthy, 503 when not.

    It reads at most `REQUEST_LINE_LIMIT` bytes a line and `HEADER_LINES_LIMIT` header lines
    within `REQUEST_SECONDS`; a longer request is answered 431 and closed.
    """

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(REQUEST_SECONDS):
                request = await _read_request(reader)
            parts = [] if request is None else request.split()
            if request is None:
                status, payload = 431, {"error": "request too large"}
            elif len(parts) < 2 or parts[0] != b"GET":
                status, payload = 405, {"error": "only GET /health"}
            elif parts[1].split(b"?")[0] not in (b"/health", b"/"):
                status, payload = 404, {"error": "see /health"}
            else:
                ok, payload = body()
                status = 200 if ok else 503
            data = orjson.dumps(payload)
            reason = {
                200: "OK",
                404: "Not Found",
                405: "Method Not Allowed",
                431: "Request Header Fields Too Large",
            }.get(status, "Service Unavailable")
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
                + data
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    return await asyncio.start_server(handle, host, port, limit=REQUEST_LINE_LIMIT)


async def _read_request(reader: asyncio.StreamReader) -> bytes | None:
    """The request line, the headers read and dropped; None when a line is longer than the
    reader's limit or there are more than `HEADER_LINES_LIMIT` headers."""
    try:
        request = await reader.readline()
        for _ in range(HEADER_LINES_LIMIT + 1):
            if await reader.readline() in (b"\r\n", b"\n", b""):
                return request
    except ValueError:  # a line over the limit (the reader dropped what it had buffered)
        return None
    return None


def probe(port: int, timeout: float = 3.0, host: str = "127.0.0.1") -> tuple[int, str]:
    """GET the health endpoint the service serves on `host` (loopback when it listens on every
    address), as `streamer health` does; returns (status, body)."""
    import urllib.error
    import urllib.request

    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (urllib.error.URLError, OSError) as exc:
        return 0, f"no answer from {url}: {exc}"
