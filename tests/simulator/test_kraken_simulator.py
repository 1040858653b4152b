"""The simulated Kraken speaks WebSocket v2 and REST as the venue does: its book messages verify
with the client's own book code and equal its truth, a wrong checksum it injects is caught, its
trade ids count up and REST fills a hole a reconnect leaves, and it answers `Exceeded msg
rate` and REST rate limits when pushed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from streamer.records import BookSnapshot, Millis, Reject, Trade
from streamer.simulator import Simulator, SimulatorConfig
from streamer.venues.kraken import rest as kraken_rest
from streamer.venues.kraken import sim_wire
from streamer.venues.kraken.checksum import book_checksum
from streamer.venues.kraken.decode import KrakenDecoder
from streamer.venues.kraken.rows import micros
from streamer.venues.kraken.simulator import Kraken, KrakenSimOptions

NAME = "kraken"
SYMBOLS = ("BTC-USD", "ETH-USD")
AT = Millis(0)
FIXTURES = Path(__file__).parents[1] / "fixtures" / "kraken"


class FakeMonotonic:
    """The simulator's limits' clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _config(options: KrakenSimOptions | None = None, markets: int = 0) -> SimulatorConfig:
    return SimulatorConfig(port=0, rate=400, symbols={NAME: SYMBOLS},
                           options={NAME: options or KrakenSimOptions()},
                           markets={NAME: markets})  # fmt: skip


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(_config()) as simulator:
        yield simulator


def _venue(sim: Simulator) -> Kraken:
    venue = sim.venues[NAME]
    assert isinstance(venue, Kraken)
    return venue


def _url(sim: Simulator) -> str:
    return f"ws://127.0.0.1:{sim.port}/v2"


def _connect(sim: Simulator) -> connect:
    """A client that keeps reading while it closes (no flow control), so its closing handshake
    is not stuck behind the frames the venue keeps sending."""
    return connect(_url(sim), max_queue=None)


def _request(method: str, req_id: int, **params: Any) -> str:
    return json.dumps({"method": method, "params": params, "req_id": req_id})


async def _frames(
    ws: ClientConnection, enough: Callable[[list[dict[str, Any]]], bool], raws: list[str],
    limit: int = 20_000,
) -> list[dict[str, Any]]:  # fmt: skip
    """Frames (parsed; their text appended to `raws`) until `enough(frames)` holds."""
    frames: list[dict[str, Any]] = []
    for _ in range(limit):
        raw = await ws.recv()
        assert isinstance(raw, str)
        raws.append(raw)
        frames.append(orjson.loads(raw))
        if enough(frames):
            return frames
    raise AssertionError(f"condition not met in {limit} frames")


def _books(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f["data"][0] for f in frames if f.get("channel") == "book"]


