"""Coinbase Advanced Trade shell on a real socket: subscribing within the venue's 5 s, a
snapshot over 10 MiB, reconnects with replayed trades, refusals, the per-product watchdog;
decoding itself is tested in test_coinbase_decode."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any

import orjson
import pytest
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from streamer.errors import SourceError
from streamer.records import BookSnapshot, Item, Trade
from streamer.retry import BACKOFF_FIRST
from streamer.venues.coinbase.settings import CoinbaseSettings
from streamer.venues.coinbase.source import (
    CoinbaseSource,
    subscribe_messages,
)
from tests.conftest import fixture_text
from tests.venues.coinbase.test_coinbase_decode import candle_frame, frame, l2, trades
from tests.wsserver import Collector, venue

SUBSCRIBE_CHANNELS = ["heartbeats", "ticker", "candles", "level2", "market_trades"]


# -- subscribing -------------------------------------------------------------------------


def test_subscribe_messages_are_one_per_channel_heartbeats_first() -> None:
    messages = [json.loads(m) for m in subscribe_messages(["BTC-USD", "ETH-USD"])]
    assert messages == [
        {"type": "subscribe", "channel": "heartbeats"},
        *(
            {"type": "subscribe", "product_ids": ["BTC-USD", "ETH-USD"], "channel": channel}
            for channel in SUBSCRIBE_CHANNELS[1:]
        ),
    ]


def test_subscribe_messages_match_the_documented_request_shapes() -> None:
    documented = [
        json.loads(line)
        for line in fixture_text("coinbase/advanced_subscribe_requests.jsonl").splitlines()
    ]
    sent = [json.loads(m) for m in subscribe_messages(["BTC-USD"])]
    for request in documented:
        if request["type"] == "subscribe":
            assert request in sent


# -- the asyncio shell against a real WebSocket server -----------------------------------


async def receive_subscriptions(ws: ServerConnection) -> list[dict[str, Any]]:
    """The venue's rule: every subscribe message within 5 s of connecting."""
    async with asyncio.timeout(5):
        return [json.loads(await ws.recv()) for _ in SUBSCRIBE_CHANNELS]


def expected_subscriptions(symbols: list[str]) -> list[dict[str, Any]]:
    return [json.loads(m) for m in subscribe_messages(symbols)]


def cents(n: int) -> str:
    return f"{n // 100}.{n % 100:02d}"


def big_snapshot(levels_per_side: int) -> bytes:
    """A BTC-USD level2 snapshot: bids from 50000.00 down, offers from 50000.01 up."""
    stamp = "2026-09-30T02:39:53.407329Z"

    def level(side: str, price: str, size: str) -> dict[str, str]:
        return {"side": side, "event_time": stamp, "price_level": price, "new_quantity": size}

    updates = [level("bid", cents(5_000_000 - i), "0.12345678") for i in range(levels_per_side)]
    updates += [level("offer", cents(5_000_001 + i), "0.87654321") for i in range(levels_per_side)]
    event = {"type": "snapshot", "product_id": "BTC-USD", "updates": updates}
    stamp = "2026-09-30T02:39:53.670986313Z"
    return orjson.dumps(
        {"channel": "l2_data", "timestamp": stamp, "sequence_num": 0, "events": [event]}
    )


@contextlib.asynccontextmanager
async def running(
    source: CoinbaseSource, collector: Collector
) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(source.run(collector.emit))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_source_subscribes_reads_a_snapshot_over_10_mib_and_publishes_books() -> None:
    snapshot = big_snapshot(60_000)
    assert len(snapshot) > 10 * 1024 * 1024
    received: list[list[dict[str, Any]]] = []

    async def handler(ws: ServerConnection) -> None:
        received.append(await receive_subscriptions(ws))
        await ws.send(snapshot.decode())
        await ws.send(l2(1, "update", [("bid", "50000.00", "0"), ("bid", "50000.005", "2.5")]))
        await ws.send(l2(2, "update", [("offer", "50000.01", "0.5")]))
        await ws.send(trades(3, ("9001", "SELL")))
        await ws.wait_closed()

    async with venue(handler) as url:
        settings = CoinbaseSettings(symbols=("BTC-USD",), ws_url=url, book_interval=0.01)
        source = CoinbaseSource(settings)
        collector = Collector()
        async with running(source, collector):

            def final_book(items: list[Item]) -> bool:
                return any(isinstance(i, BookSnapshot) and i.sequence == 2 for i in items)

            await collector.wait_for(final_book)

    assert received == [expected_subscriptions(["BTC-USD"])]
    [trade] = [i for i in collector.items if isinstance(i, Trade)]
    assert (trade.trade_id, trade.price, trade.side) == ("9001", "100.5", "buy")
    book = next(i for i in collector.items if isinstance(i, BookSnapshot) and i.sequence == 2)
    assert book.bids[:2] == (("50000.005", "2.5"), ("49999.99", "0.12345678"))
    assert book.asks[:2] == (("50000.01", "0.5"), ("50000.02", "0.87654321"))
    assert (len(book.bids), len(book.asks), book.depth) == (20, 20, 20)
    assert source.stats.rejects == 0
    assert source.stats.connects == 1


