"""Binance USD-M shell on a real loopback socket: routed paths per stream kind, a silent
acknowledged subscription flagged, a `pu` break resynced from REST, trades backfilled by id."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from streamer.metrics import EmfReporter
from streamer.records import BookSnapshot, Item, Trade
from streamer.service import feed_counters
from streamer.venues.binance.usdm_settings import UsdmSettings
from streamer.venues.binance.usdm_source import UsdmSource
from tests.wsserver import Collector, venue

SYMBOL = "BTC-USDT-PERP"


@contextlib.asynccontextmanager
async def running(source: UsdmSource, collector: Collector) -> AsyncIterator[None]:
    task = asyncio.create_task(source.run(collector.emit))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


def agg_trade(trade_id: int) -> str:
    data = {"e": "aggTrade", "E": 1_700_000_000_000 + trade_id, "s": "BTCUSDT", "a": trade_id,
            "p": f"100.{trade_id}", "q": "0.5", "f": trade_id, "l": trade_id,
            "T": 1_700_000_000_000 + trade_id, "m": trade_id % 2 == 0}  # fmt: skip
    return json.dumps({"stream": "btcusdt@aggTrade", "data": data})


def diff(first: int, final: int, previous: int, bids: Any, asks: Any) -> str:
    at = 1_700_000_000_000 + final
    data = {"e": "depthUpdate", "E": at, "T": at, "s": "BTCUSDT", "U": first, "u": final,
            "pu": previous, "b": bids, "a": asks}  # fmt: skip
    return json.dumps({"stream": "btcusdt@depth@100ms", "data": data})


def rest(answers: dict[str, Any], asked: list[str]) -> Any:
    """`process_request` serving REST paths (plain HTTP on the same port) from `answers`,
    each kept in `asked`; others (the source's polls) are refused with a 404."""

    def process(connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if not url.path.startswith("/fapi/"):
            return None  # a WebSocket
        if url.path not in answers:
            return connection.respond(HTTPStatus.NOT_FOUND, '{"code":-1,"msg":"Not found"}')
        asked.append(request.path)
        answer = answers[url.path]
        body = answer(parse_qs(url.query)) if callable(answer) else answer
        response = connection.respond(HTTPStatus.OK, json.dumps(body))
        response.headers["Content-Type"] = "application/json"
        return response

    return process


async def test_each_stream_kind_is_asked_on_its_routed_path() -> None:
    paths: list[str] = []

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        paths.append(ws.request.path)
        await ws.wait_closed()

    async with venue(handler) as url:
        settings = UsdmSettings(symbols=(SYMBOL,), ws_url=url, rest_url="http://127.0.0.1:9")
        source = UsdmSource(settings, sleep=no_wait)
        async with running(source, Collector()):
            async with asyncio.timeout(10):
                while len(paths) < 2:
                    await asyncio.sleep(0.01)
    assert sorted(paths) == [
        "/market/stream?streams=!markPrice@arr@1s/!forceOrder@arr/btcusdt@aggTrade/"
        "btcusdt@kline_1m/btcusdt@ticker",
        "/public/stream?streams=btcusdt@depth@100ms",
    ]
    trade = UsdmSource(UsdmSettings(symbols=(SYMBOL,), trades="trade", book_updates=False))
    assert sorted(trade.urls) == [
        "wss://fstream.binance.com/market/stream?streams=!markPrice@arr@1s/!forceOrder@arr/"
        "btcusdt@kline_1m/btcusdt@ticker",
        "wss://fstream.binance.com/public/stream?streams=btcusdt@trade",
    ]


def test_connections_hold_at_most_the_streams_per_connection_setting() -> None:
    symbols = tuple(f"C{i}-USDT-PERP" for i in range(5))
    settings = UsdmSettings(symbols=symbols, streams_per_connection=3, book_updates=False)
    urls = UsdmSource(settings).urls
    counts = [len(u.split("streams=")[1].split("/")) for u in urls]
    assert counts == [3, 3, 3, 3, 3, 2]  # 2 all-market + 5 aggTrade, kline, ticker: /market
    assert all("/market/stream?" in u for u in urls)


async def test_an_acknowledged_but_silent_subscription_is_flagged_within_the_stale_limit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The connection is accepted (the subscription acknowledged) and nothing ever comes: the
    mark price stream, which ticks every second, is flagged; the liquidations are not."""

    async def handler(ws: ServerConnection) -> None:
        await ws.wait_closed()

    caplog.set_level(logging.ERROR, "streamer.venues.binance.usdm_source")
    async with venue(handler) as url:
        settings = UsdmSettings(symbols=(SYMBOL,), ws_url=url, book_updates=False,
                                stale_seconds=1.0)  # fmt: skip
        source = UsdmSource(settings, sleep=no_wait)
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with running(source, Collector()):
            async with asyncio.timeout(10):
                while not source.stats.extra["subscriptions_silent"]:
                    await asyncio.sleep(0.05)
        flagged_after = loop.time() - started
    assert flagged_after < 1.0 + 2 * 1.0  # the limit, plus the watchdog's one-second checks
    [record] = [r for r in caplog.records if "subscription_silent" in r.getMessage()]
    assert "!markPrice@arr@1s" in record.getMessage()
    assert "forceOrder" not in record.getMessage()
    # and alarmed: the count is a CloudWatch metric of its own
    event = EmfReporter({"Service": "streamer"}).event(feed_counters([source]), 0)
    assert event["SilentSubscriptions"] == source.stats.extra["subscriptions_silent"] > 0
    assert {"Name": "SilentSubscriptions", "Unit": "Count"} in (
        event["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    )


async def test_a_pu_break_resyncs_from_rest_and_the_book_equals_one_rebuilt_from_frames() -> None:
    snapshots: list[dict[str, Any]] = [
        {"lastUpdateId": 105, "bids": [["100.0", "1"], ["99.0", "2"]], "asks": [["101.0", "1"]]},
        {"lastUpdateId": 127, "bids": [["100.0", "3"], ["98.0", "1"]], "asks": [["102.0", "4"]]},
    ]
    events = [
        (100, 110, 95, [["100.0", "5"]], []),
        (111, 120, 110, [], [["101.5", "1"]]),
        (126, 130, 125, [["99.5", "2"]], [["102.0", "0"], ["103.0", "1"]]),  # pu 125 != 120
        (131, 140, 130, [["98.0", "0"]], [["104.0", "2"]]),
    ]
    asked: list[str] = []

    def depth(query: dict[str, list[str]]) -> Any:
        assert query == {"symbol": ["BTCUSDT"], "limit": ["1000"]}
        return snapshots[min(len(asked), 2) - 1]

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        if ws.request.path.startswith("/public"):
            for event in events:
                await ws.send(diff(*event))
        await ws.wait_closed()

    process = rest({"/fapi/v1/depth": depth}, asked)
    async with venue(handler, process_request=process) as url:
        settings = UsdmSettings(symbols=(SYMBOL,), ws_url=url, rest_url=url.replace("ws", "http"))
        source = UsdmSource(settings, sleep=no_wait)
        collector = Collector()

        def done(items: list[Item]) -> bool:
            return any(type(i) is BookSnapshot and i.sequence == 140 for i in items)

        async with running(source, collector):
            await collector.wait_for(done)
    assert len(asked) == 2 and source.stats.extra["depth_resyncs"] == 1
    bids = {p: q for p, q in snapshots[1]["bids"]}
    asks = {p: q for p, q in snapshots[1]["asks"]}
    for _, _, _, b, a in events[2:]:  # the book since the second snapshot, rebuilt by hand
        bids.update(dict(b))
        asks.update(dict(a))
    want_bids = sorted(((p, q) for p, q in bids.items() if q != "0"), key=lambda x: -float(x[0]))
    want_asks = sorted(((p, q) for p, q in asks.items() if q != "0"), key=lambda x: float(x[0]))
    last = [i for i in collector.items if type(i) is BookSnapshot][-1]
    assert [tuple(x) for x in last.bids] == want_bids
    assert [tuple(x) for x in last.asks] == want_asks


async def test_trades_missed_across_a_cut_are_backfilled_by_id() -> None:
    connections = 0
    asked: list[str] = []

    def agg_trades(query: dict[str, list[str]]) -> Any:
        first = int(query["fromId"][0])
        return [json.loads(agg_trade(i))["data"] for i in range(first, 7)]

    async def handler(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        for trade_id in (1, 2) if connections == 1 else (6,):
            await ws.send(agg_trade(trade_id))
        if connections == 1:
            await ws.close(1001, "going away")
            return
        await ws.wait_closed()

    process = rest({"/fapi/v1/aggTrades": agg_trades}, asked)
    async with venue(handler, process_request=process) as url:
        settings = UsdmSettings(symbols=(SYMBOL,), ws_url=url, rest_url=url.replace("ws", "http"),
                                book_updates=False)  # fmt: skip
        source = UsdmSource(settings, sleep=no_wait)
        collector = Collector()

        def ids(items: list[Item]) -> list[int]:
            return sorted(int(i.trade_id) for i in items if type(i) is Trade)

        async with running(source, collector):
            await collector.wait_for(lambda items: ids(items) == [1, 2, 3, 4, 5, 6])
    assert asked == ["/fapi/v1/aggTrades?symbol=BTCUSDT&fromId=3&limit=1000"]
    assert {i.exchange for i in collector.items if type(i) is Trade} == {"binance_usdm"}
    assert source.stats.extra["trades_backfilled"] == 3
