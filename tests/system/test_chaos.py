"""Chaos: the Binance and Coinbase feeds through a simulator that misbehaves for 60+ s.

The simulator's clock runs 60x faster, so an hour of 1-minute candles closes in a minute of
test, while it cuts connections (1006), closes them (1001/1011), goes silent, sends garbage
and oversized frames, duplicates, reorders and loses frames (Coinbase sequence gaps), rotates
connections, and answers REST with 429 (Retry-After) and 503. Full-depth books are on for both
venues. The service must not crash, and once the faults stop the lake must end with: every
closed candle of every symbol (Binance 1m, Coinbase 5m) exactly once after de-duplication,
equal to the simulator's (holes filled from REST); every trade id between each symbol's first
and last, equal to the simulator's trade (holes filled from REST); every book snapshot equal to
the simulator's book at its sequence (Binance books kept from the diff stream, Coinbase books
from level2, both resynced after every gap); the books replayed from `book_updates` equal to
the published snapshots and to the simulator's true books; every garbage frame that reached
the client in the rejects with its reason.
"""

from __future__ import annotations

import asyncio
import os
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from streamer import query
from streamer.book_replay import lake_rows, replay
from streamer.pipeline import run_pipeline
from streamer.service import build_sources
from streamer.settings import load
from streamer.simulator import Simulator, SimulatorConfig
from streamer.simulator.faults import FaultPlan
from streamer.sinks.lake import LakeSink
from streamer.venues.coinbase.simulator import CoinbaseSimOptions

pytestmark = pytest.mark.slow

SPEED = 60
SECONDS = float(os.environ.get("STREAMER_CHAOS_SECONDS", "60"))
SYMBOLS = {"binance": ("BTC-USDT", "ETH-USDT"), "coinbase": ("BTC-USD", "ETH-USD")}
INTERVALS = {"binance": ("1m", 60_000), "coinbase": ("5m", 300_000)}
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
    gap=0.003,
    rest_429=0.2,
    rest_5xx=0.1,
    rotate_seconds=4.0,
    seed=5,
)
ENDINGS = ("disconnect", "close", "stall", "oversized", "rotate")


def rows(lake: Path, sql: str) -> list[dict[str, Any]]:
    names, result = query.run(lake, sql)
    return [dict(zip(names, row, strict=True)) for row in result]


def levels(side: list[dict[str, Decimal]]) -> list[tuple[Decimal, Decimal]]:
    return [(level["price"], level["size"]) for level in side]


def number_levels(side: Any) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(price), Decimal(size)) for price, size in side]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[int(share * (len(ordered) - 1))] if ordered else 0.0


