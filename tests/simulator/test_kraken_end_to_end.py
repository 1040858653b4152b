"""The Kraken source, from settings, against the simulated Kraken into a lake: every published
book equals the venue's true book, books that failed an injected checksum are resynced, and
every trade id between each pair's first and last is in the lake across a forced cut."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from streamer import query
from streamer.pipeline import run_pipeline
from streamer.service import build_sources
from streamer.settings import load
from streamer.simulator import Simulator, SimulatorConfig
from streamer.sinks.lake import LakeSink
from streamer.timefmt import now_millis
from streamer.venues import VENUES
from streamer.venues.kraken.simulator import Kraken, KrakenSimOptions
from streamer.venues.kraken.source import KrakenSource

NAME = "kraken"
SYMBOLS = ("BTC-USD", "ETH-USD")
HOLD_TRADES = 80  # trades each pair makes while the venue refuses connections: > the snapshot's 50


def rows(lake: Path, sql: str) -> list[dict[str, Any]]:
    names, result = query.run(lake, sql)
    return [dict(zip(names, row, strict=True)) for row in result]


async def until(condition: Callable[[], bool], what: str) -> None:
    try:
        async with asyncio.timeout(90):
            while not condition():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_proven_books_and_every_trade_id_across_a_cut(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    others = {spec.name: () for spec in VENUES if spec.simulator is not None}
    config = SimulatorConfig(
        port=0,
        rate=300,
        seed=11,
        symbols={**others, NAME: SYMBOLS},
        options={NAME: KrakenSimOptions(bad_checksum_probability=0.004)},
    )
    async with Simulator(config) as sim:
        venue = sim.venues[NAME]
        assert isinstance(venue, Kraken)
        env = sim.environment()
        env.update(
            STREAMER_SOURCES=NAME,
            STREAMER_LAKE_DIR=str(lake),
            STREAMER_LAKE_BUFFER_SECONDS="0.2",
            STREAMER_KRAKEN_BOOK_DEPTH="25",
            STREAMER_KRAKEN_BOOK_LEVELS="10",
        )
        settings = load(env)
        [source] = build_sources(settings)
        assert isinstance(source, KrakenSource)
        extra, tracks = source.stats.extra, source.trade_gaps.tracks
        stop = asyncio.Event()
        pipeline = asyncio.create_task(
            run_pipeline([source], LakeSink(settings.lake), stop, clock=now_millis)
        )
        try:
            await until(lambda: extra["book_resubscribes"] >= 1
                        and all(s in tracks and tracks[s].last > 0 for s in SYMBOLS),
                        "a resynced book and trades of every pair")  # fmt: skip
            resynced_at = time.time_ns() // 1000  # µs, the books' sequence
            cut_at = {s: venue.markets[s].next_trade_id for s in SYMBOLS}
            assert venue.cut(hold_trades=HOLD_TRADES) == 1
            await until(lambda: source.stats.connects >= 2 and extra["trades_backfilled"] > 0
                        and not source.trade_backfill.pending
                        and all(tracks[s].last >= cut_at[s] + HOLD_TRADES + 20 for s in SYMBOLS),
                        "the reconnect and its holes filled")  # fmt: skip
        finally:
            stop.set()
            stats = await pipeline
        truth_books = dict(sim.truth.books[NAME])
        sent = {s: dict(sim.truth.trades[(NAME, s)]) for s in SYMBOLS}
        breaches = {k: v for k, v in sim.breaches.counts.items() if k.startswith(NAME)}
    assert stats.failed_sources == {}
    assert breaches == {}, "the client broke one of the venue's limits"
    assert rows(lake, "SELECT count(*) AS n FROM crypto_rejects")[0]["n"] == 0

    # Every trade id between each pair's first and last, equal to what was sent, across the cut.
    trades = rows(lake, "SELECT DISTINCT symbol, trade_id, price, size, side, "
                        "epoch_ms(event_time) AS t FROM crypto_trades")  # fmt: skip
    for symbol in SYMBOLS:
        ids = set()
        for trade in (t for t in trades if t["symbol"] == symbol):
            price, size, side, made_at = sent[symbol][trade["trade_id"]]
            assert (trade["price"], trade["size"], trade["side"], trade["t"]) == (
                Decimal(price), Decimal(size), side, made_at), trade  # fmt: skip
            ids.add(int(trade["trade_id"]))
        assert min(ids) < cut_at[symbol] and max(ids) >= cut_at[symbol] + HOLD_TRADES
        missing = set(range(min(ids), max(ids) + 1)) - ids
        assert not missing, (
            f"{symbol}: {len(missing)} trade ids missing, e.g. {sorted(missing)[:5]}"
        )
    assert extra["trades_backfilled"] >= 20  # the cut's hole came from REST, not the snapshot

    # Every published book is the venue's true book at its timestamp; failed ones were resynced.
    books = rows(lake, "SELECT symbol, sequence, bids, asks FROM crypto_order_books")
    assert {b["symbol"] for b in books} == set(SYMBOLS)
    for book in books:
        true_bids, true_asks = truth_books[(book["symbol"], book["sequence"])]
        for side, true_side in ((book["bids"], true_bids), (book["asks"], true_asks)):
            assert [(lv["price"], lv["size"]) for lv in side] == [
                (Decimal(p), Decimal(q)) for p, q in true_side[:10]], book  # fmt: skip
    mismatches = extra["book_checksum_mismatches"]
    assert 1 <= mismatches <= venue.bad_checksums
    assert extra["book_resubscribes"] >= 1
    for symbol in SYMBOLS:  # proven books of every pair after the first resync
        assert any(b["sequence"] > resynced_at for b in books if b["symbol"] == symbol), symbol
