"""Test doubles for source tests: a real local WebSocket venue and a collecting `emit`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from streamer.records import Item

Handler = Callable[[ServerConnection], Awaitable[None]]


@contextlib.asynccontextmanager
async def venue(handler: Handler, **kwargs: Any) -> AsyncIterator[str]:
    """A WebSocket server on 127.0.0.1, port 0; yields its ws:// URL."""
    async with serve(handler, "127.0.0.1", 0, **kwargs) as server:
        port: int = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


class Collector:
    """The pipeline's side of `emit`: keeps every item and wakes waiters."""

    def __init__(self) -> None:
        self.items: list[Item] = []
        self.changed = asyncio.Condition()

    async def emit(self, items: Sequence[Item]) -> None:
        async with self.changed:
            self.items.extend(items)
            self.changed.notify_all()

    async def wait_for(self, predicate: Callable[[list[Item]], bool], seconds: float = 10) -> None:
        async with asyncio.timeout(seconds), self.changed:
            await self.changed.wait_for(lambda: predicate(self.items))