async def test_feeds_heal_themselves_under_faults(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    start = time.time_ns() // 1_000_000

    def fast_clock() -> int:
        return start + (time.time_ns() // 1_000_000 - start) * SPEED

    config = SimulatorConfig(
        port=0,
        rate=300,
        seed=12,
        faults=FAULTS,
        symbols={"binance": SYMBOLS["binance"], "coinbase": SYMBOLS["coinbase"], "coingecko": ()},
        options={"coinbase": CoinbaseSimOptions(record_books=True)},
    )
    async with Simulator(config, clock=fast_clock) as sim:
        env = sim.environment()
        env.update(
            STREAMER_SOURCES="binance,coinbase",
            STREAMER_LAKE_DIR=str(lake),
            STREAMER_LAKE_BUFFER_SECONDS="1",
            STREAMER_BINANCE_KLINE_INTERVAL="1m",
            STREAMER_COINBASE_BOOK_INTERVAL="0.2",
            STREAMER_STALE_SECONDS="1.5",
            STREAMER_BINANCE_BOOK_UPDATES="true",
            STREAMER_COINBASE_BOOK_UPDATES="true",
        )
        settings = load(env)
        sources = {s.name: s for s in build_sources(settings, clock=fast_clock)}
        stop = asyncio.Event()
        pipeline = asyncio.create_task(
            run_pipeline(list(sources.values()), LakeSink(settings.lake), stop, clock=fast_clock)
        )
        await asyncio.sleep(SECONDS)
        assert not pipeline.done(), "the pipeline ended early"
        # Faults off; the feeds must now close every hole by themselves: wait (bounded) until
        # no backfill is pending and two more candles per symbol closed after the calm.
        sim.dice.calm()
        calm_at = fast_clock()
        last_made = {key: max(map(int, made)) for key, made in sim.sent_trades.items()}

        def settled() -> bool:
            for name, source in sources.items():
                newest = source.ledger.newest  # type: ignore[attr-defined]
                after = calm_at + 2 * INTERVALS[name][1]
                if source.backfills_pending or any(  # type: ignore[attr-defined]
                    newest.get(symbol, 0) < after for symbol in SYMBOLS[name]
                ):
                    return False
                # Trades made after the calm arrived (so every hole is known) and were filled.
                tracks = source.trade_backfill.gaps.tracks  # type: ignore[attr-defined]
                if source.trade_backfill.pending or any(  # type: ignore[attr-defined]
                    tracks[symbol].last <= last_made[(name, symbol)] for symbol in SYMBOLS[name]
                ):
                    return False
            return True

        async with asyncio.timeout(120):
            while not settled():
                await asyncio.sleep(0.2)
        stop.set()
        stats = await pipeline
        stopped_at = asyncio.get_running_loop().time()
        injected = dict(sim.dice.injected)
        garbage = list(sim.dice.garbage_sent)
        closed_at = dict(sim.closed_at)
        truth = {
            (venue, symbol, t): tuple(Decimal(v) for v in values)
            for (venue, symbol, interval, t), values in sim.sent_candles.items()
            if venue in INTERVALS and interval == INTERVALS[venue][0]
        }
        sent_books = dict(sim.truth.books["binance"])
        coinbase_truth = dict(sim.truth.books["coinbase"])
        sent_trades = {key: dict(made) for key, made in sim.sent_trades.items()}
    assert stats.failed_sources == {}
    for kind in ("garbage", "duplicate", "reorder", "gap"):
        assert injected.get(kind, 0) > 0, f"no {kind} fault was injected: {injected}"
    endings = sum(injected.get(kind, 0) for kind in ENDINGS)
    assert endings >= SECONDS / 10, f"too few connection faults: {injected}"

    # Every closed candle, exactly once after de-duplication, equal to the truth.
    candles = rows(lake, "SELECT exchange, symbol, epoch_ms(open_time) AS t, open, high, low, "
                         "close, volume, origin FROM crypto_ohlcv WHERE is_closed")  # fmt: skip
    by_key: dict[tuple[str, str, int], set[tuple[Decimal, ...]]] = {}
    for c in candles:
        values = (c["open"], c["high"], c["low"], c["close"], c["volume"])
        by_key.setdefault((c["exchange"], c["symbol"], c["t"]), set()).add(values)
    conflicting = {k: v for k, v in by_key.items() if len(v) > 1}
    assert not conflicting, f"candles with two versions: {list(conflicting)[:3]}"
    missing = []
    for venue, symbols in SYMBOLS.items():
        per_minute = 60_000 / INTERVALS[venue][1]
        for symbol in symbols:
            published = [t for v, s, t in by_key if (v, s) == (venue, symbol)]
            assert len(published) >= SECONDS * 0.7 * per_minute, (venue, symbol, len(published))
            first, last = min(published), max(published)
            for key in sorted(k for k in truth if k[:2] == (venue, symbol)):
                if not first <= key[2] <= last:
                    continue
                if key not in by_key:
                    missing.append(key)
                    continue
                (got,) = by_key[key]
                assert got == truth[key], (key, got, truth[key])
    assert not missing, f"{len(missing)} closed candles missing, e.g. {missing[:5]}"
    backfilled = sum(1 for c in candles if c["origin"] == "rest")

    # Every trade id between each symbol's first and last, equal to the simulator's trade.
    trades = rows(lake, "SELECT DISTINCT exchange, symbol, trade_id, price, size, side, "
                        "epoch_ms(event_time) AS t FROM crypto_trades")  # fmt: skip
    trade_ids: dict[tuple[str, str], set[int]] = {}
    for trade in trades:
        key = (trade["exchange"], trade["symbol"])
        price, size, side, made_at = sent_trades[key][trade["trade_id"]]
        assert (trade["price"], trade["size"]) == (Decimal(price), Decimal(size)), trade
        assert (trade["side"], trade["t"]) == (side, made_at), trade
        trade_ids.setdefault(key, set()).add(int(trade["trade_id"]))
    assert set(trade_ids) == {(v, s) for v, symbols in SYMBOLS.items() for s in symbols}
    for key, ids in trade_ids.items():
        absent = set(range(min(ids), max(ids) + 1)) - ids
        assert not absent, f"{key}: {len(absent)} trade ids missing, e.g. {sorted(absent)[:5]}"

    # Every published book is the simulator's book at its sequence, sorted and uncrossed.
    books = rows(lake, "SELECT exchange, symbol, sequence, epoch_ms(event_time) AS t, bids, asks "
                       "FROM crypto_order_books")  # fmt: skip
    assert {b["exchange"] for b in books} == {"binance", "coinbase"}
    for book in books:
        bids, asks = levels(book["bids"]), levels(book["asks"])
        assert bids == sorted(bids, reverse=True) and asks == sorted(asks)
        assert bids[0][0] < asks[0][0], book
        if book["exchange"] == "binance":  # the simulator's book after the diff event `u`
            sent_bids, sent_asks = sent_books[(book["symbol"], book["sequence"])]
        else:  # the simulator's book after the level2 frame the snapshot ends with
            sent_bids, sent_asks = coinbase_truth[(book["t"], book["sequence"], book["symbol"])]
        sent_bids, sent_asks = sent_bids[: len(bids)], sent_asks[: len(asks)]
        assert bids == [(Decimal(p), Decimal(q)) for p, q in sent_bids], book
        assert asks == [(Decimal(p), Decimal(q)) for p, q in sent_asks], book

    # The books replayed from book_updates: the published ones, and the simulator's true books.
    replayed_books = 0
    for venue, symbols in SYMBOLS.items():
        for symbol in symbols:
            published = {(b["t"], b["sequence"]): b for b in books
                         if (b["exchange"], b["symbol"]) == (venue, symbol)}  # fmt: skip
            rebuilt = {(r.event_time, r.sequence): r
                       for r in replay(lake_rows(lake, venue, symbol), depth=50)}  # fmt: skip
            assert published.keys() <= rebuilt.keys(), (venue, symbol)
            for key, book in published.items():
                depth = len(book["bids"])
                assert number_levels(rebuilt[key].bids)[:depth] == levels(book["bids"]), key
                assert number_levels(rebuilt[key].asks)[:depth] == levels(book["asks"]), key
            for (t, sequence), state in rebuilt.items():
                if venue == "binance":
                    truth_book = sent_books.get((symbol, sequence))
                    if truth_book is None:  # a REST snapshot's own state: no diff ends there
                        continue
                else:
                    truth_book = coinbase_truth[(t, sequence, symbol)]
                assert number_levels(state.bids) == number_levels(truth_book[0]), (t, sequence)
                assert number_levels(state.asks) == number_levels(truth_book[1]), (t, sequence)
                replayed_books += 1

    # Every garbage frame that reached a client is in the rejects, with a reason. Frames in
    # flight when a connection was cut (by the simulator or the client) never arrived.
    rejects = rows(lake, "SELECT raw, reason FROM crypto_rejects")
    rejected = {r["raw"]: r["reason"] for r in rejects}
    arrived = [text for text, conn, at in garbage
               if closed_at.get(conn, stopped_at) - at > 1.0 and at < stopped_at - 2]  # fmt: skip
    assert len(arrived) >= 10
    lost = [text for text in arrived if text not in rejected]
    assert not lost, f"{len(lost)} garbage frames not in rejects, e.g. {lost[:3]}"
    assert all(rejected[text] for text in arrived)

    lines = [f"chaos {SECONDS:g}s (simulator clock x{SPEED}): faults {injected}"]
    for name, source in sources.items():
        feed = source.stats
        recovery = [ms / SPEED for ms in feed.recovery_ms]  # real milliseconds
        fills = source.trade_backfill.fill_ms  # type: ignore[attr-defined]
        rest = source.rest  # type: ignore[attr-defined]
        extra = feed.extra
        weight = f", REST weight {rest.weight_spent}" if name == "binance" else ""
        lines.append(
            f"{name}: connects {feed.connects}, stalls detected {feed.stalls}, gaps {feed.gaps}, "
            f"resyncs {extra.get('resyncs', 0) + extra.get('depth_resyncs', 0)}, recoveries "
            f"{len(recovery)} p50 {percentile(recovery, 0.5):.0f} ms p99 "
            f"{percentile(recovery, 0.99):.0f} ms; trades backfilled "
            f"{extra['trades_backfilled']} in {extra['trade_holes_filled']} holes (filled p50 "
            f"{percentile(fills, 0.5):.0f} ms p99 {percentile(fills, 0.99):.0f} ms), ids REST "
            f"could not serve {extra['trade_ids_unserved']}; REST calls {rest.calls} (rate "
            f"limited {rest.rate_limited}){weight}; rejects {feed.rejects}"
        )
        assert feed.connects > 3 and recovery
        assert extra["trades_backfilled"] > 0 and extra["trade_ids_unserved"] == 0
    lines.append(f"candles {len(by_key)} ({backfilled} from REST); trades {len(trades)}; "
                 f"books replayed {replayed_books}; rejects {len(rejects)}")  # fmt: skip
    report = "\n".join(lines)
    print(report)
    Path(os.environ.get("STREAMER_CHAOS_REPORT", tmp_path / "chaos.txt")).write_text(report)
