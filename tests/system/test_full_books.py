"""Full-depth books end to end: the service against the simulator with `book_updates` on for
both venues; the books replayed from the lake's `book_updates` are the published snapshots and
the simulator's true books."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

from streamer import query
from streamer.book_replay import lake_rows, replay
from streamer.service import run_service
from streamer.settings import load
from streamer.simulator import Simulator, SimulatorConfig
from streamer.venues.coinbase.simulator import CoinbaseSimOptions

SYMBOLS = {"binance": ("BTC-USDT", "ETH-USDT"), "coinbase": ("BTC-USD",)}


def rows(lake: Path, sql: str) -> list[dict[str, Any]]:
    names, result = query.run(lake, sql)
    return [dict(zip(names, row, strict=True)) for row in result]


def published(lake: Path) -> dict[tuple[str, str], list[dict[str, Any]]]:
    books: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for book in rows(lake, "SELECT exchange, symbol, epoch_ms(event_time) AS t, sequence, "
                           "bids, asks FROM crypto_order_books"):  # fmt: skip
        books.setdefault((book["exchange"], book["symbol"]), []).append(book)
    return books


def enough(lake: Path) -> bool:
    if not any(lake.rglob("*.gz")):
        return False
    books = published(lake)
    return all(len(books.get((v, s), [])) >= 20 for v, syms in SYMBOLS.items() for s in syms)


def side(levels: list[dict[str, Decimal]]) -> list[tuple[Decimal, Decimal]]:
    return [(level["price"], level["size"]) for level in levels]


def numbers(levels: Any) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(p), Decimal(q)) for p, q in levels]


async def test_replayed_book_updates_are_the_published_and_the_true_books(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    config = SimulatorConfig(
        port=0,
        rate=300,
        seed=4,
        symbols={"binance": SYMBOLS["binance"], "coinbase": SYMBOLS["coinbase"], "coingecko": ()},
        options={"coinbase": CoinbaseSimOptions(record_books=True)},
    )
    async with Simulator(config) as sim:
        env = sim.environment()
        env.update(
            STREAMER_SOURCES="binance,coinbase",
            STREAMER_LAKE_DIR=str(lake),
            STREAMER_LAKE_BUFFER_SECONDS="0.2",
            STREAMER_BINANCE_BOOK_UPDATES="true",
            STREAMER_BINANCE_DEPTH="10",
            STREAMER_COINBASE_BOOK_UPDATES="true",
            STREAMER_COINBASE_BOOK_INTERVAL="0.2",
        )
        stop = asyncio.Event()
        service = asyncio.create_task(run_service(load(env), stop))
        try:
            async with asyncio.timeout(90):
                while not enough(lake):
                    await asyncio.sleep(0.3)
        finally:
            stop.set()
            stats = await service
        binance_truth = dict(sim.truth.books["binance"])
        coinbase_truth = dict(sim.truth.books["coinbase"])
        breaches = dict(sim.breaches.counts)
    assert stats.failed_sources == {} and breaches == {}
    assert rows(lake, "SELECT count(*) AS n FROM crypto_rejects")[0]["n"] == 0
    books = published(lake)
    for (venue, symbol), sent in books.items():
        updates = lake_rows(lake, venue, symbol)
        assert any(u.is_snapshot for u in updates) and any(not u.is_snapshot for u in updates)
        depth = len(sent[0]["bids"])
        assert depth == (10 if venue == "binance" else 20)
        rebuilt = {(b.event_time, b.sequence): b for b in replay(updates, depth=50)}
        for book in sent:
            replayed = rebuilt[(book["t"], book["sequence"])]
            bids, asks = numbers(replayed.bids), numbers(replayed.asks)
            assert (bids[:depth], asks[:depth]) == (side(book["bids"]), side(book["asks"]))
        for (t, sequence), replayed in rebuilt.items():
            if venue == "binance":
                true_bids, true_asks = binance_truth.get((symbol, sequence), ([], []))
                if not true_bids:  # the snapshot's own state: no diff event ends there
                    continue
            else:
                true_bids, true_asks = coinbase_truth[(t, sequence, symbol)]
            assert numbers(replayed.bids) == numbers(true_bids), (venue, symbol, sequence)
            assert numbers(replayed.asks) == numbers(true_asks), (venue, symbol, sequence)
