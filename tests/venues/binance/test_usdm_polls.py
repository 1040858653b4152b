"""USD-M's REST-driven datasets against the simulated venue on loopback: open interest at the
venue's time and decimals, spread over the interval and waiting out a 429's Retry-After; the
settled funding backfilled and then fetched once after a (compressed) funding time; instruments
at start and again when a contract changes; the whole source stops without a task left."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import replace
from typing import Any

import httpx
import orjson

from streamer.records import FundingRate, Instrument, Item, OpenInterest, Reject
from streamer.simulator import Simulator, SimulatorConfig
from streamer.sources.attempts import AttemptWindow
from streamer.sources.base import FeedStats
from streamer.timefmt import now_millis
from streamer.venues.binance.usdm_client import UsdmRest
from streamer.venues.binance.usdm_funding import FundingSettlements
from streamer.venues.binance.usdm_instruments import InstrumentWatch
from streamer.venues.binance.usdm_polls import FundingIntervals, OpenInterestPolls
from streamer.venues.binance.usdm_settings import UsdmSettings
from streamer.venues.binance.usdm_sim_wire import fixed
from streamer.venues.binance.usdm_simulator import BinanceUsdm, UsdmSimOptions
from streamer.venues.binance.usdm_source import UsdmSource
from tests.wsserver import Collector

NAME = "binance_usdm"
SYMBOLS = ("BTC-USDT-PERP", "ETH-USDT-PERP")
EIGHT_HOURS = 8 * 3_600_000


class Recorded(httpx.AsyncBaseTransport):
    """Real loopback HTTP, each answer's (path, JSON) kept: what the venue said, to compare."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.answers: list[tuple[str, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        if response.status_code == 200:
            self.answers.append((request.url.path, orjson.loads(body)))
        return httpx.Response(response.status_code, headers=response.headers, content=body)

    async def aclose(self) -> None:
        await self.inner.aclose()


