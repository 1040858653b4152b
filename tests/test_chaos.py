"""Chaos: the Binance feed through a simulator that misbehaves at a high rate for 60+ s.

The simulator's clock runs 60x faster, so an hour of 1-minute candles closes in a minute of
test, while it cuts connections (1006), closes them (1001/1011), goes silent, sends garbage
and oversized frames, duplicates and reorders frames, rotates connections, and answers REST
with 429 (Retry-After) and 503. The service must not crash, and the lake must end with:
every closed 1-minute candle of every symbol exactly once after de-duplication (holes filled
from REST), every order-book snapshot equal to the simulator's book at its sequence, and every
garbage frame that reached the client in the rejects with its reason.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from streamer import query
from streamer.pipeline import run_pipeline
from streamer.service import build_sources
from streamer.settings import load
from streamer.simulator import Simulator, SimulatorConfig
from streamer.simulator.faults import FaultPlan
from streamer.sinks.lake import LakeSink

pytestmark = pytest.mark.slow

SPEED = 60
SECONDS = float(os.environ.get("STREAMER_CHAOS_SECONDS", "60"))
SYMBOLS = ("BTC-USDT", "ETH-USDT")
# Per frame (about 300 frames/s): a connection ends every ~4 s on average, one way or another.
FAULTS = FaultPlan(
    disconnect=0.0003,
    close=0.0002,
    stall=0.00015,
    stall_seconds=4.0,
    garbage=0.004,
    oversized=0.0001,
    duplicate=0.004,
    reorder=0.004,
    rest_429=0.2,
    rest_5xx=0.1,
    rotate_seconds=4.0,
    seed=5,
)
ENDINGS = ("disconnect", "close", "stall", "oversized", "rotate")


def rows(lake: Path, sql: str) -> list[dict[str, Any]]:
    names, result = query.run(lake, sql)
    return [dict(zip(names, row, strict=True)) for row in result]


async def test_binance_heals_itself_under_faults(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    start = time.time_ns() // 1_000_000

    def fast_clock() -> int:
        return start + (time.time_ns() // 1_000_000 - start) * SPEED

    config = SimulatorConfig(port=0, rate=300, binance_symbols=SYMBOLS, coinbase_symbols=(),
                             coingecko_coins=(), seed=12, faults=FAULTS)  # fmt: skip
    async with Simulator(config, clock=fast_clock) as sim:
        env = sim.environment()
        env.update(
            STREAMER_SOURCES="binance",
            STREAMER_LAKE_DIR=str(lake),
            STREAMER_LAKE_BUFFER_SECONDS="1",
            STREAMER_BINANCE_KLINE_INTERVAL="1m",
            STREAMER_STALE_SECONDS="1.5",
        )
        settings = load(env)
        sources = build_sources(settings, clock=fast_clock)
        stop = asyncio.Event()
        pipeline = asyncio.create_task(
            run_pipeline(sources, LakeSink(settings.lake), stop, clock=fast_clock)
        )
        await asyncio.sleep(SECONDS)
        assert not pipeline.done(), "the pipeline ended early"
        # Faults off; the feed must now close every hole by itself: wait (bounded) until no
        # backfill is pending and three more candles per symbol closed after the calm.
        sim.dice.calm()
        (source,) = sources
        calm_at = fast_clock()

        def settled() -> bool:
            newest = source.ledger.newest  # type: ignore[attr-defined]
            return source.backfills_pending == 0 and all(  # type: ignore[attr-defined]
                newest.get(s, 0) >= calm_at + 2 * 60_000 for s in SYMBOLS
            )

        async with asyncio.timeout(90):
            while not settled():
                await asyncio.sleep(0.2)
        stop.set()
        stats = await pipeline
        stopped_at = asyncio.get_running_loop().time()
        injected = dict(sim.dice.injected)
        garbage = list(sim.dice.garbage_sent)
        closed_at = dict(sim.closed_at)
        truth = {
            (symbol, t): tuple(Decimal(v) for v in values)
            for (venue, symbol, interval, t), values in sim.sent_candles.items()
            if venue == "binance" and interval == "1m"
        }
        sent_books = dict(sim.sent_books)
    assert stats.failed_sources == {}
    feed = source.stats
    for kind in ("garbage", "duplicate", "reorder"):
        assert injected.get(kind, 0) > 0, f"no {kind} fault was injected: {injected}"
    endings = sum(injected.get(kind, 0) for kind in ENDINGS)
    assert endings >= SECONDS / 10, f"too few connection faults: {injected}"

    # Every closed 1-minute candle, exactly once after de-duplication, equal to the truth.
    candles = rows(lake, "SELECT symbol, epoch_ms(open_time) AS t, open, high, low, close, "
                         "volume, origin FROM crypto_ohlcv WHERE is_closed")  # fmt: skip
    by_key: dict[tuple[str, int], set[tuple[Decimal, ...]]] = {}
    for c in candles:
        values = (c["open"], c["high"], c["low"], c["close"], c["volume"])
        by_key.setdefault((c["symbol"], c["t"]), set()).add(values)
    conflicting = {k: v for k, v in by_key.items() if len(v) > 1}
    assert not conflicting, f"candles with two versions: {list(conflicting)[:3]}"
    missing = []
    for symbol in SYMBOLS:
        published = [t for s, t in by_key if s == symbol]
        assert len(published) >= SECONDS * 0.7, f"{symbol}: only {len(published)} closed candles"
        first, last = min(published), max(published)
        for key in sorted(k for k in truth if k[0] == symbol and first <= k[1] <= last):
            if key not in by_key:
                missing.append(key)
                continue
            (got,) = by_key[key]
            assert got == truth[key], (key, got, truth[key])
    assert not missing, f"{len(missing)} closed candles missing, e.g. {missing[:5]}"
    backfilled = sum(1 for c in candles if c["origin"] == "rest")

    # Every published order-book snapshot is the simulator's book at that sequence.
    books = rows(lake, "SELECT symbol, sequence, bids, asks FROM crypto_order_books")
    assert books
    for book in books:
        sent_bids, sent_asks = sent_books[(book["symbol"], book["sequence"])]
        assert [(lv["price"], lv["size"]) for lv in book["bids"]] == [
            (Decimal(p), Decimal(s)) for p, s in sent_bids
        ]
        assert [(lv["price"], lv["size"]) for lv in book["asks"]] == [
            (Decimal(p), Decimal(s)) for p, s in sent_asks
        ]

    # Every garbage frame that reached the client is in the rejects, with a reason. Frames in
    # flight when the simulator cut a connection (or the client dropped it) never arrived.
    rejects = rows(lake, "SELECT raw, reason FROM crypto_rejects")
    rejected = {r["raw"]: r["reason"] for r in rejects}
    arrived = [text for text, conn, at in garbage
               if closed_at.get(conn, stopped_at) - at > 1.0 and at < stopped_at - 2]  # fmt: skip
    assert len(arrived) >= 10
    lost = [text for text in arrived if text not in rejected]
    assert not lost, f"{len(lost)} garbage frames not in rejects, e.g. {lost[:3]}"
    assert all(rejected[text] for text in arrived)

    recovery = sorted(ms / SPEED for ms in feed.recovery_ms)  # back to real milliseconds
    p50 = statistics.median(recovery) if recovery else 0.0
    p99 = recovery[int(0.99 * (len(recovery) - 1))] if recovery else 0.0
    report = (
        f"chaos {SECONDS:g}s: faults {injected}; connects {feed.connects}; stalls detected "
        f"{feed.stalls}; recoveries {len(recovery)} p50 {p50:.0f} ms p99 {p99:.0f} ms; "
        f"candles {len(by_key)} ({backfilled} from REST, backfilled rows {feed.backfilled}); "
        f"duplicates dropped {feed.extra.get('duplicate_candles', 0)}; rejects {len(rejects)}; "
        f"REST calls {source.rest.calls} (rate limited {source.rest.rate_limited})"  # type: ignore[attr-defined]
    )
    print(report)
    (Path(os.environ.get("STREAMER_CHAOS_REPORT", tmp_path / "chaos.txt"))).write_text(report)
    assert feed.connects > 5 and recovery
