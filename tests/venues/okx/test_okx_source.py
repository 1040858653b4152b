"""OKX shell on a real loopback socket: channels asked on their routed path, the text
ping/pong keep-alive (a missing pong reconnects), connection requests and subscribe requests
within OKX's limits, a prevSeqId break resynced from REST, trades backfilled by id across a
cut, and liquidations replayed on each subscribe written once."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from streamer.records import BookSnapshot, Item, Liquidation, Trade
from streamer.venues.okx.settings import OkxSettings
from streamer.venues.okx.source import MAX_ARGS_BYTES, OkxSource, requests
from tests.wsserver import Collector, venue


@contextlib.asynccontextmanager
async def running(source: OkxSource, collector: Collector) -> AsyncIterator[None]:
    task = asyncio.create_task(source.run(collector.emit))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def quick(seconds: float) -> None:
    """Backoffs and settles at once; the polls' long periods for real (one poll each)."""
    await asyncio.sleep(0 if seconds <= 2 else seconds)


def rest(answers: dict[str, Any], asked: list[str]) -> Any:
    """REST on the WebSocket port: `answers` by path, each request kept in `asked`; the
    others (the source's polls) answered 404."""

    def process(connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if not url.path.startswith("/api/"):
            return None
        if url.path not in answers:
            return connection.respond(HTTPStatus.NOT_FOUND, '{"code":"404","msg":"no"}')
        asked.append(request.path)
        answer = answers[url.path]
        body = answer(parse_qs(url.query)) if callable(answer) else answer
        response = connection.respond(HTTPStatus.OK, json.dumps(body))
        response.headers["Content-Type"] = "application/json"
        return response

    return process


def settings(url: str, symbols: tuple[str, ...], **kwargs: Any) -> OkxSettings:
    return OkxSettings(symbols=symbols, ws_url=url, rest_url=url.replace("ws", "http"), **kwargs)


async def subscribed(ws: ServerConnection) -> list[dict[str, str]]:
    """The args of the first subscribe request, acknowledged as OKX does."""
    request = json.loads(await ws.recv())
    assert request["op"] == "subscribe"
    for arg in request["args"]:
        await ws.send(json.dumps({"id": request["id"], "event": "subscribe", "arg": arg,
                                  "connId": "a4d3ae55"}))  # fmt: skip
    return request["args"]  # type: ignore[no-any-return]


async def test_each_channel_is_asked_on_its_path() -> None:
    seen: dict[str, list[dict[str, str]]] = {}

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        seen[ws.request.path] = await subscribed(ws)
        await ws.wait_closed()

    async with venue(handler) as url:
        source = OkxSource(settings(url, ("BTC-USDT", "BTC-USDT-PERP")), sleep=quick)
        async with running(source, Collector()), asyncio.timeout(10):
            while len(seen) < 2:
                await asyncio.sleep(0.01)
    public = {(a["channel"], a.get("instId", a.get("instType"))) for a in seen["/ws/v5/public"]}
    business = {(a["channel"], a["instId"]) for a in seen["/ws/v5/business"]}
    assert public == {("liquidation-orders", "SWAP"), ("books", "BTC-USDT"),
                      ("tickers", "BTC-USDT"), ("books", "BTC-USDT-SWAP"),
                      ("tickers", "BTC-USDT-SWAP"), ("funding-rate", "BTC-USDT-SWAP"),
                      ("mark-price", "BTC-USDT-SWAP"), ("open-interest", "BTC-USDT-SWAP"),
                      ("index-tickers", "BTC-USDT")}  # fmt: skip
    assert business == {("trades-all", "BTC-USDT"), ("candle1m", "BTC-USDT"),
                        ("trades-all", "BTC-USDT-SWAP"), ("candle1m", "BTC-USDT-SWAP")}  # fmt: skip


async def test_an_idle_connection_pings_and_a_missing_pong_reconnects() -> None:
    pings: list[int] = []
    connections = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        mine = connections
        await subscribed(ws)
        async for text in ws:
            if text == "ping":
                pings.append(mine)
                if mine == 1:
                    await ws.send("pong")  # the first connection answers, the second does not

    async with venue(handler) as url:
        source = OkxSource(settings(url, ("BTC-USDT",), book_updates=False), sleep=quick,
                           ping_idle=0.2, pong_wait=0.5)  # fmt: skip
        async with running(source, Collector()), asyncio.timeout(20):
            while not source.stats.extra["pongs_missed"]:
                await asyncio.sleep(0.02)
    assert source.decoder.pongs >= 1 and pings.count(1) >= 2  # answered pings keep it open
    assert source.stats.extra["pongs_missed"] >= 1


def test_a_subscribe_request_holds_at_most_64_kb_of_args() -> None:
    args = [{"channel": "books", "instId": f"TOKEN{i:05d}-USDT"} for i in range(3000)]
    texts = requests("subscribe", args, 1)
    sizes = [len(json.dumps(json.loads(t)["args"], separators=(",", ":"))) for t in texts]
    assert len(texts) == 3 and max(sizes) <= MAX_ARGS_BYTES  # 3000 args of 52 bytes
    assert min(sizes[:-1]) > MAX_ARGS_BYTES - 100  # as few requests as fit
    assert [a for t in texts for a in json.loads(t)["args"]] == args


async def test_connection_requests_stay_within_three_a_second() -> None:
    opened: list[float] = []
    loop = asyncio.get_running_loop()

    async def handler(ws: ServerConnection) -> None:
        opened.append(loop.time())
        await subscribed(ws)
        await ws.wait_closed()

    symbols = tuple(f"C{i}-USDT" for i in range(14))
    async with venue(handler) as url:
        source = OkxSource(settings(url, symbols, book_updates=False, args_per_connection=8),
                           sleep=asyncio.sleep)  # fmt: skip
        assert len(source.plans) == 6  # 14 tickers on /public, 28 on /business: 8 a connection
        async with running(source, Collector()), asyncio.timeout(20):
            while len(opened) < 6:
                await asyncio.sleep(0.02)
    opened.sort()
    assert all(b - a >= 0.9 for a, b in zip(opened, opened[3:], strict=False))


def book(action: str, seq: int, prev: int, bids: Any, asks: Any) -> str:
    data = {"asks": asks, "bids": bids, "ts": str(1_700_000_000_000 + seq), "checksum": 0,
            "seqId": seq, "prevSeqId": prev}  # fmt: skip
    return json.dumps({"arg": {"channel": "books", "instId": "BTC-USDT"}, "action": action,
                       "data": [data]})  # fmt: skip


async def test_a_prev_seq_id_break_resyncs_from_rest_and_the_book_equals_a_reference() -> None:
    frames = [
        book("update", 110, 100, [["100.0", "5", "0", "1"]], []),  # no in-stream snapshot
        book("update", 120, 110, [], [["101.5", "1", "0", "1"]]),
        book("update", 130, 125, [["99.5", "2", "0", "1"]], [["102.0", "0", "0", "0"]]),  # break
        book("update", 140, 130, [["98.0", "0", "0", "0"]], [["104.0", "2", "0", "1"]]),
    ]
    snapshots = [
        {"seqId": 105, "bids": [["100.0", "1", "0", "1"]], "asks": [["101.0", "1", "0", "1"]]},
        {"seqId": 127, "bids": [["100.0", "3", "0", "1"], ["98.0", "1", "0", "1"]],
         "asks": [["102.0", "4", "0", "1"]]},
    ]  # fmt: skip
    asked: list[str] = []

    def books(query: dict[str, list[str]]) -> Any:
        assert query == {"instId": ["BTC-USDT"], "sz": ["400"]}
        snapshot = dict(snapshots[min(len(asked), 2) - 1], ts="1700000000000")
        return {"code": "0", "msg": "", "data": [snapshot]}

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        await subscribed(ws)
        if ws.request.path.endswith("/public"):
            for frame in frames:
                await ws.send(frame)
        await ws.wait_closed()

    async with venue(handler, process_request=rest({"/api/v5/market/books": books},
                                                   asked)) as url:  # fmt: skip
        source = OkxSource(settings(url, ("BTC-USDT",)), sleep=quick)
        collector = Collector()

        def done(items: list[Item]) -> bool:
            return any(type(i) is BookSnapshot and i.sequence == 140 for i in items)

        async with running(source, collector):
            await collector.wait_for(done)
    assert len(asked) == 2 and source.stats.extra["depth_resyncs"] == 1
    bids = dict((p, q) for p, q, *_ in snapshots[1]["bids"])
    asks = dict((p, q) for p, q, *_ in snapshots[1]["asks"])
    for frame in frames[2:]:  # the book since the second snapshot, by hand
        data = json.loads(frame)["data"][0]
        bids.update((p, q) for p, q, *_ in data["bids"])
        asks.update((p, q) for p, q, *_ in data["asks"])
    last = [i for i in collector.items if type(i) is BookSnapshot][-1]
    assert last.bids == tuple(sorted(((p, q) for p, q in bids.items() if q != "0"),
                                     key=lambda x: -float(x[0])))  # fmt: skip
    assert last.asks == tuple(sorted(((p, q) for p, q in asks.items() if q != "0"),
                                     key=lambda x: float(x[0])))  # fmt: skip


def trade(tid: int) -> dict[str, str]:
    return {"instId": "BTC-USDT", "tradeId": str(tid), "px": f"100.{tid}", "sz": "0.5",
            "side": "buy" if tid % 2 else "sell", "source": "0",
            "ts": str(1_700_000_000_000 + tid)}  # fmt: skip


async def test_trades_missed_across_a_cut_are_backfilled_by_trade_id() -> None:
    connections = 0
    asked: list[str] = []

    def history(query: dict[str, list[str]]) -> Any:
        after = int(query["after"][0])  # type=1: the trades before this id, newest first
        return {"code": "0", "msg": "", "data": [trade(i) for i in range(after - 1, 0, -1)]}

    async def handler(ws: ServerConnection) -> None:
        nonlocal connections
        assert ws.request is not None
        await subscribed(ws)
        if ws.request.path.endswith("/business"):
            connections += 1
            for tid in (1, 2) if connections == 1 else (6,):
                await ws.send(json.dumps({"arg": {"channel": "trades-all", "instId": "BTC-USDT"},
                                          "data": [trade(tid)]}))  # fmt: skip
            if connections == 1:
                await ws.close(1001, "going away")
                return
        await ws.wait_closed()

    process = rest({"/api/v5/market/history-trades": history}, asked)
    async with venue(handler, process_request=process) as url:
        source = OkxSource(settings(url, ("BTC-USDT",), book_updates=False), sleep=quick)
        collector = Collector()

        def ids(items: list[Item]) -> list[int]:
            return sorted(int(i.trade_id) for i in items if type(i) is Trade)

        async with running(source, collector):
            await collector.wait_for(lambda items: ids(items) == [1, 2, 3, 4, 5, 6])
    assert asked == ["/api/v5/market/history-trades?instId=BTC-USDT&type=1&after=6&limit=100"]
    assert source.stats.extra["trades_backfilled"] == 3
    [five] = [i for i in collector.items if type(i) is Trade and i.trade_id == "5"]
    assert (five.price, five.size, five.side) == ("100.5", "0.5", "buy")


async def test_liquidations_replayed_on_each_subscribe_are_written_once() -> None:
    connections = 0
    detail = {"bkLoss": "0", "bkPx": "0.55205", "ccy": "", "posSide": "short", "side": "buy",
              "sz": "39", "ts": "1680173247614"}  # fmt: skip

    def frame(*details: dict[str, str]) -> str:
        return json.dumps({"arg": {"channel": "liquidation-orders", "instType": "SWAP"},
                           "data": [{"details": list(details), "instFamily": "XRP-USDT",
                                     "instId": "XRP-USDT-SWAP", "instType": "SWAP",
                                     "uly": "XRP-USDT"}]})  # fmt: skip

    async def handler(ws: ServerConnection) -> None:
        nonlocal connections
        assert ws.request is not None
        await subscribed(ws)
        if ws.request.path.endswith("/public"):
            connections += 1
            if connections == 1:
                await ws.send(frame(detail))  # the replay of recent ones, then a cut
                await ws.close(1001, "going away")
                return
            await ws.send(frame(detail, dict(detail, bkPx="0.55", ts="1680173249000")))
        await ws.wait_closed()

    async with venue(handler) as url:
        source = OkxSource(settings(url, ("XRP-USDT-PERP",), book_updates=False), sleep=quick)
        collector = Collector()

        def liquidations(items: list[Item]) -> list[Liquidation]:
            return [i for i in items if type(i) is Liquidation]

        async with running(source, collector):
            await collector.wait_for(lambda items: len(liquidations(items)) == 2)
            await collector.wait_for(lambda items: source.stats.extra["liquidations_replayed"] > 0)
    assert [r.price for r in liquidations(collector.items)] == ["0.55205", "0.55"]