def _since_snapshot(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The book frames from the first snapshot on (frames of the old subscription may come first,
    however many a loaded machine lets through before the unsubscribe is served)."""
    books = [f for f in frames if f.get("channel") == "book"]
    kinds = [f.get("type") for f in books]
    return books[kinds.index("snapshot") :] if "snapshot" in kinds else []


def test_the_simulators_checksum_follows_the_documented_algorithm() -> None:
    """Kraken's documented snapshot (prices of 0.1 as tenths, quantities in 1e-8) hashes to the
    checksum the docs give, with the simulator's integer computation."""
    frame = json.loads((FIXTURES / "doc_example_snapshot.json").read_text(),
                       parse_float=Decimal)  # fmt: skip
    entry = frame["data"][0]

    def side(levels: list[dict[str, Decimal]]) -> list[tuple[int, int]]:
        return [(int(lv["price"] * 10), int(lv["qty"] * 10**8)) for lv in levels]

    assert sim_wire.checksum(side(entry["bids"]), side(entry["asks"])) == entry["checksum"]


async def test_every_book_message_verifies_with_the_client_book_and_equals_the_truth() -> None:
    """Depth 10 and 25 on two connections: snapshot then updates, each proven by the client's
    checksum code (the text as sent: no precision given), and each published book equal to the
    simulator's true book at its timestamp."""
    raws: dict[int, list[str]] = {10: [], 25: []}
    config = SimulatorConfig(port=0, rate=1000, symbols={NAME: ("BTC-USD",)})
    async with Simulator(config) as sim, _connect(sim) as ten, _connect(sim) as deep:
        for depth, ws in ((10, ten), (25, deep)):
            await ws.send(_request("subscribe", depth, channel="book", symbol=["BTC/USD"],
                                   depth=depth))  # fmt: skip
        # Both read until both have enough: a client that stops reading stalls the market.
        frames: dict[int, list[dict[str, Any]]] = {10: [], 25: []}

        def enough() -> bool:
            return all(len(_books(got)) >= 150 for got in frames.values())

        async def read(depth: int, ws: ClientConnection) -> None:
            while not enough():
                raw = await ws.recv()
                assert isinstance(raw, str)
                raws[depth].append(raw)
                frames[depth].append(orjson.loads(raw))

        async with asyncio.timeout(60):
            await asyncio.gather(read(10, ten), read(25, deep))
        truth = dict(sim.truth.books[NAME])
    for depth in (10, 25):
        ack = next(f for f in frames[depth] if f.get("method") == "subscribe")
        assert ack["success"] is True and ack["req_id"] == depth
        assert ack["result"] == {"channel": "book", "depth": depth, "snapshot": True,
                                 "symbol": "BTC/USD"}  # fmt: skip
        books = _books(frames[depth])
        snapshot = books[0]
        assert len(snapshot["bids"]) == len(snapshot["asks"]) == depth
        decoder = KrakenDecoder(SYMBOLS, depth=depth, levels=depth)
        rows = decoder.decode_read([r.encode() for r in raws[depth]], AT)
        assert not [r for r in rows if type(r) is Reject]
        assert decoder.stats.extra["book_checksum_mismatches"] == 0
        published = [r for r in rows if type(r) is BookSnapshot]
        assert len(published) == len(books)  # every message proven and published
        for book in published:
            true_bids, true_asks = truth[(book.symbol, book.sequence)]
            assert [(str(p), str(q)) for p, q in book.bids] == [tuple(lv) for lv in
                                                               true_bids[:depth]]  # fmt: skip
            assert [(str(p), str(q)) for p, q in book.asks] == [tuple(lv) for lv in
                                                               true_asks[:depth]]  # fmt: skip
        updates = books[1:]
        sizes = [len(u["bids"]) + len(u["asks"]) for u in updates]
        assert max(sizes) >= 2, "no update carried several levels"
        assert any(lv["qty"] == 0 for u in updates for lv in u["bids"] + u["asks"])
    # Depth 10: a level pushed out of the window gets no removal; the client's cut drops it.
    held: dict[str, dict[float, float]] = {"bids": {}, "asks": {}}
    overflowed = 0
    for i, entry in enumerate(_books(frames[10])):
        for side in ("bids", "asks"):
            if i == 0:
                held[side].clear()
            for level in entry[side]:
                if level["qty"] == 0:
                    held[side].pop(level["price"], None)
                else:
                    held[side][level["price"]] = level["qty"]
            if len(held[side]) > 10:
                overflowed += 1
                best = sorted(held[side], reverse=side == "bids")[:10]
                held[side] = {p: held[side][p] for p in best}
    assert overflowed > 0, "no level was pushed out by truncation"


async def test_an_injected_wrong_checksum_is_caught_and_a_resubscribe_brings_a_proven_book(
    sim: Simulator,
) -> None:
    venue = _venue(sim)
    raws: list[str] = []
    decoder = KrakenDecoder(SYMBOLS, depth=10, levels=10)
    async with _connect(sim) as ws:
        await ws.send(_request("subscribe", 1, channel="book", symbol=["BTC/USD"], depth=10))
        await _frames(ws, lambda fs: len(_books(fs)) >= 20, raws)
        rows = decoder.decode_read([r.encode() for r in raws], AT)
        assert decoder.stats.extra["book_checksum_mismatches"] == 0
        venue.corrupt("BTC-USD")
        sent_before = len(venue.context.truth.books[NAME])
        for _ in range(5_000):  # frames already on the way pass; the corrupted one fails
            raw = await ws.recv()
            assert isinstance(raw, str)
            rows = decoder.decode(raw, AT)
            if decoder.books.failed:
                break
            assert not [r for r in rows if type(r) is Reject]
        assert venue.bad_checksums == 1
        assert decoder.stats.extra["book_checksum_mismatches"] == 1
        assert list(decoder.books.failed) == ["BTC-USD"]
        assert rows == []  # the failed book unpublished
        stamp = orjson.loads(raw)["data"][0]["timestamp"]  # the first message sent after corrupt
        assert (
            micros(stamp, "timestamp")[1] == list(venue.context.truth.books[NAME])[sent_before][1]
        )
        raws.clear()
        await _frames(ws, lambda fs: len(_books(fs)) >= 3, raws)  # ignored until a snapshot
        assert not [r for r in decoder.decode_read([r.encode() for r in raws], AT)
                    if type(r) is BookSnapshot]  # fmt: skip
        await ws.send(_request("unsubscribe", 2, channel="book", symbol=["BTC/USD"], depth=10))
        await ws.send(_request("subscribe", 3, channel="book", symbol=["BTC/USD"], depth=10))
        raws.clear()
        frames = await _frames(ws, lambda fs: len(_since_snapshot(fs)) >= 3, raws)
    answers = [f for f in frames if f.get("method")]
    assert [(a["method"], a["success"], a["req_id"]) for a in answers] == [
        ("unsubscribe", True, 2), ("subscribe", True, 3)]  # fmt: skip
    rows = decoder.decode_read([r.encode() for r in raws], AT)
    published = [r for r in rows if type(r) is BookSnapshot]
    since_snapshot = _since_snapshot(frames)
    assert len(published) == len(since_snapshot) >= 3  # every message from the snapshot on
    assert decoder.stats.extra["book_checksum_mismatches"] == 1


async def test_trade_ids_count_up_and_rest_trades_fill_the_hole_a_reconnect_leaves(
    sim: Simulator,
) -> None:
    venue = _venue(sim)
    market = venue.markets["BTC-USD"]
    raws: list[str] = []

    def trades(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [t for f in frames if f.get("channel") == "trade" for t in f["data"]]

    async with _connect(sim) as ws:
        await ws.send(_request("subscribe", 1, channel="trade", symbol=["BTC/USD", "ETH/USD"]))
        before = trades(await _frames(ws, lambda fs: len(trades(fs)) >= 120, raws))
    for pair in ("BTC/USD", "ETH/USD"):
        ids = [t["trade_id"] for t in before if t["symbol"] == pair]
        assert ids == list(range(ids[0], ids[0] + len(ids))), pair  # snapshot, then each trade
    last = max(t["trade_id"] for t in before if t["symbol"] == "BTC/USD")
    away = market.next_trade_id
    async with _connect(sim) as ws:  # 60 trades later: more than the snapshot's 50
        async with asyncio.timeout(30):
            while market.next_trade_id < away + 60:
                await ws.recv()  # the status, then heartbeats: the market moves meanwhile
        await ws.send(_request("subscribe", 2, channel="trade", symbol=["BTC/USD"]))
        after = trades(await _frames(ws, lambda fs: len(trades(fs)) >= 50, []))
    first_after = after[0]["trade_id"]
    assert len({t["trade_id"] for t in after}) == len(after)
    assert first_after > last + 1  # a hole the WebSocket will not fill
    hole = range(last + 1, first_after)
    since = next(t for t in before if t["trade_id"] == last)["timestamp"]
    since_ns = micros(since, "timestamp")[1] * 1000
    fetched: dict[int, Trade] = {}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim.port}") as http:
        cursor = since_ns
        while not set(hole) <= fetched.keys():
            params = {"pair": "XBTUSD", "since": cursor, "count": 40}
            answer = await http.get("/0/public/Trades", params=params)
            rows, cursor_next = kraken_rest.parse_trades(answer.content, "BTC-USD", str, AT)
            assert rows and all(type(r) is Trade for r in rows)
            fetched.update({int(r.trade_id): r for r in rows if type(r) is Trade})
            assert cursor_next is not None and cursor_next > cursor
            cursor = cursor_next
    assert last in fetched  # from the time of the trade before the hole, inclusive
    assert all(row.event_time * 10**6 >= since_ns for row in fetched.values())
    truth = sim.truth.trades[(NAME, "BTC-USD")]
    for trade_id in hole:
        row = fetched[trade_id]
        price, size, side, made_at = truth[str(trade_id)]
        assert (Decimal(row.price), Decimal(row.size), row.side, row.event_time) == (
            Decimal(price), Decimal(size), side, made_at)  # fmt: skip


async def test_exceeded_msg_rate_refuses_requests_past_the_rate_without_applying_them() -> None:
    clock = FakeMonotonic()
    options = KrakenSimOptions(messages_per_second=3)
    async with Simulator(_config(options), monotonic=clock) as sim, _connect(sim) as ws:
        for req_id in range(1, 6):  # 3 pings pass, then a subscribe and a ping are refused
            if req_id == 4:
                await ws.send(_request("subscribe", 4, channel="ticker", symbol=["BTC/USD"]))
            else:
                await ws.send(json.dumps({"method": "ping", "req_id": req_id}))
        raws: list[str] = []
        frames = await _frames(ws, lambda fs: sum("time_in" in f for f in fs) >= 5, raws)
        clock.now += 1.0  # a second later the connection may ask again
        await ws.send(_request("subscribe", 6, channel="ticker", symbol=["BTC/USD"]))
        again = await _frames(ws, lambda fs: any(f.get("channel") == "ticker" for f in fs), raws)
        assert sim.breaches.counts["kraken.messages"] == 2
    answers = [f for f in frames if "time_in" in f]
    assert [(a["method"], a.get("success"), a["req_id"]) for a in answers] == [
        ("pong", None, 1), ("pong", None, 2), ("pong", None, 3), ("subscribe", False, 4),
        ("ping", False, 5)]  # fmt: skip
    assert {a.get("error") for a in answers[3:]} == {"Exceeded msg rate"}
    assert not [f for f in frames if f.get("channel") == "ticker"]  # the refused one not applied
    ack = next(f for f in again if f.get("method") == "subscribe")
    assert ack["success"] is True and ack["req_id"] == 6
    decoder = KrakenDecoder(SYMBOLS)
    decoder.decode_read([r.encode() for r in raws], AT)
    limited = [a for a in decoder.answers if a.rate_limited]
    assert [(a.method, a.req_id) for a in limited] == [("subscribe", 4), ("ping", 5)]


async def test_the_v1_shaped_rate_limit_answer_is_read_as_one() -> None:
    clock = FakeMonotonic()
    options = KrakenSimOptions(messages_per_second=1, rate_limit_answer="v1")
    async with Simulator(_config(options), monotonic=clock) as sim, _connect(sim) as ws:
        await ws.send(json.dumps({"method": "ping", "req_id": 1}))
        await ws.send(json.dumps({"method": "ping", "req_id": 2}))
        raws: list[str] = []
        frames = await _frames(ws, lambda fs: any("Error" in f for f in fs), raws)
    assert frames[-1] == {"Error": "Exceeded msg rate"}
    decoder = KrakenDecoder(SYMBOLS)
    decoder.decode_read([r.encode() for r in raws], AT)
    assert [a.rate_limited for a in decoder.answers] == [True]  # (a pong is no answer)


async def test_rest_calls_past_the_rate_are_refused_in_the_body() -> None:
    clock = FakeMonotonic()
    options = KrakenSimOptions(rest_calls=2, rest_window=1.0)
    async with (
        Simulator(_config(options), monotonic=clock) as sim,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim.port}") as http,
    ):
        answers = [(await http.get("/0/public/Time")).json() for _ in range(3)]
        clock.now += 1.0
        later = (await http.get("/0/public/Time")).json()
    assert [a["error"] for a in answers] == [[], [], ["EGeneral:Too many requests"]]
    assert later["error"] == [] and sim.breaches.counts["kraken.rest_calls"] == 1


