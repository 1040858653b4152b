"""The simulator speaks the venues' wire formats and its market is internally consistent."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from types import SimpleNamespace

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from streamer.simulator import Simulator, SimulatorConfig
from streamer.simulator.faults import FaultPlan
from streamer.simulator.market import Market
from streamer.simulator.outbox import Outbox, fan_out
from streamer.simulator.truth import Truth
from streamer.simulator.venue import Schedule
from streamer.venues.coinbase.simulator import CoinbaseSimOptions
from tests.conftest import fixture_text

T0 = 1_764_000_000_000


def test_trades_happen_at_the_spread_and_build_the_candle() -> None:
    market = Market("BTC-USDT", random.Random(1), 8_600_000, T0)
    market.track(60_000)
    trades = []
    for n in range(3000):
        market.advance(T0 + n * 50)
        bid, ask = market.best_bid(), market.best_ask()
        assert bid < ask
        _, trade = market.step()
        if trade is not None:
            assert trade.price == (ask if trade.taker_side == "buy" else bid)
            trades.append(trade)
    closed = market.closed[60_000]
    assert closed, "a minute of simulated time closes a candle"
    first = closed[0]
    in_bucket = [t for t in trades if first.open_time <= t.time <= first.close_time]
    assert first.open == in_bucket[0].price and first.close == in_bucket[-1].price
    assert first.high == max(t.price for t in in_bucket)
    assert first.volume == sum(t.size for t in in_bucket)
    assert first.trades == len(in_bucket)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    config = SimulatorConfig(
        port=0,
        rate=500,
        symbols={"binance": ("BTC-USDT",), "coinbase": ("BTC-USD",)},
        options={"coinbase": CoinbaseSimOptions(subscribe_timeout=0.5)},
    )
    async with Simulator(config) as simulator:
        yield simulator


async def test_binance_frames_have_the_recorded_shapes(sim: Simulator) -> None:
    expected = {
        "trade": orjson.loads(fixture_text("binance/trade_combined_testnet.json"))["data"],
        "24hrTicker": orjson.loads(
            fixture_text("binance/ticker_24hr_combined_probably_testnet.json")
        )["data"],
        "kline": orjson.loads(fixture_text("binance/kline_1m_open_combined.json"))["data"],
    }
    url = f"ws://127.0.0.1:{sim.port}/stream?streams=btcusdt@trade/btcusdt@ticker/btcusdt@kline_1s/btcusdt@depth20@100ms"
    seen: set[str] = set()
    async with connect(url) as ws:
        while len(seen) < 4:
            frame = orjson.loads(await ws.recv())
            data = frame["data"]
            kind = data.get("e", "depth")
            seen.add(kind)
            if kind in expected:
                assert set(data) == set(expected[kind]), kind
                for key, value in expected[kind].items():
                    assert type(data[key]) is type(value), (kind, key)
            else:
                assert set(data) == {"lastUpdateId", "bids", "asks"}
                assert len(data["bids"]) == 20 and data["bids"][0][0] < data["asks"][0][0]


async def test_coinbase_sequence_is_contiguous_and_snapshot_first(sim: Simulator) -> None:
    async with connect(f"ws://127.0.0.1:{sim.port}/coinbase", max_size=2**24) as ws:
        for channel in ("heartbeats", "level2", "market_trades"):
            message: dict[str, object] = {"type": "subscribe", "channel": channel}
            if channel != "heartbeats":
                message["product_ids"] = ["BTC-USD"]
            await ws.send(orjson.dumps(message).decode())
        kinds = []
        for expected_sequence in range(40):
            frame = orjson.loads(await ws.recv())
            assert frame["sequence_num"] == expected_sequence
            assert "client_id" not in frame
            if frame["channel"] == "l2_data":
                kinds.append(frame["events"][0]["type"])
        assert kinds[0] == "snapshot" and set(kinds[1:]) == {"update"}


async def test_coinbase_closes_connections_that_never_subscribe(sim: Simulator) -> None:
    async with connect(f"ws://127.0.0.1:{sim.port}/coinbase") as ws:
        with pytest.raises(ConnectionClosed):
            await ws.recv()


async def test_rest_endpoints(sim: Simulator) -> None:
    base = f"http://127.0.0.1:{sim.port}"
    async with httpx.AsyncClient(base_url=base) as client:
        klines = (
            await client.get("/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1m"})
        ).json()
        assert len(klines[0]) == 12 and isinstance(klines[0][1], str)
        depth = (await client.get("/api/v3/depth", params={"symbol": "BTCUSDT", "limit": 5})).json()
        assert len(depth["bids"]) == 5
        bad = await client.get("/api/v3/depth", params={"symbol": "NOPE"})
        assert bad.status_code == 400 and bad.json()["code"] == -1121
        product = (await client.get("/api/v3/brokerage/market/products/BTC-USD")).json()
        assert product["product_id"] == "BTC-USD"
        markets = (await client.get("/coingecko/api/v3/coins/markets",
                                    params={"vs_currency": "usd"})).json()  # fmt: skip
        assert len(markets) == 100 and any(m["max_supply"] is None for m in markets)
        assert [m["market_cap_rank"] for m in markets] == list(range(1, 101))
        query = {"ids": "bitcoin,nope", "vs_currencies": "usd,btc"}
        prices = (await client.get("/coingecko/api/v3/simple/price", params=query)).json()
        assert set(prices) == {"bitcoin"} and prices["bitcoin"]["btc"] == 1.0


async def test_exports_point_streamer_at_the_simulator(sim: Simulator) -> None:
    lines = sim.exports()
    assert f"export STREAMER_BINANCE_WS_URL=ws://127.0.0.1:{sim.port}" in lines
    assert f"export STREAMER_COINBASE_WS_URL=ws://127.0.0.1:{sim.port}/coinbase" in lines
    assert f"export STREAMER_COINGECKO_URL=http://127.0.0.1:{sim.port}/coingecko/api/v3" in lines


async def test_rest_goes_to_the_venue_with_the_longest_matching_prefix(sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim.port}") as client:
        assert (await client.get("/api/v3/ping")).json() == {}
        coinbase = await client.get("/api/v3/brokerage/market/products/NOPE-USD")
        assert coinbase.status_code == 404 and coinbase.json()["error"] == "NOT_FOUND"
        assert (await client.get("/nowhere")).status_code == 404
        bad = await client.get("/api/v3/klines", params={"symbol": "BTCUSDT"})  # no interval
        assert bad.status_code == 400 and bad.json()["code"] == -1100


async def test_binance_control_messages_change_the_streams(sim: Simulator) -> None:
    async with connect(f"ws://127.0.0.1:{sim.port}/stream?streams=btcusdt@trade") as ws:
        await ws.send('{"method": "SUBSCRIBE", "params": ["btcusdt@kline_5m"], "id": 1}')
        await ws.send('{"method": "LIST_SUBSCRIPTIONS", "id": 2}')
        replies: dict[int, object] = {}
        while len(replies) < 2:
            frame = orjson.loads(await ws.recv())
            if "id" in frame:
                replies[frame["id"]] = frame["result"]
        assert replies == {1: None, 2: ["btcusdt@kline_5m", "btcusdt@trade"]}

        async def read_until_closed() -> None:
            while True:
                await ws.recv()

        await ws.send("not json")
        with pytest.raises(ConnectionClosed) as closed:
            await read_until_closed()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_a_gap_fault_loses_a_numbered_frame() -> None:
    config = SimulatorConfig(
        port=0,
        rate=500,
        faults=FaultPlan(gap=0.2),
        symbols={"binance": (), "coinbase": ("BTC-USD",)},
    )
    async with (
        Simulator(config) as gappy,
        connect(f"ws://127.0.0.1:{gappy.port}/coinbase", max_size=2**24) as ws,
    ):
        await ws.send('{"type": "subscribe", "channel": "level2", "product_ids": ["BTC-USD"]}')
        numbers = [orjson.loads(await ws.recv())["sequence_num"] for _ in range(50)]
        lost = set(range(numbers[-1])) - set(numbers)
        assert numbers == sorted(set(numbers)) and lost
        assert len(lost) <= gappy.dice.injected["gap"]


def test_truth_keeps_the_newest_entries() -> None:
    truth = Truth(limit=2)
    for sequence in range(5):
        truth.book("binance", ("BTC-USDT", sequence), ([], []))
    assert list(truth.books["binance"]) == [("BTC-USDT", 3), ("BTC-USDT", 4)]


def test_fan_out_builds_the_frame_once_and_only_for_someone() -> None:
    built: list[str] = []

    def make() -> str:
        built.append("frame")
        return "frame"

    fan_out([], make)
    assert built == []
    outboxes = [Outbox(), Outbox()]
    fan_out([SimpleNamespace(outbox=o) for o in outboxes], make)  # type: ignore[misc]
    assert built == ["frame"] and [list(o.items) for o in outboxes] == [["frame"], ["frame"]]


def test_schedule_is_due_once_per_period_on_its_multiples() -> None:
    schedule = Schedule()
    due = [t for t in range(0, 3000, 50) if schedule.due(("BTC-USD", "candles"), T0 + t, 1000)]
    assert due == [0, 1000, 2000]
