"""Kraken closed candles without holes: what closed while the connections were cut, or before
a restarted client connected, is fetched from `/0/public/OHLC` once, equal to the simulator's
truth and with the stream's record ids; a doc-shaped `OHLC` answer parses like the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

from streamer.checkpoints import Checkpoint
from streamer.records import Candle, Item, Millis, Reject, Trade
from streamer.simulator import Simulator, SimulatorConfig
from streamer.venues.kraken.rest import KrakenRest, parse_ohlc
from streamer.venues.kraken.settings import KrakenSettings
from streamer.venues.kraken.simulator import Kraken
from streamer.venues.kraken.source import KrakenSource
from tests.venues.kraken.test_kraken_source import rest, running
from tests.wsserver import Collector, venue

NAME = "kraken"
SYMBOL = "BTC-USD"
MINUTE = 60_000


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
async def simulated(
    clock: ShiftedClock,
) -> AsyncIterator[tuple[Simulator, Kraken, KrakenSettings]]:
    config = SimulatorConfig(port=0, rate=100, symbols={NAME: (SYMBOL,)})
    async with Simulator(config, clock=clock) as sim:
        kraken = sim.venues[NAME]
        assert isinstance(kraken, Kraken)
        env = sim.environment()
        yield sim, kraken, KrakenSettings(symbols=(SYMBOL,), ws_url=env["STREAMER_KRAKEN_WS_URL"],
                                          rest_url=env["STREAMER_KRAKEN_REST_URL"],
                                          book_updates=False)  # fmt: skip


def closed(kraken: Kraken) -> list[int]:
    return [c.open_time for c in kraken.markets[SYMBOL].closed[MINUTE]]


def assert_true_and_once(sim: Simulator, got: list[Candle], first: int) -> None:
    times = [c.open_time for c in got]
    assert times == list(range(first, times[-1] + MINUTE, MINUTE))  # every minute, each once
    for c in got:
        truth = sim.truth.candles[(NAME, SYMBOL, "1m", c.open_time)]
        values = (c.open, c.high, c.low, c.close, c.volume)
        assert tuple(map(Decimal, values)) == tuple(map(Decimal, truth))  # REST pads prices
        assert c.is_closed and c.record_id == Candle(*c).record_id


async def test_candles_closed_during_a_cut_are_fetched_once_after_the_reconnect() -> None:
    clock = ShiftedClock()
    async with simulated(clock) as (sim, kraken, settings):
        source = KrakenSource(settings, clock=clock)
        collector = Collector()
        async with running(source, collector):
            await collector.wait_for(lambda items: any(type(i) is Trade for i in items))
            clock.shift += MINUTE  # the open minute closes, and the next one begins
            await collector.wait_for(lambda items: bool(candles(items)), 30)
            first = candles(collector.items)[0].open_time
            assert kraken.cut(hold_trades=60) >= 1  # no way back for 60 trades
            clock.shift += 3 * MINUTE  # three minutes close while the client is away
            await until(lambda: len(closed(kraken)) >= 4)
            last = closed(kraken)[-1]
            await collector.wait_for(lambda items: candles(items)[-1].open_time >= last, 30)
            await until(lambda: source.backfill.pending == 0)
    got = candles(collector.items)
    assert_true_and_once(sim, got, first)
    assert got[0].origin == "ws" and "rest" in {c.origin for c in got}
    assert source.stats.backfilled == sum(c.origin == "rest" for c in got) >= 1
    assert sim.breaches.counts == {}  # within the public REST calls' limit


async def test_a_restarted_client_fetches_what_closed_since_its_checkpoint() -> None:
    clock = ShiftedClock()
    async with simulated(clock) as (sim, kraken, settings):
        clock.shift += 4 * MINUTE
        await until(lambda: len(closed(kraken)) >= 4)
        before = closed(kraken)
        source = KrakenSource(settings, clock=clock)
        saved = Checkpoint(NAME, SYMBOL, candle_open_time=before[0] - MINUTE)
        source.resume({SYMBOL: saved}, 3600.0)  # the process before wrote up to that minute
        collector = Collector()
        async with running(source, collector):
            await collector.wait_for(lambda items: len(candles(items)) >= len(before), 30)
            await until(lambda: source.backfill.pending == 0)
        position = {c.symbol: c.candle_open_time for c in source.checkpoints()}
    got = candles(collector.items)
    assert position[SYMBOL] is not None and position[SYMBOL] >= got[len(before) - 1].open_time
    assert_true_and_once(sim, got, before[0])
    # the ohlc snapshot repeats the last two closed minutes: the rest came from REST, once
    assert {c.origin for c in got[:2]} == {"rest"}
    assert source.stats.backfilled == sum(c.origin == "rest" for c in got)


DOC_ROWS = [
    [1700000000, "37000.0", "37500.0", "36800.0", "37200.0", "37100.0", "150.5", 320],
    [1700000060, "37200.0", "37300.0", "37150.0", "37250.0", "37220.0", "12.25", 41],
    [1700000120, "37250.0", "37260.0", "37240.0", "37255.0", "37251.0", "0.5", 3],  # still open
]


def test_an_ohlc_answer_parses_like_the_stream_without_its_open_minute() -> None:
    body = {"error": [], "result": {"XXBTZUSD": DOC_ROWS, "last": 1700000060}}
    got = parse_ohlc(json.dumps(body), SYMBOL, 1, Millis(1700000200000))
    assert [type(c) for c in got] == [Candle, Candle]
    c = got[0]
    assert isinstance(c, Candle)
    assert (c.open_time, c.close_time, c.interval) == (1_700_000_000_000, 1_700_000_059_999, "1m")
    assert (c.open, c.high, c.low, c.close, c.volume) == ("37000.0", "37500.0", "36800.0",
                                                          "37200.0", "150.5")  # fmt: skip
    assert (c.trade_count, c.is_closed, c.origin) == (320, True, "rest")
    assert c.record_id == Candle(*c._replace(origin="ws", event_time=Millis(0))).record_id
    bad = parse_ohlc('{"error": ["EQuery:Unknown asset pair"]}', SYMBOL, 1, Millis(0))
    assert [type(i) for i in bad] == [Reject]


async def test_candles_asks_from_the_minute_before_and_keeps_the_range() -> None:
    asked: list[str] = []

    def answer(query: dict[str, list[str]]) -> Any:
        return {"error": [], "result": {"XXBTZUSD": DOC_ROWS, "last": 1700000060}}

    async def handler(ws: Any) -> None:
        await ws.wait_closed()

    process = rest({"/0/public/OHLC": answer}, asked)
    async with venue(handler, process_request=process) as url:
        client = KrakenRest(url.replace("ws", "http"), clock=lambda: Millis(0))
        async with client:
            got = await client.candles(SYMBOL, "XBTUSD", 1, 1_700_000_060_000, 1_700_000_060_000)
    assert asked == ["/0/public/OHLC?pair=XBTUSD&interval=1&since=1700000000"]
    assert [c.open_time for c in got if type(c) is Candle] == [1_700_000_060_000]
