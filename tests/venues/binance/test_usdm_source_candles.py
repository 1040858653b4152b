"""Binance USD-M candles and tickers end to end: the simulator's `/market` klines and tickers
become `ohlcv` and `tickers` rows; candles closed during a cut, or skipped by the stream, are
fetched from `/fapi/v1/klines` once, within the REST weight."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

from websockets.asyncio.server import ServerConnection

from streamer.records import Candle, Item, Millis, Ticker
from streamer.simulator import Simulator, SimulatorConfig
from streamer.venues.binance.usdm_client import UsdmRest
from streamer.venues.binance.usdm_settings import UsdmSettings
from streamer.venues.binance.usdm_simulator import UsdmSimOptions
from streamer.venues.binance.usdm_source import UsdmSource
from tests.venues.binance.test_usdm_source import no_wait, rest, running
from tests.wsserver import Collector, venue

SYMBOL = "BTC-USDT-PERP"
MINUTE = 60_000
T0 = 1_764_000_000_000  # a minute's start (2025-11-24 16:00 UTC)


def kline(open_time: int, close: str) -> str:
    k = {"t": open_time, "T": open_time + MINUTE - 1, "s": "BTCUSDT", "i": "1m", "f": 1,
         "L": 2, "o": "100.10", "c": close, "h": "101.00", "l": "99.90", "v": "3.000",
         "n": 2, "x": True, "q": "300.30", "V": "1.000", "Q": "100.10", "B": "0"}  # fmt: skip
    data = {"e": "kline", "E": open_time + MINUTE + 5, "s": "BTCUSDT", "k": k}
    return json.dumps({"stream": "btcusdt@kline_1m", "data": data})


def rest_row(open_time: int) -> list[Any]:
    close = f"{100 + open_time // MINUTE % 100}.50"
    return [open_time, "100.10", "101.00", "99.90", close, "3.000", open_time + MINUTE - 1,
            "300.30", 2, "1.000", "100.10", "0"]  # fmt: skip


def klines_answer(query: dict[str, list[str]]) -> Any:
    """`/fapi/v1/klines` of the asked window, the still-open minute of `now` included."""
    start, end = int(query["startTime"][0]), int(query["endTime"][0])
    return [rest_row(t) for t in range(start, end + MINUTE, MINUTE) if t <= end]


def candles(items: list[Item]) -> list[Candle]:
    return sorted((i for i in items if type(i) is Candle), key=lambda c: c.open_time)


async def scripted(frames: list[list[str]], now: int) -> tuple[UsdmSource, Collector, list[str]]:
    """A source whose k-th connection gets `frames[k]` on `/market` (and then the cut, but for
    the last), its clock at `now`, its klines answered by `klines_answer`."""
    connections = 0
    asked: list[str] = []
    collector = Collector()

    async def handler(ws: ServerConnection) -> None:
        nonlocal connections
        assert ws.request is not None
        if ws.request.path.startswith("/market"):
            connections += 1
            number = min(connections, len(frames))
            for frame in frames[number - 1]:
                await ws.send(frame)
            if number < len(frames):
                await ws.close(1001, "going away")
                return
        await ws.wait_closed()

    process = rest({"/fapi/v1/klines": klines_answer}, asked)
    async with venue(handler, process_request=process) as url:
        settings = UsdmSettings(symbols=(SYMBOL,), ws_url=url, rest_url=url.replace("ws", "http"),
                                book_updates=False)  # fmt: skip
        source = UsdmSource(settings, clock=lambda: Millis(now), sleep=no_wait)

        def whole(items: list[Item]) -> bool:
            times = [c.open_time for c in candles(items)]
            return times[-1:] == [T0 + 5 * MINUTE] and len(times) == 6

        async with running(source, collector):
            await collector.wait_for(whole)
    return source, collector, asked


async def test_candles_closed_during_a_cut_are_fetched_once_after_the_reconnect() -> None:
    now = T0 + 6 * MINUTE + 1_000  # minute 5 has closed, minute 6 is open
    source, collector, asked = await scripted(
        [[kline(T0, "100.00")], [kline(T0 + 5 * MINUTE, "105.50")]], now
    )
    got = candles(collector.items)
    assert [c.open_time for c in got] == [T0 + m * MINUTE for m in range(6)]  # each once
    assert got[0].origin == "ws" and {c.origin for c in got[1:5]} == {"rest"}
    # one request from the first missing minute: to minute 5, or to 4 if the stream's minute 5
    # was in before the fetch went out (the reconnect and that candle report the same hole)
    assert asked in [[f"/fapi/v1/klines?symbol=BTCUSDT&interval=1m&startTime={T0 + MINUTE}"
                      f"&endTime={T0 + last * MINUTE}&limit=1000"] for last in (4, 5)]  # fmt: skip
    assert got[3].close == "103.50" and got[3].exchange == "binance_usdm"
    assert got[3].record_id == Candle(*got[3]).record_id
    assert source.stats.backfilled == 4 + (got[5].origin == "rest")
    # that one page of up to 1000 candles weighs 5 (the REST polls spend weight beside it)
    assert source.rest.request_weight("/fapi/v1/klines", {"limit": "1000"}) == 5


async def test_a_candle_the_stream_skipped_is_fetched_and_a_repeat_is_dropped() -> None:
    now = T0 + 6 * MINUTE + 1_000
    frames = [kline(T0 + m * MINUTE, f"{100 + m}.50") for m in (0, 1, 1, 4, 5)]
    source, collector, asked = await scripted([frames], now)
    got = candles(collector.items)
    assert [c.open_time for c in got] == [T0 + m * MINUTE for m in range(6)]
    assert [c.origin for c in got] == ["ws", "ws", "rest", "rest", "ws", "ws"]
    assert asked == [f"/fapi/v1/klines?symbol=BTCUSDT&interval=1m&startTime={T0 + 2 * MINUTE}"
                     f"&endTime={T0 + 3 * MINUTE}&limit=1000"]  # fmt: skip
    assert source.stats.extra["duplicate_candles"] == 1


class ShiftedClock:
    """Epoch milliseconds, plus a shift the test moves (a minute closes at once)."""

    def __init__(self) -> None:
        self.shift = 0

    def __call__(self) -> Millis:
        return Millis(time.time_ns() // 1_000_000 + self.shift)


async def test_the_simulators_klines_and_tickers_become_ohlcv_and_tickers_rows() -> None:
    clock = ShiftedClock()
    options = UsdmSimOptions(pu_break_probability=0)
    config = SimulatorConfig(port=0, rate=400, symbols={"binance_usdm": (SYMBOL,)},
                             options={"binance_usdm": options})  # fmt: skip
    async with Simulator(config, clock=clock) as sim:
        env = sim.environment()
        settings = UsdmSettings(
            symbols=(SYMBOL,),
            ws_url=env["STREAMER_BINANCE_USDM_WS_URL"],
            rest_url=env["STREAMER_BINANCE_USDM_REST_URL"],
            book_updates=False,
        )
        source = UsdmSource(settings, clock=clock)
        collector = Collector()
        async with running(source, collector):
            await collector.wait_for(lambda items: any(type(i) is Ticker for i in items))
            clock.shift += MINUTE  # the open minute closes on the simulator's next tick
            await collector.wait_for(lambda items: bool(candles(items)))
        async with UsdmRest(settings.rest_url, clock=clock) as client:
            first = candles(collector.items)[0]
            fetched = await client.klines(SYMBOL, "BTCUSDT", "1m", first.open_time,
                                          first.open_time)  # fmt: skip
            weight = client.weight_spent
    tickers = [i for i in collector.items if type(i) is Ticker]
    for ticker in tickers:
        assert ticker.exchange == "binance_usdm" and ticker.symbol == SYMBOL
        assert (ticker.best_bid, ticker.best_bid_size, ticker.best_ask) == (None, None, None)
        low, last, high = map(Decimal, (ticker.low_24h, ticker.last_price, ticker.high_24h))
        assert low <= last <= high and ticker.trade_count_24h is not None
    truth = sim.truth.candles[("binance_usdm", SYMBOL, "1m", first.open_time)]
    assert (first.open, first.high, first.low, first.close, first.volume) == truth
    assert first.is_closed and first.origin == "ws" and first.interval == "1m"
    # REST serves the same candle, with the same record id: the lake keeps it once
    assert [(c.record_id, c.close, c.origin) for c in fetched] == [
        (first.record_id, first.close, "rest")
    ]
    assert weight == 5
