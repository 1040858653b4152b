"""The self-healing parts, one at a time: the candle ledger, REST klines, the watchdog, the
REST client's rate-limit handling, and the simulator's fault plan."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.asyncio.server import ServerConnection

from streamer import query
from streamer.pipeline import run_pipeline
from streamer.records import Candle, Millis, Reject
from streamer.retry import BACKOFF_FIRST, backoff_delay
from streamer.service import build_sources
from streamer.settings import load
from streamer.simulator import Simulator, SimulatorConfig
from streamer.simulator.faults import FaultPlan
from streamer.sinks.lake import LakeSink
from streamer.sinks.null import NullSink
from streamer.sources.base import FeedStats
from streamer.sources.candles import CandleLedger, Gap
from streamer.sources.transport import WsConnection
from streamer.sources.wsconnect import run_websocket
from streamer.timefmt import now_millis
from streamer.venues.binance.rest import BinanceRest, parse_klines
from tests.conftest import fixture_text
from tests.wsserver import venue

MINUTE = 60_000


def test_ledger_admits_each_candle_once_and_reports_gaps() -> None:
    ledger = CandleLedger(MINUTE)
    assert ledger.admit("BTC-USDT", 0) == (True, None)
    assert ledger.admit("BTC-USDT", MINUTE) == (True, None)
    assert ledger.admit("BTC-USDT", MINUTE) == (False, None)  # a repeat
    assert ledger.admit("BTC-USDT", 4 * MINUTE) == (True, Gap("BTC-USDT", 2 * MINUTE, 3 * MINUTE))
    # Filling the hole later (from REST) is admitted and opens no new gap.
    assert ledger.admit("BTC-USDT", 2 * MINUTE) == (True, None)
    assert ledger.newest["BTC-USDT"] == 4 * MINUTE
    assert ledger.admit("ETH-USDT", 4 * MINUTE) == (True, None)  # symbols are independent


def test_ledger_knows_what_closed_while_disconnected() -> None:
    ledger = CandleLedger(MINUTE)
    assert ledger.missing_after("BTC-USDT", 10 * MINUTE) is None  # nothing seen yet
    ledger.admit("BTC-USDT", 2 * MINUTE)
    # At 6m30s the candles of 3m, 4m and 5m have closed; 6m is still open.
    assert ledger.missing_after("BTC-USDT", 6 * MINUTE + 30_000) == Gap(
        "BTC-USDT", 3 * MINUTE, 5 * MINUTE
    )
    assert ledger.missing_after("BTC-USDT", 3 * MINUTE + 59_999) is None


def test_ledger_stays_bounded() -> None:
    ledger = CandleLedger(MINUTE, keep=3)
    for i in range(10):
        ledger.admit("X-Y", i * MINUTE)
    assert ledger.admit("X-Y", 0) == (True, None)  # forgotten, so admitted again
    assert ledger.admit("X-Y", 9 * MINUTE) == (False, None)


def test_recorded_rest_klines_become_closed_rest_candles() -> None:
    text = fixture_text("binance/rest_klines_BTCUSDT_1m_2021-10-22.json")
    # The recording's last row is the minute still in progress: dropped.
    now = Millis(1634944080000 + 30_000)
    items = parse_klines(text, "BTC-USDT", "1m", Millis(1), now)
    assert items and all(isinstance(c, Candle) for c in items)
    candles = [c for c in items if isinstance(c, Candle)]
    assert all(c.is_closed and c.origin == "rest" and c.close_time < now for c in candles)
    first = candles[0]
    assert (first.open_time, first.open, first.close) == (1634943780000, "60685.22000000",
                                                          "60719.27000000")  # fmt: skip
    assert first.trade_count == 617 and Decimal(str(first.quote_volume)) == Decimal(
        "1313200.0134041"
    )


@pytest.mark.parametrize(
    "body", ['{"code": -1121, "msg": "Invalid symbol."}', "[[1, 2]]", '[["x"]]', "not json"]
)
def test_bad_kline_answers_become_one_reject(body: str) -> None:
    (item,) = parse_klines(body, "BTC-USDT", "1m", Millis(1), Millis(2))
    assert isinstance(item, Reject) and item.reason


async def test_a_silent_connection_is_dropped_and_reopened() -> None:
    sessions = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal sessions
        sessions += 1
        await ws.send(f"hello {sessions}")
        await ws.wait_closed()  # then silence; pings are still answered by the library

    stats = FeedStats()
    frames: list[str] = []
    done = asyncio.Event()

    async def on_frames(payloads: list[bytes], received_at: Millis) -> None:
        frames.extend(p.decode() for p in payloads)
        if len(frames) == 3:
            done.set()

    async def nothing(ws: WsConnection) -> None:
        pass

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
                stale_after=0.3,
            )
        )
        async with asyncio.timeout(30):
            await done.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert frames == ["hello 1", "hello 2", "hello 3"]
    assert stats.stalls >= 2 and stats.connects >= 3
    assert len(stats.recovery_ms) >= 2


class _Flaky(BaseHTTPRequestHandler):
    answers: ClassVar[list[tuple[int, dict[str, str], bytes]]] = []
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.path)
        status, headers, body = type(self).answers.pop(0)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def flaky() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_rest_waits_out_429_and_418_then_pages(flaky: str) -> None:
    row = lambda t: f'[{t},"1","2","0.5","1.5","10",{t + 59_999},"15",3,"5","7","0"]'  # noqa: E731
    full = "[" + ",".join(row(i * MINUTE) for i in range(1000)) + "]"
    _Flaky.seen = []
    _Flaky.answers = [
        (429, {"Retry-After": "2"}, b'{"code":-1003,"msg":"Too many requests."}'),
        (418, {"Retry-After": "3"}, b'{"code":-1003,"msg":"IP banned."}'),
        (503, {}, b"{}"),
        (200, {"X-MBX-USED-WEIGHT-1M": "12"}, full.encode()),
        (200, {}, ("[" + row(1000 * MINUTE) + "]").encode()),
    ]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    rest = BinanceRest(flaky, clock=lambda: Millis(10**13), sleep=sleep, rng=random.Random(9),
                       wall=lambda: 30.0)  # fmt: skip
    try:
        items = await rest.klines("BTC-USDT", "BTCUSDT", "1m", 0, 1000 * MINUTE)
    finally:
        await rest.aclose()
    assert waits[:2] == [2.0, 3.0]  # Retry-After honoured, 429 then 418
    # 503: the backoff of a third failure in a row (the rate limits counted too), jittered
    assert len(waits) == 3 and waits[2] == backoff_delay(2, random.Random(9))
    assert 0 <= waits[2] <= 4 * BACKOFF_FIRST
    # Five requests of weight 2 went out; the venue's count (12) raised the client's own, and
    # the second page then added its weight.
    assert rest.rate_limited == 2 and rest.used_weight == 14 and rest.weight_spent == 10
    assert [c.open_time for c in items if isinstance(c, Candle)] == [
        i * MINUTE for i in range(1001)
    ]
    # The second page starts just after the first page's last open time.
    assert f"startTime={999 * MINUTE + 1}" in _Flaky.seen[-1]


def test_fault_plans_parse_and_refuse_nonsense() -> None:
    plan = FaultPlan.parse("disconnect=0.01, stall=0.002,stall_seconds=5,seed=3")
    assert (plan.disconnect, plan.stall, plan.stall_seconds, plan.seed) == (0.01, 0.002, 5.0, 3)
    assert plan.active and not FaultPlan.parse("").active
    with pytest.raises(ValueError, match="unknown fault"):
        FaultPlan.parse("explode=1")
    with pytest.raises(ValueError, match="probability"):
        FaultPlan.parse("garbage=2")


def test_coinbase_rest_candles_become_closed_candles_oldest_first() -> None:
    from streamer.venues.coinbase.rest import parse_candles

    body = (
        '{"candles": [{"start": "1688998800", "low": "1", "high": "2", "open": "1", '
        '"close": "2", "volume": "3"}, {"start": "1688998500", "low": "1866.1", '
        '"high": "1867.9", "open": "1867.2", "close": "1866.8", "volume": "12.5"}, '
        '{"start": "1688998200", "low": "1866.0", "high": "1868.0", "open": "1867.38", '
        '"close": "1866.81", "volume": "9.25"}]}'
    )
    now = Millis(1688998800_000 + 60_000)  # the 1688998800 candle is still open
    items = parse_candles(body, "ETH-USD", Millis(5), now)
    candles = [c for c in items if isinstance(c, Candle)]
    assert [c.open_time for c in candles] == [1688998200_000, 1688998500_000]
    assert all(c.is_closed and c.origin == "rest" and c.interval == "5m" for c in candles)
    assert (candles[0].open, candles[0].close, candles[0].volume) == ("1867.38", "1866.81", "9.25")
    assert candles[0].close_time == 1688998200_000 + 300_000 - 1


async def test_binance_rotation_overlaps_so_no_trade_is_missed_or_doubled(tmp_path: Path) -> None:
    """The simulator cuts every connection at 3 s (Binance's 24 h, compressed); the client
    replaces each at 1.5 s through an overlapping connection and drops the doubled rows."""
    lake = tmp_path / "lake"
    config = SimulatorConfig(
        port=0,
        rate=200,
        faults=FaultPlan(rotate_seconds=3.0),
        symbols={"binance": ("BTC-USDT", "ETH-USDT"), "coinbase": (), "coingecko": ()},
    )
    async with Simulator(config) as sim:
        env = sim.environment()
        env.update(
            STREAMER_SOURCES="binance",
            STREAMER_LAKE_DIR=str(lake),
            STREAMER_LAKE_BUFFER_SECONDS="0.5",
            STREAMER_BINANCE_ROTATE_SECONDS="1.5",
        )
        settings = load(env)
        sources = build_sources(settings)
        stop = asyncio.Event()
        pipeline = asyncio.create_task(
            run_pipeline(sources, LakeSink(settings.lake), stop, clock=now_millis)
        )
        async with asyncio.timeout(60):
            while sources[0].stats.extra.get("rotations", 0) < 4:
                await asyncio.sleep(0.1)
        stop.set()
        stats = await pipeline
        sessions = [t for t in asyncio.all_tasks() if "_session" in repr(t.get_coro())]
        assert not sessions, "a WebSocket session outlived its source"
    assert stats.failed_sources == {}
    names, result = query.run(lake, "SELECT symbol, trade_id FROM crypto_trades")
    trades = [dict(zip(names, row, strict=True)) for row in result]
    for symbol in ("BTC-USDT", "ETH-USDT"):
        ids = sorted(int(t["trade_id"]) for t in trades if t["symbol"] == symbol)
        assert len(ids) > 50
        assert len(ids) == len(set(ids)), f"{symbol}: a trade was stored twice"
        assert ids == list(range(ids[0], ids[-1] + 1)), f"{symbol}: trades missed in a rotation"


@given(st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=80))
def test_ledger_publishes_each_open_time_once_and_reports_every_hole(
    minutes: list[int],
) -> None:
    ledger = CandleLedger(MINUTE)
    published: list[int] = []
    gaps: list[Gap] = []
    for m in minutes:
        fresh, gap = ledger.admit("X-Y", m * MINUTE)
        if fresh:
            published.append(m)
        if gap is not None:
            gaps.append(gap)
    assert sorted(published) == sorted(set(minutes))  # each open time exactly once
    # Every hole between the first candle seen and the newest was reported by some gap
    # (history before the first candle is out of scope: the ledger starts there).
    holes = set(range(minutes[0], max(minutes) + 1)) - set(minutes)
    covered = {t // MINUTE for g in gaps for t in range(g.start, g.end + 1, MINUTE)}
    assert holes <= covered


async def test_stopping_a_source_closes_its_connections() -> None:
    """Cancelled mid-stream (here while handing rows to a full pipeline), a source must not
    leave a WebSocket connection behind: the venue must see every one of them close."""
    config = SimulatorConfig(
        port=0,
        rate=0,
        symbols={"binance": ("BTC-USDT",), "coinbase": ("BTC-USD",), "coingecko": ()},
    )
    async with Simulator(config) as sim:
        env = sim.environment()
        env["STREAMER_SOURCES"] = "binance,coinbase"
        sources = build_sources(load(env))
        stop = asyncio.Event()
        pipeline = asyncio.create_task(
            run_pipeline(sources, NullSink(), stop, clock=now_millis, queue_size=10)
        )
        async with asyncio.timeout(30):
            while not all(s.stats.rows for s in sources):
                await asyncio.sleep(0.05)
        assert sim.venues["binance"].listeners and sim.venues["coinbase"].listeners
        stop.set()
        await pipeline
        async with asyncio.timeout(10):  # the venue sees every client go
            while sim.venues["binance"].listeners or sim.venues["coinbase"].listeners:
                await asyncio.sleep(0.02)


async def test_a_departed_clients_full_outbox_releases_the_market() -> None:
    from streamer.simulator.outbox import OUTBOX_LIMIT, Outbox

    outbox = Outbox()
    for i in range(OUTBOX_LIMIT):
        outbox.push(i)
    assert not outbox.space.is_set()  # a driver would wait here for the client to read
    waiter = asyncio.create_task(outbox.space.wait())
    outbox.close()
    async with asyncio.timeout(1):
        await waiter
    outbox.push("late")
    assert not outbox.items