class FakeTime:
    """Monotonic seconds that move only when slept: the poller's and the simulator's limits'."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class ShiftedClock:
    """The wall clock in epoch ms plus a shift a test moves (a funding in a moment)."""

    def __init__(self) -> None:
        self.shift = 0

    def __call__(self) -> int:
        return time.time_ns() // 1_000_000 + self.shift


def serve(options: UsdmSimOptions | None = None, **kwargs: Any) -> Simulator:
    config = SimulatorConfig(port=0, rate=200, symbols={NAME: SYMBOLS},
                             options={NAME: options or UsdmSimOptions()})  # fmt: skip
    return Simulator(config, **kwargs)


def venue_of(sim: Simulator) -> BinanceUsdm:
    venue = sim.venues[NAME]
    assert isinstance(venue, BinanceUsdm)
    return venue


def rest_of(sim: Simulator, **kwargs: Any) -> UsdmRest:
    return UsdmRest(f"http://127.0.0.1:{sim.port}", clock=now_millis, **kwargs)


@contextlib.asynccontextmanager
async def running(
    run: Callable[[Any], Coroutine[Any, Any, None]], emit: Any
) -> AsyncIterator[None]:
    task = asyncio.create_task(run(emit))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def rows(items: list[Item], kind: type) -> list[Any]:
    return [i for i in items if type(i) is kind]


async def test_open_interest_rows_carry_the_venues_time_and_exact_decimals_per_symbol() -> None:
    transport = Recorded()
    async with serve() as sim, rest_of(sim, transport=transport) as rest:
        stats = FeedStats()
        polls = OpenInterestPolls(rest, lambda: SYMBOLS, 1.0, stats, clock=now_millis)
        collector = Collector()

        def enough(items: list[Item]) -> bool:
            return all(sum(1 for r in rows(items, OpenInterest) if r.symbol == s) >= 2
                       for s in SYMBOLS)  # fmt: skip

        async with running(polls.run, collector.emit):
            await collector.wait_for(enough)
    answers = [a for path, a in transport.answers if path == "/fapi/v1/openInterest"]
    got = rows(collector.items, OpenInterest)
    assert len(got) == len(collector.items)  # no rejects
    for row, answer in zip(got, answers, strict=False):
        assert answer["symbol"] == row.symbol.replace("-USDT-PERP", "USDT")
        assert row.event_time == answer["time"]
        assert str(row.open_interest) == answer["openInterest"]  # the venue's text, exactly
    assert stats.extra["open_interest_polls"] == len(got) and stats.rejects == 0


async def test_polls_are_spread_over_the_interval_and_a_429_waits_its_retry_after() -> None:
    """Three symbols every 60 s: one every 20 s. The venue allows 2 weight a minute: the third
    request of a minute gets a 429 with Retry-After (the rest of the minute), which is slept
    before the same request is asked again; the venue never has to ban (418)."""
    fake = FakeTime()
    symbols = (*SYMBOLS, "SOL-USDT-PERP")
    config = SimulatorConfig(port=0, rate=200, symbols={NAME: symbols},
                             options={NAME: UsdmSimOptions(weight_per_minute=2)})  # fmt: skip
    async with Simulator(config, monotonic=fake) as sim, rest_of(sim, sleep=fake.sleep) as rest:
        polls = OpenInterestPolls(rest, lambda: symbols, 60.0, FeedStats(), clock=now_millis,
                                  sleep=fake.sleep, monotonic=fake)  # fmt: skip
        collector = Collector()
        async with running(polls.run, collector.emit):
            await collector.wait_for(lambda items: len(items) >= 6)
        limits = dict(sim.breaches.counts)
    # s0@0, s1@20, s2@40 -> 429 until 60 (client), s2@60, s0@60, s1@80 -> 429 until 120 ...
    assert fake.sleeps[:5] == [20.0, 20.0, 20.0, 20.0, 40.0]
    assert [r.symbol for r in collector.items[:6]] == [*symbols, *symbols]
    assert limits.get(f"{NAME}.weight_429", 0) >= 2 and f"{NAME}.weight_418" not in limits
    assert all(type(r) is OpenInterest for r in collector.items)


async def test_funding_is_backfilled_then_each_settled_rate_arrives_once() -> None:
    clock = ShiftedClock()
    async with serve(clock=clock) as sim, rest_of(sim) as rest:
        venue = venue_of(sim)
        stats = FeedStats()
        pace = AttemptWindow(450, 300.0)
        intervals = FundingIntervals(rest, stats, pace, 3600.0, clock=clock)
        settlements = FundingSettlements(rest, lambda: SYMBOLS, intervals, pace, 24.0, stats,
                                         clock=clock, settle_seconds=0.5, retry_seconds=0.05,
                                         nap_seconds=0.05)  # fmt: skip
        collector = Collector()

        def fundings(symbol: str) -> list[FundingRate]:
            return [r for r in rows(collector.items, FundingRate) if r.symbol == symbol]

        async with running(settlements.run, collector.emit):
            await collector.wait_for(lambda items: all(len(fundings(s)) == 3 for s in SYMBOLS))
            history = {s: list(venue.derivatives[s].fundings) for s in SYMBOLS}
            next_at = venue.derivatives[SYMBOLS[0]].next_funding
            for symbol in SYMBOLS:  # the lookback's three, exactly as settled
                want = [(t, fixed(rate)) for t, rate, _ in history[symbol][-3:]]
                got = [(r.event_time, str(r.funding_rate)) for r in fundings(symbol)]
                assert got == want
                assert all(r.funding_interval_hours == 8 for r in fundings(symbol))
            clock.shift += next_at - clock() + 1_000  # the funding time has just passed
            await collector.wait_for(lambda items: all(len(fundings(s)) == 4 for s in SYMBOLS))
            tracks = settlements.tracks.tracks
            async with asyncio.timeout(10):  # asked again meanwhile? it waits for the next one
                while any(t.expected != next_at + EIGHT_HOURS for t in tracks.values()):
                    await asyncio.sleep(0.01)
            await collector.wait_for(lambda items: len(items) >= 8)
        for symbol in SYMBOLS:
            settled = venue.derivatives[symbol].fundings[-1]
            last = fundings(symbol)[-1]
            assert (last.event_time, str(last.funding_rate)) == (settled[0], fixed(settled[1]))
            assert settled[0] == next_at
    assert len(collector.items) == 8
    assert len({r.record_id for r in collector.items}) == 8  # none twice
    assert stats.extra["funding_backfilled"] == 6 and stats.extra["funding_late"] == 0


async def test_instruments_are_written_at_start_and_again_when_a_contract_changes() -> None:
    async with serve() as sim, rest_of(sim) as rest:
        venue = venue_of(sim)
        stats = FeedStats()
        selected = list(SYMBOLS)
        intervals = FundingIntervals(rest, stats, AttemptWindow(450, 300.0), 3600.0,
                                     clock=now_millis)  # fmt: skip
        watch = InstrumentWatch(rest, lambda: tuple(selected), intervals, 0.1, stats,
                                clock=now_millis, nap_seconds=0.02)  # fmt: skip
        collector = Collector()
        looks = "weight exchangeInfo"

        async def looked(more: int) -> None:
            at = rest.counts[looks] + more
            async with asyncio.timeout(10):
                while rest.counts[looks] < at:
                    await asyncio.sleep(0.01)

        async with running(watch.run, collector.emit):
            await collector.wait_for(lambda items: len(items) >= 2)
            await looked(2)  # unchanged listings write nothing
            assert [r.symbol for r in collector.items] == list(SYMBOLS)
            assert {str(r.tick_size) for r in collector.items} == {"0.01"}
            btc = venue.contracts["BTC-USDT-PERP"]
            venue.contracts["BTC-USDT-PERP"] = replace(btc, tick_size="0.10")
            await collector.wait_for(lambda items: len(items) >= 3)
            dated = next(s for s in venue.symbols if not s.endswith("PERP"))
            selected.append(dated)  # rediscovery added a contract
            await collector.wait_for(lambda items: len(items) >= 4)
            await looked(2)
    got = rows(collector.items, Instrument)
    assert len(got) == len(collector.items) == 4
    changed = got[2]
    assert changed.symbol == "BTC-USDT-PERP" and str(changed.tick_size) == "0.10"
    assert changed.record_id != got[0].record_id
    assert got[3].symbol == dated and got[3].kind == "delivery"
    assert stats.extra["instruments_changed"] == 1


async def test_a_malformed_answer_is_a_reject_and_the_polls_go_on() -> None:
    """A body that is not the venue's shape is handed on as a reject; the next poll runs."""
    answers = iter([b"<html>busy</html>"])

    def handler(request: httpx.Request) -> httpx.Response:
        body = next(answers, None)
        if body is None:
            body = orjson.dumps({"symbol": "BTCUSDT", "openInterest": "1.5", "time": 7})
        return httpx.Response(200, content=body)

    stats = FeedStats()
    async with UsdmRest("http://venue.test", clock=now_millis,
                        transport=httpx.MockTransport(handler)) as rest:  # fmt: skip
        polls = OpenInterestPolls(rest, lambda: SYMBOLS[:1], 0.01, stats, clock=now_millis)
        collector = Collector()
        async with running(polls.run, collector.emit):
            await collector.wait_for(lambda items: len(items) >= 2)
    reject, row = collector.items[:2]
    assert type(reject) is Reject and "invalid JSON" in reject.reason
    assert type(row) is OpenInterest and row.event_time == 7 and stats.rejects == 1


