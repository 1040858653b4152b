"""A TCP proxy in front of the simulator that breaks the network on a schedule.

`OutageProxy` listens on its own port and forwards every connection (WebSocket and REST alike)
to the simulator's. Every `cut_every` seconds it cuts every open connection (TCP reset, no
closing handshake: what a dropped NAT entry or a restarted load balancer does), and every
`freeze_every` seconds it freezes all traffic for `freeze_seconds`: connections stay open and
new ones are accepted, but not a byte moves either way until the freeze ends (a link that went
dark; longer than the client's stale limit, it must notice the silence on its own). `calm()`
ends both. Counters: `connections`, `cuts` (connections cut), `freezes`.

    streamer simulate --outages cut_every=11,freeze_every=35,freeze_seconds=20
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, fields
from typing import Self

log = logging.getLogger(__name__)

CHUNK = 256 * 1024


@dataclass(frozen=True, slots=True)
class OutagePlan:
    cut_every: float = 0.0  # seconds between cuts of every connection; 0 = never
    freeze_every: float = 0.0  # seconds between the starts of freezes; 0 = never
    freeze_seconds: float = 0.0

    @classmethod
    def parse(cls, text: str) -> OutagePlan:
        """`cut_every=11,freeze_every=35,freeze_seconds=20` -> a plan (unknown names refused)."""
        known = {f.name for f in fields(cls)}
        values: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, sep, raw = part.partition("=")
            if not sep or name not in known:
                raise ValueError(f"unknown outage {part!r}; use name=value with: "
                                 f"{', '.join(sorted(known))}")  # fmt: skip
            values[name] = float(raw)
            if values[name] < 0:
                raise ValueError(f"{name} is seconds, not {raw}")
        plan = cls(**values)
        if plan.freeze_every and not 0 < plan.freeze_seconds < plan.freeze_every:
            raise ValueError("freeze_seconds must be above 0 and below freeze_every")
        return plan


class OutageProxy:
    """`async with OutageProxy(port, plan) as proxy:` forwards 127.0.0.1:`proxy.port` to
    `host`:`port` while the block runs."""

    def __init__(self, port: int, plan: OutagePlan, *, host: str = "127.0.0.1") -> None:
        self.target = (host, port)
        self.plan = plan
        self.connections = 0
        self.cuts = 0
        self.freezes = 0
        self._open: set[asyncio.StreamWriter] = set()
        self._thawed = asyncio.Event()
        self._thawed.set()
        self._server: asyncio.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._pumps: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        """`env` (the simulator's `STREAMER_*` settings) pointed at the proxy instead."""
        direct, proxied = f":{self.target[1]}", f":{self.port}"
        return {key: value.replace(direct, proxied) for key, value in env.items()}

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._handle, self.target[0], 0)
        if self.plan.cut_every:
            self._tasks.append(asyncio.create_task(self._cutting(self.plan.cut_every)))
        if self.plan.freeze_every:
            self._tasks.append(asyncio.create_task(self._freezing()))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.calm()
        assert self._server is not None
        self._server.close()
        self.cut()
        running = [*self._tasks, *self._pumps]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await self._server.wait_closed()

    def calm(self) -> None:
        """No more cuts or freezes (a freeze under way ends now)."""
        for task in self._tasks:
            task.cancel()
        self._thawed.set()

    def cut(self) -> None:
        """Reset every open connection, both sides."""
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _cutting(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            self.cuts += len(self._open) // 2
            log.info("proxy.cut connections=%d", len(self._open) // 2)
            self.cut()

    async def _freezing(self) -> None:
        plan = self.plan
        while True:
            await asyncio.sleep(plan.freeze_every - plan.freeze_seconds)
            self.freezes += 1
            log.info("proxy.freeze seconds=%.1f", plan.freeze_seconds)
            self._thawed.clear()
            try:
                await asyncio.sleep(plan.freeze_seconds)
            finally:
                self._thawed.set()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._open.update((writer, up_writer))
        pumps = [asyncio.create_task(self._pump(reader, up_writer)),
                 asyncio.create_task(self._pump(up_reader, writer))]  # fmt: skip
        self._pumps.update(pumps)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pumps:
                task.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            self._pumps.difference_update(pumps)
            for side in (writer, up_writer):
                self._open.discard(side)
                side.transport.abort()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(CHUNK):
                await self._thawed.wait()  # frozen: the bytes wait here, nothing moves
                if writer.transport.is_closing():
                    return
                writer.write(data)
                await writer.drain()
