"""Kraken shell on a real loopback socket: trades complete by id across a cut (REST backfill by
time), `Exceeded msg rate` answered without losing a subscription, a failed book resubscribed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import zlib
from collections.abc import AsyncIterator, Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from streamer.records import BookSnapshot, Item, Trade
from streamer.venues.kraken.settings import KrakenSettings
from streamer.venues.kraken.source import KrakenSource
from tests.wsserver import Collector, venue

PAIRS = {"XXBTZUSD": {"altname": "XBTUSD", "wsname": "XBT/USD", "base": "XXBT", "quote": "ZUSD",
                      "pair_decimals": 1, "lot_decimals": 8, "status": "online"}}  # fmt: skip
T0 = 1_783_641_600  # 2026-07-10T00:00:00Z


@contextlib.asynccontextmanager
async def running(source: KrakenSource, collector: Collector) -> AsyncIterator[None]:
    task = asyncio.create_task(source.run(collector.emit))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


def stamp(trade_id: int) -> str:
    return f"2026-07-10T00:00:{trade_id:02d}.000000Z"


def trade(trade_id: int) -> dict[str, Any]:
    return {"symbol": "BTC/USD", "side": "buy" if trade_id % 2 else "sell",
            "price": f"100.{trade_id}", "qty": "0.25", "ord_type": "limit",
            "trade_id": trade_id, "timestamp": stamp(trade_id)}  # fmt: skip


def trades_frame(kind: str, ids: list[int]) -> str:
    # prices written as JSON numbers, as v2 sends them
    text = json.dumps({"channel": "trade", "type": kind, "data": [trade(i) for i in ids]})
    for i in ids:
        text = text.replace(f'"100.{i}"', f"100.{i}").replace('"0.25"', "0.25")
    return text


def rest(answers: dict[str, Callable[[dict[str, list[str]]], Any]], asked: list[str]) -> Any:
    """`process_request` serving `/0/public/...` on the WebSocket's port from `answers`."""

    def process(connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if not url.path.startswith("/0/"):
            return None
        asked.append(request.path)
        answer = answers.get(url.path)
        body = {"error": ["EGeneral:Unknown method"]} if answer is None else answer(
            parse_qs(url.query))  # fmt: skip
        response = connection.respond(HTTPStatus.OK, json.dumps(body))
        response.headers["Content-Type"] = "application/json"
        return response

    return process


def ack(request: dict[str, Any], symbol: str, ok: bool = True, error: str = "") -> str:
    answer: dict[str, Any] = {"method": request["method"], "req_id": request["req_id"],
                              "success": ok, "time_in": "x", "time_out": "y"}  # fmt: skip
    if ok:
        answer["result"] = {"channel": request["params"]["channel"], "symbol": symbol}
    else:
        answer["error"] = error
        answer["symbol"] = symbol
    return json.dumps(answer)


def pairs_answer(query: dict[str, list[str]]) -> Any:
    return {"error": [], "result": PAIRS}


async def test_trades_missed_across_a_cut_are_backfilled_by_time_and_kept_by_id() -> None:
    connections = 0
    asked: list[str] = []

    def recent(query: dict[str, list[str]]) -> Any:
        rows = [[f"100.{i}0000", "0.25000000", f"{T0 + i}.{i:06d}", "b", "l", "", i]
                for i in range(1, 8)]  # fmt: skip
        return {"error": [], "result": {"XXBTZUSD": rows, "last": str((T0 + 7) * 10**9)}}

    async def handler(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        async for message in ws:
            request = json.loads(message)
            if request["params"]["channel"] != "trade":
                await ws.send(ack(request, "BTC/USD"))
                continue
            await ws.send(ack(request, "BTC/USD"))
            if connections == 1:
                await ws.send(trades_frame("snapshot", [1, 2]))
                await ws.close(1001, "going away")
                return
            await ws.send(trades_frame("snapshot", [6]))  # the replayed recent trades

    process = rest({"/0/public/AssetPairs": pairs_answer, "/0/public/Trades": recent}, asked)
    async with venue(handler, process_request=process) as url:
        settings = KrakenSettings(symbols=("BTC-USD",), ws_url=url,
                                  rest_url=url.replace("ws", "http"))  # fmt: skip
        source = KrakenSource(settings, sleep=no_wait)
        collector = Collector()

        def ids(items: list[Item]) -> list[int]:
            return sorted(int(i.trade_id) for i in items if type(i) is Trade)

        async with running(source, collector):
            await collector.wait_for(lambda items: ids(items) == [1, 2, 3, 4, 5, 6])
    trades_asked = [a for a in asked if a.startswith("/0/public/Trades")]
    # from the time of trade 2 (the one before the hole), in nanoseconds, by its REST name
    since = (T0 * 1000 + 2_000) * 1_000_000  # 00:00:02.000 as the WS frame wrote it
    assert trades_asked == [f"/0/public/Trades?pair=XBTUSD&since={since}&count=1000"]
    backfilled = [i for i in collector.items if type(i) is Trade and i.trade_id in "345"]
    assert [(t.price, t.side) for t in backfilled] == [("100.30000", "buy"), ("100.40000", "buy"),
                                                       ("100.50000", "buy")]  # fmt: skip
    assert source.stats.extra["trades_backfilled"] == 3
    assert source.trade_gaps.repeats == 0


def book_frame(kind: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]],
               checksum: int | None = None) -> str:  # fmt: skip
    def side(levels: list[tuple[str, str]]) -> str:
        return ",".join(f'{{"price":{p},"qty":{q}}}' for p, q in levels)

    if checksum is None:
        text = "".join(p.replace(".", "").lstrip("0") + q.replace(".", "").lstrip("0")
                       for p, q in asks + bids)  # fmt: skip
        checksum = zlib.crc32(text.encode())
    return (f'{{"channel":"book","type":"{kind}","data":[{{"symbol":"BTC/USD","bids":'
            f'[{side(bids)}],"asks":[{side(asks)}],"checksum":{checksum},'
            f'"timestamp":"2026-07-10T00:00:00.000001Z"}}]}}')  # fmt: skip