async def test_source_reconnects_resubscribes_and_drops_replayed_trades() -> None:
    connections: list[list[dict[str, Any]]] = []

    async def handler(ws: ServerConnection) -> None:
        connections.append(await receive_subscriptions(ws))
        await ws.send(l2(0, "snapshot", [("bid", "10", "1"), ("offer", "11", "1")]))
        if len(connections) == 1:
            await ws.send(trades(1, ("1", "BUY")))
            await ws.close()  # the venue drops the first connection after a few frames
            return
        await ws.send(trades(1, ("1", "BUY"), ("2", "SELL")))  # the replay, plus one new trade
        await ws.wait_closed()

    intervals: list[float] = []

    async def sleep(seconds: float) -> None:
        intervals.append(seconds)
        await asyncio.sleep(0.01)

    async with venue(handler) as url:
        settings = CoinbaseSettings(symbols=("BTC-USD", "ETH-USD"), ws_url=url, book_interval=7)
        source = CoinbaseSource(settings, sleep=sleep)
        collector = Collector()
        async with running(source, collector):

            def second_trade(items: list[Item]) -> bool:
                return any(isinstance(i, Trade) and i.trade_id == "2" for i in items)

            await collector.wait_for(second_trade)

    assert source.stats.connects == 2
    assert connections == [expected_subscriptions(["BTC-USD", "ETH-USD"])] * 2
    assert [(i.trade_id, i.side) for i in collector.items if isinstance(i, Trade)] == [
        ("1", "sell"),
        ("2", "buy"),
    ]
    assert source.stats.gaps == 0  # the new connection's counter restarts at 0
    # the book task sleeps its interval; the reconnect backs off by the first backoff step, and
    # the second connection's subscribes wait for the per-IP message budget (8 a second)
    others = [i for i in intervals if i != 7]
    assert 7 in intervals and any(0 <= i <= BACKOFF_FIRST for i in others)
    assert all(0 <= i <= 1.0 for i in others)


async def test_a_refused_connection_ends_run_with_a_plain_source_error() -> None:
    def refuse(connection: ServerConnection, request: Request) -> Response:
        return connection.respond(HTTPStatus.FORBIDDEN, "no\n")

    async def never(ws: ServerConnection) -> None:
        raise AssertionError("the handshake must fail")

    async with venue(never, process_request=refuse) as url:
        source = CoinbaseSource(CoinbaseSettings(ws_url=url))
        with pytest.raises(SourceError, match="HTTP 403"):
            async with asyncio.timeout(10):
                await source.run(Collector().emit)


async def test_a_product_whose_candles_go_quiet_gets_a_fresh_connection() -> None:
    """The candles channel updates every product every second; ETH-USD going silent while
    BTC-USD still flows is a dead subscription, and the client reconnects."""
    connections = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        first = connections == 1
        await receive_subscriptions(ws)
        n = 0
        with contextlib.suppress(ConnectionClosed):
            while True:  # BTC-USD never stops: the connection itself is never silent
                await ws.send(candle_frame(2 * n, "1688998200", "1", product="BTC-USD"))
                if not first or n < 5:  # on the first connection ETH-USD stops after 5
                    await ws.send(candle_frame(2 * n + 1, "1688998200", "1", product="ETH-USD"))
                else:
                    await ws.send(frame("heartbeats", 2 * n + 1, []))
                n += 1
                await asyncio.sleep(0.05)

    async with venue(handler) as url:
        settings = CoinbaseSettings(symbols=("BTC-USD", "ETH-USD"), ws_url=url, stale_seconds=1.0)
        source = CoinbaseSource(settings)
        collector = Collector()
        async with running(source, collector):
            async with asyncio.timeout(15):
                while source.stats.connects < 2:
                    await asyncio.sleep(0.05)
    assert source.stats.stalls >= 1 and connections >= 2
    assert source.stats.rejects == 0


async def test_many_products_spread_over_connections_of_at_most_16_each() -> None:
    products = [f"C{i}-USD" for i in range(40)]
    subscribed: list[list[str]] = []

    async def handler(ws: ServerConnection) -> None:
        messages = await receive_subscriptions(ws)
        mine = next(m["product_ids"] for m in messages if m["channel"] == "level2")
        subscribed.append(mine)
        rows = [{"product_id": p, "trade_id": f"{p}-1", "price": "1.5", "size": "2",
                 "time": "2026-09-30T02:40:00.25Z", "side": "BUY"} for p in mine]  # fmt: skip
        await ws.send(frame("market_trades", 0, [{"type": "update", "trades": rows}]))
        await ws.wait_closed()

    async def sleep(seconds: float) -> None:
        await asyncio.sleep(0)

    async with venue(handler) as url:
        settings = CoinbaseSettings(symbols=tuple(products), ws_url=url, book_interval=3600)
        source = CoinbaseSource(settings, sleep=sleep)
        collector = Collector()
        async with running(source, collector):
            await collector.wait_for(
                lambda items: {i.symbol for i in items if isinstance(i, Trade)} == set(products)
            )
    assert sorted(map(len, subscribed)) == [8, 16, 16]
    assert sorted(p for group in subscribed for p in group) == sorted(products)
    assert source.stats.connects == 3 and source.stats.gaps == 0


async def test_subscribes_of_all_connections_stay_within_8_messages_a_second() -> None:
    """Two connections subscribing at once would send 10 messages in a second; the source
    paces them (the venue closes an IP that sends more than 8)."""
    products = [f"C{i}-USD" for i in range(20)]  # two connections
    arrivals: list[float] = []
    loop = asyncio.get_running_loop()

    async def handler(ws: ServerConnection) -> None:
        async for _ in ws:
            arrivals.append(loop.time())
            if len(arrivals) == 10:
                break
        await ws.wait_closed()

    async with venue(handler) as url:
        settings = CoinbaseSettings(symbols=tuple(products), ws_url=url, book_interval=3600)
        source = CoinbaseSource(settings)  # real sleeps: the pacing is the subject
        collector = Collector()
        async with running(source, collector):
            async with asyncio.timeout(20):
                while len(arrivals) < 10:
                    await asyncio.sleep(0.02)
    arrivals.sort()
    assert all(arrivals[i + 8] - arrivals[i] >= 0.95 for i in range(len(arrivals) - 8))