async def test_the_source_writes_all_three_and_stops_without_a_task_left() -> None:
    async with serve() as sim:
        env = venue_of(sim).environment(f"127.0.0.1:{sim.port}")
        settings = UsdmSettings(symbols=SYMBOLS, ws_url=env["STREAMER_BINANCE_USDM_WS_URL"],
                                rest_url=env["STREAMER_BINANCE_USDM_REST_URL"],
                                open_interest_seconds=1.0)  # fmt: skip
        source = UsdmSource(settings)
        collector = Collector()

        def enough(items: list[Item]) -> bool:
            kinds = {(type(i), i.symbol) for i in items if type(i) is not Reject}
            return all((k, s) in kinds for k in (OpenInterest, FundingRate, Instrument)
                       for s in SYMBOLS)  # fmt: skip

        before = asyncio.all_tasks()
        task = asyncio.create_task(source.run(collector.emit))
        await collector.wait_for(enough, seconds=20)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        left = [t for t in asyncio.all_tasks() - before - {asyncio.current_task()}
                if "streamer/venues" in t.get_coro().cr_code.co_filename  # type: ignore[union-attr]
                or "streamer/sources" in t.get_coro().cr_code.co_filename]  # type: ignore[union-attr]  # fmt: skip
    assert left == []
    assert source.rest._client is None  # closed on the way out
    assert source.stats.extra["http_errors"] == 0 and source.stats.extra["polls_failed"] == 0
