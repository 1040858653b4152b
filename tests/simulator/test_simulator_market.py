"""A whole synthetic market: listings, discovery REST, silent non-trading symbols, and 1,000
Binance symbols x 4 streams on 4 connections served promptly."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from streamer.simulator import Simulator, SimulatorConfig
from streamer.simulator.venue import VenueConfig
from streamer.venues.binance.simulator import listings as binance_listings
from streamer.venues.coinbase.simulator import listings as coinbase_listings

KINDS = ("ticker", "kline_1m", "depth20@100ms", "trade")
DEPTH = "depth20@100ms"
TRADING = 971  # of the 1,000 generated symbols (the rest are in BREAK or HALT)


def test_listings_are_named_mixed_and_partly_not_trading() -> None:
    listed = binance_listings(VenueConfig(("BTC-USDT",), 200, 1.0))
    assert [item.symbol for item in listed[:3]] == ["BTC-USDT", "C0001-USDT", "C0002-USDT"]
    assert {item.quote for item in listed} == {"USDT", "BTC", "FDUSD", "USDC"}
    halted = {item.symbol: item.status for item in listed if not item.trading}
    assert halted["C0017-FDUSD"] == "BREAK" and halted["C0041-USDT"] == "HALT"
    assert 0 < len(halted) <= 0.05 * len(listed)
    assert all(item.weight == 0 for item in listed if not item.trading)
    assert listed[0].weight > listed[1].weight > listed[100].weight > 0
    assert listed == binance_listings(VenueConfig(("BTC-USDT",), 200, 1.0))  # deterministic
    products = coinbase_listings(VenueConfig((), 100, 1.0))
    assert {(p.status, p.disabled) for p in products if not p.trading} == {
        ("delisted", False),
        ("online", True),
    }


@pytest.fixture
async def market() -> AsyncIterator[Simulator]:
    config = SimulatorConfig(
        port=0,
        rate=500,
        symbols={"binance": ("BTC-USDT",), "coinbase": ("BTC-USD",), "coingecko": ()},
        markets={"binance": 120, "coinbase": 60},
    )
    async with Simulator(config) as simulator:
        yield simulator


async def test_exchange_info_lists_every_symbol_with_its_status(market: Simulator) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{market.port}/api/v3") as client:
        info = await client.get("/exchangeInfo", params={"permissions": '["SPOT"]'})
        trading = await client.get("/exchangeInfo", params={"symbolStatus": "TRADING"})
        margin = (await client.get("/exchangeInfo", params={"permissions": "MARGIN"})).json()
    assert info.headers["X-MBX-USED-WEIGHT-1M"] == "20"
    body = info.json()
    assert body["timezone"] == "UTC" and isinstance(body["serverTime"], int)
    assert {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
            "limit": 6000} in body["rateLimits"]  # fmt: skip
    symbols = {s["symbol"]: s for s in body["symbols"]}
    assert len(symbols) == 121
    assert symbols["C0017FDUSD"]["status"] == "BREAK" and symbols["C0041USDT"]["status"] == "HALT"
    assert symbols["C0002USDT"]["baseAsset"] == "C0002"
    assert symbols["C0002USDT"]["quoteAsset"] == "USDT"
    assert symbols["BTCUSDT"]["permissionSets"] == [["SPOT"]]
    statuses = {s["status"] for s in trading.json()["symbols"]}
    assert statuses == {"TRADING"} and len(trading.json()["symbols"]) == 121 - 4
    assert margin["symbols"] and all(s["isMarginTradingAllowed"] for s in margin["symbols"])


async def test_ticker_24hr_for_all_ranks_by_activity(market: Simulator) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{market.port}/api/v3") as client:
        answer = await client.get("/ticker/24hr")
        some = await client.get("/ticker/24hr", params={"symbols": '["BTCUSDT","C0001USDT"]'})
    assert answer.headers["X-MBX-USED-WEIGHT-1M"] == "80"
    tickers = {t["symbol"]: t for t in answer.json()}
    assert len(tickers) == 121 and isinstance(tickers["C0001USDT"]["quoteVolume"], str)
    volume = {s: float(t["quoteVolume"]) for s, t in tickers.items()}
    assert volume["C0001USDT"] > volume["C0050USDT"] > volume["C0110USDT"] > 0
    assert volume["C0017FDUSD"] == 0  # in BREAK: never traded
    assert [t["symbol"] for t in some.json()] == ["BTCUSDT", "C0001USDT"]
    assert some.headers["X-MBX-USED-WEIGHT-1M"] == "82"


async def test_coinbase_products_list_every_product_with_its_status(market: Simulator) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{market.port}") as client:
        answer = await client.get(
            "/api/v3/brokerage/market/products", params={"product_type": "SPOT"}
        )
    body = answer.json()
    assert body["num_products"] == 61 == len(body["products"])
    products = {p["product_id"]: p for p in body["products"]}
    assert products["C0013-USDC"]["status"] == "delisted"
    assert products["C0029-USD"]["trading_disabled"] is True
    one = products["C0001-USD"]
    assert (one["base_currency_id"], one["quote_currency_id"], one["product_type"]) == (
        "C0001",
        "USD",
        "SPOT",
    )
    assert one["status"] == "online" and one["trading_disabled"] is False
    assert float(one["approximate_quote_24h_volume"]) > 0 and "volume_24h" in one


async def test_non_trading_binance_symbols_are_acknowledged_then_silent(
    market: Simulator,
) -> None:
    halted = ["c0017fdusd@trade", "c0017fdusd@ticker", "c0041usdt@depth20@100ms"]
    live = ["btcusdt@ticker", "btcusdt@depth20@100ms"]
    url = f"ws://127.0.0.1:{market.port}/stream?streams={'/'.join(live)}"
    seen: collections.Counter[str] = collections.Counter()
    async with connect(url) as ws:
        await ws.send(orjson.dumps({"method": "SUBSCRIBE", "params": halted, "id": 1}).decode())
        async with asyncio.timeout(5):
            while seen["btcusdt@ticker"] < 2:  # two ticker seconds: the halted one had its turn
                frame = orjson.loads(await ws.recv())
                seen[frame.get("stream", f"reply {frame.get('id')}")] += 1
    assert seen["reply 1"] == 1 and seen["btcusdt@depth20@100ms"] >= 5
    assert not any(seen[name] for name in halted)


async def test_non_trading_coinbase_products_are_acknowledged_then_silent(
    market: Simulator,
) -> None:
    products = ["BTC-USD", "C0013-USDC", "C0029-USD"]
    message = {"type": "subscribe", "channel": "level2", "product_ids": products}
    acked: list[str] = []
    seen: set[str] = set()
    async with connect(f"ws://127.0.0.1:{market.port}/coinbase", max_size=2**24) as ws:
        await ws.send(orjson.dumps(message).decode())
        async with asyncio.timeout(5):
            while len([n for n in seen if n == "BTC-USD"]) < 1 or not acked:
                frame = orjson.loads(await ws.recv())
                if frame["channel"] == "subscriptions":
                    acked = frame["events"][0]["subscriptions"]["level2"]
                for event in frame["events"]:
                    if "product_id" in event:
                        seen.add(event["product_id"])
            for _ in range(30):  # thirty more updates: none for the silent ones
                frame = orjson.loads(await ws.recv())
                seen.update(e.get("product_id", "") for e in frame["events"])
    assert acked == sorted(products)
    assert "BTC-USD" in seen and not seen & {"C0013-USDC", "C0029-USD"}


def _plan(port: int, count: int, connections: int) -> list[tuple[str, list[list[str]]]]:
    """`connections` URLs (within 7,900 characters) with the rest of their share of `count`
    symbols x 4 streams to SUBSCRIBE in batches of 300."""
    streams = [
        f"{item.symbol.replace('-', '').lower()}@{kind}"
        for item in binance_listings(VenueConfig((), count, 1.0))
        for kind in KINDS
    ]
    share = -(-len(streams) // connections)
    plans = []
    for start in range(0, len(streams), share):
        mine, in_url = streams[start : start + share], []
        while mine and len("/stream?streams=" + "/".join([*in_url, mine[0]])) <= 7_900:
            in_url.append(mine.pop(0))
        batches = [mine[i : i + 300] for i in range(0, len(mine), 300)]
        plans.append((f"ws://127.0.0.1:{port}/stream?streams={'/'.join(in_url)}", batches))
    return plans


async def test_a_thousand_symbols_on_four_connections_connect_and_trade() -> None:
    config = SimulatorConfig(
        port=0,
        rate=2000,
        symbols={"binance": (), "coinbase": (), "coingecko": ()},
        markets={"binance": 1000},
    )
    traded: set[str] = set()
    frames = collections.Counter[str]()
    opened: list[float] = []

    async def client(url: str, batches: list[list[str]], until: float) -> None:
        started = time.monotonic()
        async with connect(url, max_size=2**22, open_timeout=5, max_queue=None) as ws:
            opened.append(time.monotonic() - started)
            for n, batch in enumerate(batches):  # within 5 messages a second
                await ws.send(orjson.dumps({"method": "SUBSCRIBE", "params": batch, "id": n}))
            await _read(ws, until)

    def enough() -> bool:
        return len(traded) >= 150 and frames[DEPTH] >= 3 * TRADING and frames["ticker"] >= TRADING

    async def _read(ws: ClientConnection, until: float) -> None:
        while time.monotonic() < until and not enough():
            try:
                async with asyncio.timeout(until - time.monotonic()):
                    text = await ws.recv()
            except TimeoutError:
                return
            assert isinstance(text, str)
            head = '{"stream":"'  # the combined wrapper, read without decoding the payload
            stream = text[len(head) : text.find('"', len(head))] if text.startswith(head) else ""
            frames[stream.partition("@")[2]] += 1
            if stream.endswith("@trade"):
                traded.add(stream)

    async with Simulator(config) as sim:
        plans = _plan(sim.port, 1000, 4)
        assert len(plans) == 4 and all(len(url) - url.index("/stream") <= 7_900 for url, _ in plans)
        until = time.monotonic() + 40  # a deadline, not a wait: reading stops at `enough()`
        async with asyncio.TaskGroup() as group:
            for url, batches in plans:
                group.create_task(client(url, batches, until))
    assert len(opened) == 4 and max(opened) < 4.0  # 5.8 s before the driver yielded
    assert len(traded) >= 150  # trades on many symbols, not only the busiest
    assert frames[DEPTH] >= 3 * TRADING and frames["ticker"] >= TRADING  # all at their cadence
    assert not sim.breaches.counts
