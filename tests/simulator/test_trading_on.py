"""The simulated markets trade on while the client is down (issue 26): with no client connected
the ids keep coming and each venue's REST history serves them; with `keep_trading`, a client
that is connected but stopped reading (a frozen link, a stopped process) is cut instead of
holding the market still."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from streamer.simulator import Simulator
from streamer.simulator.outbox import Outbox
from streamer.venues.binance.sim_wire import stream_prefix
from streamer.venues.binance.simulator import Binance
from tests.simulator.history_cases import (
    CASES,
    DEADLINE,
    Case,
    backfill,
    check_against_truth,
    config,
    trades_made,
)

BINANCE = CASES[0]


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_with_no_client_the_market_trades_on_and_the_history_serves_it(case: Case) -> None:
    async with Simulator(config(case)) as sim:
        before = await trades_made(sim, case, 1)
        ids = await trades_made(sim, case, 600)  # nobody is connected meanwhile
        assert sim.connections == 0
        assert ids == list(range(ids[0], ids[-1] + 1))
        done = await backfill(sim, case, [before[-1], ids[-1]])
    got = [int(t.trade_id) for t in done.trades]
    assert got == list(done.hole) and len(got) >= 599
    assert done.stats.extra["trade_ids_unserved"] == 0
    assert done.stats.extra["trades_backfilled"] == len(got)
    check_against_truth(sim, case, done.trades)


SLOW = {"rate": 2000.0, "markets": {"binance": 250}}  # books of 250 symbols: 2 MB/s to a client


def binance(sim: Simulator) -> Binance:
    venue = sim.venues["binance"]
    assert isinstance(venue, Binance)
    return venue


async def read_for_ever(ws: ClientConnection) -> None:
    async with asyncio.timeout(DEADLINE):
        while True:
            await ws.recv()


async def stop_reading(sim: Simulator) -> ClientConnection:
    """A Binance client that subscribes to every book and to BTC-USDT's trades, then never
    reads (its queue holds one frame: then the socket's buffers fill, then its outbox)."""
    symbols = binance(sim).symbols
    streams = "/".join([*(f"{stream_prefix(s)}@depth20@100ms" for s in symbols), "btcusdt@trade"])
    return await connect(f"ws://127.0.0.1:{sim.port}/stream?streams={streams}", max_queue=1)


async def test_keep_trading_cuts_a_client_that_stopped_reading_and_trades_on() -> None:
    async with Simulator(config(BINANCE, keep_trading=True, slow_client_frames=500, **SLOW)) as sim:
        ws = await stop_reading(sim)
        async with asyncio.timeout(DEADLINE):
            while sim.slow_cuts == 0:  # the socket's buffers full, then 500 frames behind
                await asyncio.sleep(0.02)
        await trades_made(sim, BINANCE, 200)  # after the cut, the market still trades
        assert sim.slow_cuts == 1 and sim.connections == 1
        with pytest.raises(ConnectionClosed):  # what was on the way, then the cut
            await read_for_ever(ws)


async def test_without_keep_trading_a_client_that_stopped_reading_holds_the_market() -> None:
    async with Simulator(config(BINANCE, **SLOW)) as sim:
        ws = await stop_reading(sim)
        async with asyncio.timeout(DEADLINE):
            while all(c.outbox.space.is_set() for c in binance(sim).listeners):
                await asyncio.sleep(0.02)  # until its outbox is full: the driver waits
        trades = sim.sent_trades[("binance", "BTC-USDT")]
        held = len(trades)
        await asyncio.sleep(0.3)  # a negative: nothing to wait for but time
        assert len(trades) == held
        async with asyncio.timeout(DEADLINE):  # reading again lets the market go on
            while len(trades) < held + 100:
                await ws.recv()
        assert sim.slow_cuts == 0
        ws.transport.abort()  # a closing handshake would wait behind megabytes still queued


def test_an_outbox_with_an_overflow_never_makes_the_driver_wait() -> None:
    cut: list[int] = []
    outbox = Outbox(3, lambda: cut.append(len(outbox.items)))
    for n in range(5):
        outbox.push(f"frame {n}")
        assert outbox.space.is_set()
    assert cut == [0] and outbox.closed and not outbox.items  # cut once, its frames dropped
    held = Outbox(3)
    for n in range(3):
        held.push(f"frame {n}")
    assert not held.space.is_set() and len(held.items) == 3  # the default: the driver waits