async def test_asset_pairs_and_ticker_read_with_the_clients_rest_code() -> None:
    async with (
        Simulator(_config(markets=50)) as sim,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim.port}") as http,
    ):
        pairs = kraken_rest.pairs((await http.get("/0/public/AssetPairs")).content)
        volumes = kraken_rest.quote_volumes((await http.get("/0/public/Ticker")).content)
        one = (await http.get("/0/public/AssetPairs", params={"pair": "XBTUSD"})).json()
        unknown = (await http.get("/0/public/Trades", params={"pair": "NOPE"})).json()
    by_symbol = {p.symbol: p for p in pairs}
    btc = by_symbol["BTC-USD"]
    assert (btc.key, btc.altname, btc.quote, btc.price_decimals, btc.qty_decimals, btc.online) == (
        "XXBTZUSD", "XBTUSD", "USD", 2, 8, True)  # fmt: skip
    assert by_symbol["ETH-USD"].key == "XETHZUSD" and len(pairs) == 52
    offline = sorted(s for s, p in by_symbol.items() if not p.online)
    assert offline == ["C0007-USD", "C0019-EUR", "C0031-USD", "C0043-EUR"]
    assert set(volumes) == {p.key for p in pairs}
    assert list(one["result"]) == ["XXBTZUSD"] and one["result"]["XXBTZUSD"]["wsname"] == "XBT/USD"
    assert unknown == {"error": ["EQuery:Unknown asset pair"]}


