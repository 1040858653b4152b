"""Binance Spot shell on a real socket: connection planning, reconnects, serverShutdown, HTTP
451, the stream watchdog; decoding itself is tested in test_binance_decode."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import AsyncIterator
from http import HTTPStatus

import pytest
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from streamer.errors import RestrictedLocation
from streamer.records import BookSnapshot, Candle, Item, Millis, Reject, Ticker, Trade
from streamer.venues.binance.decode import BinanceDecoder, stream_names
from streamer.venues.binance.settings import BinanceSettings
from streamer.venues.binance.source import (
    MAX_REQUEST_TARGET,
    MAX_STREAMS_PER_CONNECTION,
    BinanceSource,
    plan_connections,
)
from tests.conftest import fixture_text
from tests.wsserver import Collector, venue

RECEIVED = Millis(1_790_000_000_000)
CLOSED_KLINE = "binance/kline_1m_closed_combined_binance_us.json"
DEPTH20 = "binance/depth20_100ms_combined_trimmed_2levels.json"
TICKER = "binance/ticker_24hr_combined_probably_testnet.json"
TRADE = "binance/trade_combined_testnet.json"
BOOK_TICKER = "binance/bookTicker_combined.json"


# -- streams and connections -------------------------------------------------------------


def test_exactly_1024_streams_fit_one_connection_and_1025_need_two() -> None:
    streams = [f"s{i}@trade" for i in range(MAX_STREAMS_PER_CONNECTION + 1)]
    assert MAX_STREAMS_PER_CONNECTION == 1024
    plan = functools.partial(plan_connections, "ws://127.0.0.1:9", max_target=100_000)
    [url] = plan(streams[:1024])
    assert url == "ws://127.0.0.1:9/stream?streams=" + "/".join(streams[:1024])
    first, second = plan(streams)
    assert first == url
    assert second == "ws://127.0.0.1:9/stream?streams=s1024@trade"


def test_no_request_line_outgrows_what_binance_accepts() -> None:
    """150 symbols made one 11,881-character URL, which Binance refuses (about 8,004)."""
    settings = BinanceSettings(symbols=tuple(f"COIN{i}-USDT" for i in range(150)))
    streams = stream_names(settings)
    urls = plan_connections("wss://stream.binance.com:9443", streams)
    targets = [u.removeprefix("wss://stream.binance.com:9443") for u in urls]
    assert all(len(t) <= MAX_REQUEST_TARGET for t in targets)
    assert all(len(t) > MAX_REQUEST_TARGET - 40 for t in targets[:-1])  # filled, not split early
    carried = [name for t in targets for name in t.removeprefix("/stream?streams=").split("/")]
    assert carried == streams  # every stream once, in order
    assert len(urls) == 2


def test_the_source_plans_connections_from_its_symbols() -> None:
    def symbols(n: int) -> tuple[str, ...]:
        return tuple(f"C{i}-USDT" for i in range(n))

    url = "wss://data-stream.binance.vision"
    urls = BinanceSource(BinanceSettings(symbols=symbols(257), ws_url=url)).urls
    assert [len(u) - len(url) <= MAX_REQUEST_TARGET for u in urls] == [True] * len(urls)
    assert urls[-1].endswith("c256usdt@depth20@100ms/c256usdt@trade")
    assert len(BinanceSource(BinanceSettings(symbols=symbols(100), ws_url=url)).urls) == 1


@contextlib.asynccontextmanager
async def running(source: BinanceSource, collector: Collector) -> AsyncIterator[None]:
    task = asyncio.create_task(source.run(collector.emit))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


def trade_frame(trade_id: int) -> str:
    msg = json.loads(fixture_text(TRADE))
    msg["data"]["t"] = trade_id
    return json.dumps(msg)


def trade_ids(items: list[Item]) -> list[str]:
    return [i.trade_id for i in items if isinstance(i, Trade)]


async def test_source_reads_its_lowercase_streams_and_emits_exact_rows() -> None:
    paths: list[str] = []
    frames = [fixture_text(f) for f in (TICKER, DEPTH20, CLOSED_KLINE, BOOK_TICKER, TRADE)]

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        paths.append(ws.request.path)
        for frame in frames:
            await ws.send(frame)
        await ws.wait_closed()

    async with venue(handler) as url:
        settings = BinanceSettings(symbols=("BTC-USDT", "OMG-BUSD"), ws_url=url)
        source = BinanceSource(settings, clock=lambda: RECEIVED)
        collector = Collector()
        async with running(source, collector):
            await collector.wait_for(lambda items: len(items) == len(frames))

    assert paths == [
        "/stream?streams=btcusdt@ticker/btcusdt@kline_1m/btcusdt@depth20@100ms/btcusdt@trade/"
        "omgbusd@ticker/omgbusd@kline_1m/omgbusd@depth20@100ms/omgbusd@trade"
    ]
    expected = [item for f in frames for item in BinanceDecoder(settings).decode(f, RECEIVED)]
    assert collector.items == expected
    assert [type(i) for i in collector.items] == [Ticker, BookSnapshot, Candle, Reject, Trade]
    stats = source.stats
    assert (stats.connects, stats.frames, stats.rows, stats.rejects) == (1, 5, 4, 1)
    assert stats.last_frame_at == RECEIVED


async def test_http_451_ends_run_with_restricted_location_naming_the_setting() -> None:
    body = fixture_text("binance/rest_error_451_restricted_location.json")

    def refuse(connection: ServerConnection, request: Request) -> Response:
        return connection.respond(HTTPStatus.UNAVAILABLE_FOR_LEGAL_REASONS, body)

    async def never(ws: ServerConnection) -> None:
        raise AssertionError("the handshake must fail")

    async with venue(never, process_request=refuse) as url:
        symbols = tuple(f"C{i}-USDT" for i in range(300))  # several connections, all refused
        source = BinanceSource(BinanceSettings(symbols=symbols, ws_url=url), sleep=no_wait)
        assert len(source.urls) > 1
        with pytest.raises(RestrictedLocation) as caught:  # the error itself, not a group
            async with asyncio.timeout(10):
                await source.run(Collector().emit)
    message = str(caught.value)
    assert "HTTP 451" in message
    assert "STREAMER_BINANCE_WS_URL" in message
    assert "binance.us" in message
    assert source.stats.connects == 0


async def test_source_reconnects_after_the_venue_drops_the_connection() -> None:
    connections = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        await ws.send(trade_frame(connections))
        if connections == 1:
            await ws.close(1001, "going away")
            return
        await ws.wait_closed()

    async with venue(handler) as url:
        source = BinanceSource(BinanceSettings(ws_url=url), sleep=no_wait)
        collector = Collector()
        async with running(source, collector):
            await collector.wait_for(lambda items: "2" in trade_ids(items))

    assert trade_ids(collector.items) == ["1", "2"]
    assert source.stats.connects == 2
    assert source.stats.rows == 2


async def test_server_shutdown_closes_the_connection_and_reconnects() -> None:
    closes: list[tuple[int | None, str | None]] = []

    async def handler(ws: ServerConnection) -> None:
        first = not closes
        await ws.send(trade_frame(1 if first else 2))
        if first:
            await ws.send(fixture_text("binance/serverShutdown_combined_docexample.json"))
        await ws.wait_closed()  # the client must close this one itself
        closes.append((ws.close_code, ws.close_reason))

    async with venue(handler) as url:
        source = BinanceSource(BinanceSettings(ws_url=url), sleep=no_wait)
        collector = Collector()
        async with running(source, collector):
            await collector.wait_for(lambda items: "2" in trade_ids(items))

    assert closes[0] == (1000, "serverShutdown")
    assert trade_ids(collector.items) == ["1", "2"]
    assert source.stats.connects == 2
    assert source.stats.extra["server_shutdowns"] == 1
    assert source.stats.rejects == 0


async def test_a_book_stream_that_goes_quiet_gets_a_fresh_connection() -> None:
    """The ticker keeps the connection busy, but the book stream never ticks: a dead
    subscription, so the client closes the connection itself and opens a new one."""
    closes: list[str | None] = []
    ticker = fixture_text(TICKER)  # btcusdt@ticker

    async def handler(ws: ServerConnection) -> None:
        with contextlib.suppress(Exception):
            while True:  # the ticker never stops: the connection itself is never silent
                await ws.send(ticker)
                await asyncio.sleep(0.05)
        await ws.wait_closed()
        closes.append(ws.close_reason)

    async with venue(handler) as url:
        source = BinanceSource(BinanceSettings(ws_url=url, stale_seconds=1.0), sleep=no_wait)
        async with running(source, Collector()):
            async with asyncio.timeout(15):
                while source.stats.connects < 2 or not closes:
                    await asyncio.sleep(0.05)
    assert closes[0] == "stale stream"
    assert source.stats.stalls >= 1
    assert source.stats.rejects == 0