BIDS = [("100.0", "1.00000000")]
ASKS = [("101.0", "2.00000000")]


async def heartbeats(ws: ServerConnection) -> None:
    with contextlib.suppress(Exception):
        while True:
            await ws.send('{"channel":"heartbeat"}')
            await asyncio.sleep(0.05)


async def test_exceeded_msg_rate_backs_off_and_asks_again_without_losing_a_subscription() -> None:
    requests: list[dict[str, Any]] = []

    async def handler(ws: ServerConnection) -> None:
        beat = asyncio.create_task(heartbeats(ws))
        try:
            async for message in ws:
                request = json.loads(message)
                requests.append(request)
                channel = request["params"]["channel"]
                books_asked = sum(r["params"]["channel"] == "book" for r in requests)
                if channel == "book" and books_asked == 1:  # the first book request: too fast
                    await ws.send(ack(request, "BTC/USD", ok=False, error="Exceeded msg rate"))
                    continue
                await ws.send(ack(request, "BTC/USD"))
                if channel == "book":
                    await ws.send(book_frame("snapshot", BIDS, ASKS))
        finally:
            beat.cancel()

    process = rest({"/0/public/AssetPairs": pairs_answer}, [])
    async with venue(handler, process_request=process) as url:
        settings = KrakenSettings(symbols=("BTC-USD",), ws_url=url,
                                  rest_url=url.replace("ws", "http"))  # fmt: skip
        source = KrakenSource(settings, sleep=no_wait)
        collector = Collector()
        async with running(source, collector):
            await collector.wait_for(lambda items: any(type(i) is BookSnapshot for i in items))
            [session] = source.sessions
            async with asyncio.timeout(10):
                while session.pending:
                    await asyncio.sleep(0.02)
    channels = [r["params"]["channel"] for r in requests if r["method"] == "subscribe"]
    assert sorted(channels) == ["book", "book", "ohlc", "ticker", "trade"]  # book asked twice
    first, again = [r for r in requests if r["params"]["channel"] == "book"]
    assert again["params"] == first["params"] == {"channel": "book", "symbol": ["BTC/USD"],
                                                  "depth": 10, "snapshot": True}  # fmt: skip
    assert again["req_id"] != first["req_id"]
    assert source.stats.extra["rate_limited_ws"] == 1
    assert not source.stats.extra["subscriptions_refused"]
    assert not [i for i in collector.items if type(i).__name__ == "Reject"]


async def test_a_book_that_fails_its_checksum_is_resubscribed_and_the_new_one_published() -> None:
    requests: list[dict[str, Any]] = []
    snapshots = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal snapshots
        beat = asyncio.create_task(heartbeats(ws))
        try:
            async for message in ws:
                request = json.loads(message)
                requests.append(request)
                await ws.send(ack(request, "BTC/USD"))
                if request["params"]["channel"] != "book" or request["method"] != "subscribe":
                    continue
                snapshots += 1
                await ws.send(book_frame("snapshot", BIDS, ASKS))
                if snapshots == 1:  # a wrong checksum on the first update
                    await ws.send(book_frame("update", [("100.0", "3.00000000")], [], 12345))
        finally:
            beat.cancel()

    process = rest({"/0/public/AssetPairs": pairs_answer}, [])
    async with venue(handler, process_request=process) as url:
        settings = KrakenSettings(symbols=("BTC-USD",), ws_url=url,
                                  rest_url=url.replace("ws", "http"))  # fmt: skip
        source = KrakenSource(settings, sleep=no_wait)
        collector = Collector()

        def two_books(items: list[Item]) -> bool:
            return sum(type(i) is BookSnapshot for i in items) == 2

        async with running(source, collector):
            await collector.wait_for(two_books)
    book_requests = [(r["method"], r["params"]["channel"]) for r in requests
                     if r["params"]["channel"] == "book"]  # fmt: skip
    assert book_requests == [("subscribe", "book"), ("unsubscribe", "book"), ("subscribe", "book")]
    assert source.stats.extra["book_checksum_mismatches"] == 1
    assert source.stats.extra["book_resubscribes"] == 1
    published = [i for i in collector.items if type(i) is BookSnapshot]
    assert all(b.bids == (("100.0", "1.00000000"),) for b in published)  # never the failed one
