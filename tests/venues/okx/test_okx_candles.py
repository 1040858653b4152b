"""OKX closed candles without holes: what closed while the `/business` connection was cut, or
before a restarted client connected, is fetched from `market/history-candles` once, with the
simulator's truth and the stream's record ids; a doc-shaped REST answer parses like the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from streamer.checkpoints import Checkpoint
from streamer.records import Candle, Item, Millis, Reject, Trade
from streamer.simulator import Simulator, SimulatorConfig
from streamer.venues.okx.rest import OkxRest
from streamer.venues.okx.settings import OkxSettings
from streamer.venues.okx.simulator import Okx, OkxSimOptions
from streamer.venues.okx.source import OkxSource
from tests.venues.okx.test_okx_source import quick, rest, running, settings
from tests.wsserver import Collector, venue

NAME = "okx"
SYMBOL = "BTC-USDT"
MINUTE = 60_000
T0 = 1_764_000_000_000  # a minute's start


class ShiftedClock:
    """Epoch milliseconds, plus a shift the test moves (minutes close at once)."""

    def __init__(self) -> None:
        self.shift = 0

    def __call__(self) -> Millis:
        return Millis(time.time_ns() // 1_000_000 + self.shift)


def candles(items: list[Item]) -> list[Candle]:
    return sorted((i for i in items if type(i) is Candle), key=lambda c: c.open_time)


async def until(done: Callable[[], bool]) -> None:
    async with asyncio.timeout(30):
        while not done():
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def simulated(clock: ShiftedClock) -> AsyncIterator[tuple[Simulator, Okx, OkxSettings]]:
    options = OkxSimOptions(break_probability=0.0)
    config = SimulatorConfig(port=0, rate=100, symbols={NAME: (SYMBOL,)},
                             options={NAME: options})  # fmt: skip
    async with Simulator(config, clock=clock) as sim:
        okx = sim.venues[NAME]
        assert isinstance(okx, Okx)
        env = sim.environment()
        yield sim, okx, OkxSettings(symbols=(SYMBOL,), ws_url=env["STREAMER_OKX_WS_URL"],
                                    rest_url=env["STREAMER_OKX_REST_URL"],
                                    book_updates=False)  # fmt: skip


def closed(okx: Okx) -> list[int]:
    return [c.open_time for c in okx.markets[SYMBOL].closed[MINUTE]]


def assert_true_and_once(sim: Simulator, got: list[Candle], first: int, last: int) -> None:
    times = [c.open_time for c in got]
    assert times == list(range(first, last + MINUTE, MINUTE))  # every minute, each once
    for c in got:
        truth = sim.truth.candles[(NAME, SYMBOL, "1m", c.open_time)]
        assert (c.open, c.high, c.low, c.close, c.volume) == truth
        assert c.is_closed and c.record_id == Candle(*c).record_id


async def test_candles_closed_during_a_cut_are_fetched_once_after_the_reconnect() -> None:
    clock = ShiftedClock()
    async with simulated(clock) as (sim, okx, okx_settings):
        source = OkxSource(okx_settings, clock=clock)
        collector = Collector()
        async with running(source, collector):
            await collector.wait_for(lambda items: any(type(i) is Trade for i in items))
            clock.shift += MINUTE  # the open minute closes on the simulator's next tick
            await collector.wait_for(lambda items: bool(candles(items)))
            first = candles(collector.items)[0].open_time
            url = source.url
            source.url = lambda planned: "ws://127.0.0.1:1"  # type: ignore[method-assign]
            assert okx.disconnect("business") == 1  # and no way back for now
            clock.shift += 3 * MINUTE  # three minutes close while the client is away
            await until(lambda: len(closed(okx)) >= 4)
            source.url = url  # type: ignore[method-assign]
            last = closed(okx)[-1]
            await collector.wait_for(lambda items: candles(items)[-1].open_time >= last, 30)
            await until(lambda: source.backfill.pending == 0)
    got = candles(collector.items)
    assert_true_and_once(sim, got, first, got[-1].open_time)
    assert got[0].origin == "ws" and {c.origin for c in got[1:4]} == {"rest"}
    assert source.stats.backfilled == sum(c.origin == "rest" for c in got) >= 3
    assert sim.breaches.counts == {}  # within history-candles' 20 per 2 s


async def test_a_restarted_client_fetches_what_closed_since_its_checkpoint() -> None:
    clock = ShiftedClock()
    async with simulated(clock) as (sim, okx, okx_settings):
        clock.shift += 3 * MINUTE
        await until(lambda: len(closed(okx)) >= 3)
        before = closed(okx)
        source = OkxSource(okx_settings, clock=clock, sleep=quick)
        saved = Checkpoint(NAME, SYMBOL, candle_open_time=before[0] - MINUTE)
        source.resume({SYMBOL: saved}, 3600.0)  # the process before wrote up to that minute
        collector = Collector()
        async with running(source, collector):
            await collector.wait_for(lambda items: len(candles(items)) >= len(before))
            await until(lambda: source.backfill.pending == 0)
        position = {c.symbol: c.candle_open_time for c in source.checkpoints()}
    got = candles(collector.items)
    assert position[SYMBOL] is not None and position[SYMBOL] >= got[len(before) - 1].open_time
    assert_true_and_once(sim, got, before[0], got[-1].open_time)
    assert {c.origin for c in got[: len(before)]} == {"rest"}


def answer(query: dict[str, list[str]]) -> dict[str, Any]:
    """`history-candles` as OKX documents it: newest first, the open minute `confirm` 0."""
    if query["instId"] != [SYMBOL]:
        return {"code": "51001", "msg": "Instrument ID does not exist", "data": []}
    after, before = int(query["after"][0]), int(query["before"][0])
    assert query["bar"] == ["1m"] and query["limit"] == ["100"]
    minutes = [t for t in range(T0, T0 + 250 * MINUTE, MINUTE) if before < t < after][-100:]
    still_open = T0 + 249 * MINUTE
    data = [[str(t), "100.1", "101", "99.9", f"{100 + (t - T0) // MINUTE}.5", "3", "300.3",
             "300.3", "0" if t == still_open else "1"] for t in reversed(minutes)]  # fmt: skip
    return {"code": "0", "msg": "", "data": data}


async def test_history_candles_are_paged_back_and_parse_like_the_stream() -> None:
    asked: list[str] = []

    async def handler(ws: Any) -> None:
        await ws.wait_closed()

    process = rest({"/api/v5/market/history-candles": answer}, asked)
    async with venue(handler, process_request=process) as url:
        base = settings(url, (SYMBOL,)).rest_url
        async with OkxRest(base, clock=lambda: Millis(T0)) as client:
            got = await client.candles(SYMBOL, SYMBOL, T0 + 10 * MINUTE, T0 + 249 * MINUTE)
            assert len(asked) == 3  # 100 + 100 + 39 candles, going back
            bad = await client.candles("ETH-USDT", "ETH-USDT", T0, T0)  # an error answer
    assert all(type(c) is Candle for c in got)
    times = sorted(c.open_time for c in got)  # type: ignore[union-attr]
    assert times == list(range(T0 + 10 * MINUTE, T0 + 249 * MINUTE, MINUTE))  # open one left
    c = next(c for c in got if type(c) is Candle and c.open_time == T0 + 12 * MINUTE)
    assert (c.close, c.volume, c.quote_volume, c.origin) == ("112.5", "3", "300.3", "rest")
    assert c.record_id == Candle(*c._replace(origin="ws")).record_id
    assert [type(i) for i in bad] == [Reject]  # kept as a reject; the fetch ends there
    assert "51001" in bad[0].reason  # type: ignore[union-attr]