async def test_a_connection_gets_status_first_then_heartbeats_when_idle() -> None:
    options = KrakenSimOptions(heartbeat_seconds=0.05)
    async with Simulator(_config(options)) as sim, _connect(sim) as ws:
        frames = await _frames(ws, lambda fs: sum(f.get("channel") == "heartbeat"
                                                  for f in fs) >= 3, [])  # fmt: skip
    assert frames[0]["channel"] == "status"
    assert frames[0]["data"][0]["system"] == "online"
    assert frames[0]["data"][0]["api_version"] == "v2"
    assert {f["channel"] for f in frames[1:]} == {"heartbeat"}


async def test_bad_requests_are_answered_with_kraken_errors(sim: Simulator) -> None:
    async with _connect(sim) as ws:
        await ws.send(_request("subscribe", 1, channel="book", symbol=["BTC/USD"], depth=7))
        await ws.send(_request("subscribe", 2, channel="trade", symbol=["DOGE/XYZ"]))
        await ws.send(_request("subscribe", 3, channel="trade", symbol=["BTC/USD"],
                               snapshot=False))  # fmt: skip
        await ws.send(_request("subscribe", 4, channel="trade", symbol=["BTC/USD"]))
        await ws.send(_request("unsubscribe", 5, channel="ticker", symbol=["BTC/USD"]))
        frames = await _frames(ws, lambda fs: sum("time_in" in f for f in fs) >= 5, [])
    answers = [f for f in frames if "time_in" in f]
    assert [(a["req_id"], a["success"], a.get("error")) for a in answers] == [
        (1, False, "Invalid depth 7: one of 10, 25, 100, 500, 1000"),
        (2, False, "Currency pair not supported DOGE/XYZ"),
        (3, True, None),
        (4, False, "Already subscribed"),
        (5, False, "Subscription Not Found"),
    ]
    assert answers[1]["symbol"] == "DOGE/XYZ"
    assert not [f for f in frames if f.get("type") == "snapshot"]  # snapshot: false honoured


def test_the_client_checksum_agrees_on_the_simulators_levels() -> None:
    """The client's text-based checksum and the simulator's integer one, on the same levels."""
    bids = [(8_599_999 - k * 7, 10**8 // (k + 1)) for k in range(12)]
    asks = [(8_600_000 + k * 3, 5 * 10**7 + k) for k in range(12)]

    def text(levels: list[tuple[int, int]]) -> Any:
        return tuple((sim_wire.NOTATION.price(p), sim_wire.NOTATION.size(q)) for p, q in levels)

    assert book_checksum(text(bids), text(asks), 2, 8) == sim_wire.checksum(bids, asks)
