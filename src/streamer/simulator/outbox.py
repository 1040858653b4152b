"""Each client connection's bounded send queue, and the sender that drains it (with faults).

A venue pushes frames into a connection's `Outbox` without waiting; its market driver waits
for `Outbox.space` before the next step, so a slow client slows the market instead of growing
memory. An outbox given an `overflow` (the simulator's `keep_trading`) never makes the driver
wait: at its limit it drops its frames, accepts no more and calls `overflow` (which cuts the
client), so the market trades on whatever the client does. `FaultSender.run` moves frames from
the outbox to the socket, injecting the faults of the plan (see `faults.py`) on the way.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from websockets.asyncio.server import ServerConnection

from streamer.simulator.faults import OVERSIZED_BYTES, FaultDice

OUTBOX_LIMIT = 2000  # frames queued for one connection before its market driver waits


class Numbered(Protocol):
    """A frame that carries the connection's frame number (Coinbase's `sequence_num`), so its
    text is made only when it is sent."""

    def render(self, sequence: int) -> str: ...


Frame = str | Numbered


class Outbox:
    """A per-connection queue that never blocks the producer for one item, but lets it wait
    until the connection has drained below `limit`; or, with `overflow`, closes at `limit`
    and calls it."""

    def __init__(
        self, limit: int = OUTBOX_LIMIT, overflow: Callable[[], None] | None = None
    ) -> None:
        self.items: collections.deque[Frame] = collections.deque()
        self.ready = asyncio.Event()
        self.space = asyncio.Event()
        self.space.set()
        self.closed = False
        self.limit = limit
        self.overflow = overflow

    def push(self, item: Frame) -> None:
        if self.closed:
            return
        self.items.append(item)
        self.ready.set()
        if len(self.items) >= self.limit:
            if self.overflow is None:
                self.space.clear()
            else:
                self.close()
                self.overflow()

    def close(self) -> None:
        """The connection is gone: release anyone waiting for space, accept nothing more."""
        self.closed = True
        self.items.clear()
        self.space.set()

    async def pop_all(self) -> list[Frame]:
        await self.ready.wait()
        items = list(self.items)
        self.items.clear()
        self.ready.clear()
        self.space.set()
        return items


@dataclass(eq=False)
class Connection:
    """One client's WebSocket connection, as every venue sees it."""

    ws: ServerConnection
    number: int  # connection number, from 1
    opened: float  # loop time
    outbox: Outbox = field(default_factory=Outbox)
    sequence: int = 0  # the next `Numbered` frame's number
    silent_until: float = 0.0  # loop time; a stalled connection sends nothing before it


def fan_out(conns: Iterable[Connection], make: Callable[[], Frame]) -> None:
    """Push one frame to each of `conns`, building it only if there is anyone to get it."""
    frame: Frame | None = None
    for conn in conns:
        if frame is None:
            frame = make()
        conn.outbox.push(frame)


class FaultSender:
    """Sends each connection's frames, with the faults the dice choose."""

    def __init__(self, dice: FaultDice) -> None:
        self.dice = dice

    async def run(self, conn: Connection) -> None:
        """Send until cancelled or the connection closes."""
        loop = asyncio.get_running_loop()
        faults = self.dice.plan.active
        held: str | None = None  # a frame held back to be sent after the next (reorder)
        while True:
            for item in await conn.outbox.pop_all():
                if isinstance(item, str):
                    text = item
                else:
                    if faults and self.dice.roll("gap"):
                        conn.sequence += 1  # the frame is lost: the client sees a gap
                        continue
                    text = item.render(conn.sequence)
                    conn.sequence += 1
                if not faults:
                    await conn.ws.send(text)
                    continue
                now = loop.time()
                if now < conn.silent_until:
                    continue  # stalled: the frame is lost, pings are still answered
                held = await self._send_with_faults(conn, text, held, now)

    async def _send_with_faults(
        self, conn: Connection, text: str, held: str | None, now: float
    ) -> str | None:
        dice, plan = self.dice, self.dice.plan
        if not dice.enabled:
            await conn.ws.send(text)
            return None
        if plan.rotate_seconds and now - conn.opened >= plan.rotate_seconds:
            dice.injected["rotate"] += 1
            await conn.ws.close(1000, "connection lifetime reached")
            return None
        if dice.roll("disconnect"):
            assert conn.ws.transport is not None
            conn.ws.transport.abort()
            return None
        if dice.roll("close"):
            code = dice.rng.choice((1001, 1011))
            await conn.ws.close(code, "injected fault")
            return None
        if dice.roll("stall"):
            conn.silent_until = now + plan.stall_seconds
            return None
        if dice.roll("garbage"):
            await conn.ws.send(dice.garbage(conn.number, now))
        if dice.roll("oversized"):
            await conn.ws.send("x" * OVERSIZED_BYTES)
        if held is None and dice.roll("reorder"):
            return text
        await conn.ws.send(text)
        if held is not None:
            await conn.ws.send(held)
        if dice.roll("duplicate"):
            await conn.ws.send(text)
        return None
