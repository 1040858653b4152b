"""The simulator enforces the venues' limits: allowed at each limit, refused at limit + 1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from streamer.simulator import Simulator, SimulatorConfig
from streamer.simulator.limits import RequestWeight, Window
from streamer.venues.binance.simulator import BinanceSimOptions
from streamer.venues.coinbase.simulator import CoinbaseSimOptions
from tests.conftest import fixture_text

DEADLINE = 5.0  # seconds any awaited answer may take


@dataclass
class FakeTime:
    now: float = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


BINANCE, COINBASE = BinanceSimOptions(), CoinbaseSimOptions()  # the venues' own limits


def _config(
    binance: BinanceSimOptions = BINANCE, coinbase: CoinbaseSimOptions = COINBASE
) -> SimulatorConfig:
    return SimulatorConfig(port=0, rate=200, options={"binance": binance, "coinbase": coinbase},
                           symbols={"binance": ("BTC-USDT",),
                                    "coinbase": ("BTC-USD", "ETH-USD", "SOL-USD"),
                                    "coingecko": ()})  # fmt: skip


@pytest.fixture
async def sim(fake_time: FakeTime) -> AsyncIterator[Simulator]:
    config = _config(BinanceSimOptions(max_streams=4, connects=3, weight_per_minute=50),
                     CoinbaseSimOptions(max_l2_products=2, connects_per_second=2,
                                        messages_per_second=3, rest_per_second=4))  # fmt: skip
    async with Simulator(config, monotonic=fake_time) as simulator:
        yield simulator


async def _replies(ws: ClientConnection, count: int) -> list[dict[str, object]]:
    """The next `count` control replies (frames with an `id`), skipping market data."""
    replies: list[dict[str, object]] = []
    async with asyncio.timeout(DEADLINE):
        while len(replies) < count:
            frame = orjson.loads(await ws.recv())
            if "id" in frame:
                replies.append(frame)
    return replies


async def _read_until_closed(ws: ClientConnection) -> None:
    async with asyncio.timeout(DEADLINE):
        while True:
            await ws.recv()


async def _closed_code(ws: ClientConnection) -> int | None:
    """The close code the server sent (the connection must close within the deadline)."""
    with pytest.raises(ConnectionClosed) as closed:
        await _read_until_closed(ws)
    return None if closed.value.rcvd is None else closed.value.rcvd.code


def test_a_window_allows_exactly_its_limit_in_any_period() -> None:
    window = Window(limit=2, seconds=1.0)
    assert [window.hit(t) for t in (0.0, 0.5, 0.9)] == [True, True, False]
    assert window.hit(1.6)  # 0.0 and 0.5 slid out: 0.9 and 1.6 remain


def test_request_weight_429_then_418_and_a_doubling_ban() -> None:
    weight = RequestWeight(limit=10, ban_seconds=120)
    assert weight.charge("ip", 10, 0.0) == (200, 10, 0)
    assert weight.charge("ip", 1, 1.0) == (429, 11, 59)
    assert weight.charge("ip", 1, 2.0)[0::2] == (418, 120)
    assert weight.charge("ip", 1, 121.0) == (418, 1, 1)  # banned across the minute, counted
    assert weight.charge("ip", 1, 123.0) == (200, 2, 0)


async def test_binance_request_target_8004_allowed_8005_refused() -> None:
    async with Simulator(_config()) as sim:
        base = f"http://127.0.0.1:{sim.port}"
        stem = "/api/v3/ping?pad="
        async with httpx.AsyncClient(base_url=base) as client:
            ok = await client.get(stem + "x" * (8_004 - len(stem)))
            too_long = await client.get(stem + "x" * (8_005 - len(stem)))
        assert ok.status_code == 200 and too_long.status_code == 414
        stream = "/stream?streams=btcusdt@trade&pad="
        url = f"ws://127.0.0.1:{sim.port}"
        async with connect(url + stream + "x" * (8_004 - len(stream))) as ws:
            assert ws.protocol.state.name == "OPEN"
        with pytest.raises(InvalidStatus) as refused:
            await connect(url + stream + "x" * (8_005 - len(stream)))
        assert refused.value.response.status_code == 414
        assert sim.breaches.counts["binance.request_target"] == 2


async def test_binance_streams_per_connection(sim: Simulator) -> None:
    url = f"ws://127.0.0.1:{sim.port}/stream?streams="
    four = ["btcusdt@trade", "btcusdt@ticker", "btcusdt@kline_1m", "btcusdt@depth20@100ms"]
    with pytest.raises(InvalidStatus) as refused:
        await connect(url + "/".join([*four, "btcusdt@aggTrade"]))
    assert refused.value.response.status_code == 400
    async with connect(url + "/".join(four[:3])) as ws:
        await ws.send('{"method": "SUBSCRIBE", "params": ["btcusdt@depth20@100ms"], "id": 1}')
        await ws.send('{"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade"], "id": 2}')
        first, second = await _replies(ws, 2)
    assert first == {"result": None, "id": 1}
    assert second["error"] == {"code": 2, "msg": "Invalid request: too many streams"}
    assert sim.breaches.counts["binance.streams"] == 2


async def test_binance_five_messages_a_second_pings_included(
    sim: Simulator, fake_time: FakeTime
) -> None:
    async with connect(f"ws://127.0.0.1:{sim.port}/stream?streams=btcusdt@trade") as ws:
        for n in range(5):
            await ws.send(orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": n}).decode())
        assert len(await _replies(ws, 5)) == 5
        fake_time.now += 1.0  # the window slides: five more are fine
        for _ in range(4):
            await ws.ping()
        await ws.send('{"method": "LIST_SUBSCRIPTIONS", "id": 9}')
        assert len(await _replies(ws, 1)) == 1
        await ws.ping()  # the sixth in a second
        assert await _closed_code(ws) == 1008
    assert sim.breaches.counts["binance.messages"] == 1


async def test_binance_connection_attempts_per_window(sim: Simulator, fake_time: FakeTime) -> None:
    url = f"ws://127.0.0.1:{sim.port}/stream?streams=btcusdt@trade"
    for _ in range(3):
        async with connect(url):
            pass
    with pytest.raises(InvalidStatus) as refused:
        await connect(url)
    assert refused.value.response.status_code == 429
    fake_time.now += 300.0
    async with connect(url):
        pass
    assert sim.breaches.counts["binance.connects"] == 1


async def test_binance_weight_header_429_then_418(sim: Simulator, fake_time: FakeTime) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim.port}/api/v3") as client:
        used = []
        for path, params in [("/exchangeInfo", {}), ("/exchangeInfo", {}),
                             ("/depth", {"symbol": "BTCUSDT", "limit": "5"}),
                             ("/klines", {"symbol": "BTCUSDT", "interval": "1m"}),
                             ("/ticker/24hr", {"symbol": "BTCUSDT"}), ("/ping", {})]:  # fmt: skip
            answer = await client.get(path, params=params)
            assert answer.status_code == 200, path
            used.append(int(answer.headers["X-MBX-USED-WEIGHT-1M"]))
        assert used == [20, 40, 45, 47, 49, 50]  # allowed at the limit
        limited = await client.get("/ping")
        assert limited.status_code == 429 and limited.json()["code"] == -1003
        assert int(limited.headers["Retry-After"]) > 0
        banned = await client.get("/ping")  # kept going after the 429
        assert banned.status_code == 418 and banned.headers["Retry-After"] == "120"
        fake_time.now += 121.0
        again = await client.get("/ping")
        assert again.status_code == 200 and again.headers["X-MBX-USED-WEIGHT-1M"] == "1"
        depth = await client.get("/depth", params={"symbol": "BTCUSDT", "limit": "1000"})
        assert depth.status_code == 429  # a 1000-level book weighs 50: 51 is over
        assert depth.headers["X-MBX-USED-WEIGHT-1M"] == "51"
    assert sim.breaches.counts["binance.weight_429"] == 2
    assert sim.breaches.counts["binance.weight_418"] >= 1


async def test_coinbase_l2_products_per_connection(sim: Simulator) -> None:
    expected = orjson.loads(fixture_text("coinbase/advanced_error_too_many_l2_streams_issue.json"))
    async with connect(f"ws://127.0.0.1:{sim.port}/coinbase", max_size=2**24) as ws:
        await ws.send('{"type":"subscribe","channel":"level2","product_ids":["BTC-USD","ETH-USD"]}')
        await ws.send('{"type":"subscribe","channel":"level2","product_ids":["SOL-USD"]}')
        snapshots: set[str] = set()
        async with asyncio.timeout(DEADLINE):
            while True:
                frame = orjson.loads(await ws.recv())
                if frame.get("type") == "error":
                    assert frame == expected
                    break
                if frame["channel"] == "l2_data" and frame["events"][0]["type"] == "snapshot":
                    snapshots.add(frame["events"][0]["product_id"])
        assert snapshots == {"BTC-USD", "ETH-USD"}
    assert sim.breaches.counts["coinbase.l2_products"] == 1


async def test_coinbase_connection_attempts_per_second(sim: Simulator, fake_time: FakeTime) -> None:
    url = f"ws://127.0.0.1:{sim.port}/coinbase"
    for _ in range(2):
        async with connect(url):
            pass
    with pytest.raises(InvalidStatus) as refused:
        await connect(url)
    assert refused.value.response.status_code == 429
    fake_time.now += 1.0
    async with connect(url):
        pass


async def test_coinbase_messages_per_second_per_ip(sim: Simulator, fake_time: FakeTime) -> None:
    url = f"ws://127.0.0.1:{sim.port}/coinbase"
    beat = '{"type": "subscribe", "channel": "heartbeats"}'
    async with connect(url) as first, connect(url) as second:
        await first.send(beat)
        await second.send(beat)
        await first.send(beat)  # three from this IP in a second: the limit
        async with asyncio.timeout(DEADLINE):
            await second.recv()  # still served
        await second.send(beat)  # the fourth
        assert await _closed_code(second) == 1008
    assert sim.breaches.counts["coinbase.messages"] == 1


async def test_coinbase_rest_requests_per_second_per_ip(
    sim: Simulator, fake_time: FakeTime
) -> None:
    path = "/api/v3/brokerage/market/products/BTC-USD/ticker"
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim.port}") as client:
        answers = [await client.get(path, params={"limit": "5"}) for _ in range(5)]
        assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
        fake_time.now += 1.0
        assert (await client.get(path, params={"limit": "5"})).status_code == 200
    assert sim.breaches.counts["coinbase.rest_requests"] == 1
