"""The simulated OKX serves each channel on its documented path (and answers a misrouted one
as OKX does), keeps the books' seqId/prevSeqId chain (with breaks and keep-alives), answers the
text ping, cuts idle connections, enforces OKX's limits, and every frame and answer it gives
decodes with the okx package into the simulator's truth."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from streamer.records import BookSnapshot, DerivativeTicker, Liquidation, Millis, Reject, Trade
from streamer.simulator import Simulator, SimulatorConfig
from streamer.simulator.venue import VenueConfig
from streamer.venues.okx.decode import OkxDecoder
from streamer.venues.okx.sim_listing import listings
from streamer.venues.okx.simulator import Okx, OkxSimOptions

NAME = "okx"
SYMBOLS = ("BTC-USDT", "ETH-USDT", "BTC-USDT-PERP", "ETH-USDT-PERP")
AT = Millis(0)  # when a frame was received: not what these tests check
QUIET = OkxSimOptions(break_probability=0.0)


def _serve(options: OkxSimOptions = QUIET, rate: float = 400, **kwargs: Any) -> Simulator:
    config = SimulatorConfig(port=0, rate=rate, options={NAME: options},
                             symbols={NAME: SYMBOLS, "binance": (), "binance_usdm": (),
                                      "coinbase": (), "coingecko": ()})  # fmt: skip
    return Simulator(config, **kwargs)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with _serve() as simulator:
        yield simulator


def _venue(sim: Simulator) -> Okx:
    venue = sim.venues[NAME]
    assert isinstance(venue, Okx)
    return venue


def _url(sim: Simulator, path: str) -> str:
    return f"ws://127.0.0.1:{sim.port}/ws/v5/{path}"


async def _subscribe(ws: ClientConnection, *args: dict[str, str], op: str = "subscribe") -> None:
    await ws.send(orjson.dumps({"id": "7", "op": op, "args": list(args)}).decode())


async def _frames(ws: ClientConnection, enough: Any, limit: int = 20_000) -> list[Any]:
    """Frames (JSON, or the text `pong`) until `enough(frames)` holds (bounded)."""
    frames: list[Any] = []
    for _ in range(limit):
        text = await ws.recv()
        frames.append(text if text == "pong" else orjson.loads(text))
        if enough(frames):
            return frames
    raise AssertionError(f"condition not met in {limit} frames")


def _decode(decoder: OkxDecoder, frames: list[Any]) -> list[Any]:
    rows = []
    for frame in frames:
        rows += decoder.decode(frame if frame == "pong" else orjson.dumps(frame), AT)
    assert not [row for row in rows if type(row) is Reject]
    return rows


def _pushes(frames: list[Any], channel: str) -> list[dict[str, Any]]:
    return [f for f in frames if type(f) is dict and f.get("arg", {}).get("channel") == channel
            and "data" in f]  # fmt: skip


def _compare_books(sim: Simulator, books: list[BookSnapshot]) -> None:
    truth = sim.truth.books[NAME]
    for book in books:
        bids, asks = truth[(book.symbol, book.sequence)]
        assert [list(level) for level in book.bids] == bids[:20]  # the text as sent
        assert [list(level) for level in book.asks] == asks[:20]


async def test_a_channel_on_the_wrong_path_is_refused_as_okx_does_and_trades_count_up(
    sim: Simulator,
) -> None:
    trades = {"channel": "trades-all", "instId": "BTC-USDT-SWAP"}
    async with connect(_url(sim, "public")) as public, connect(_url(sim, "business")) as business:
        await _subscribe(public, trades, {"channel": "candle1m", "instId": "BTC-USDT"})
        refused = await _frames(public, lambda fs: len(fs) == 2)
        await _subscribe(business, trades, {"channel": "books", "instId": "BTC-USDT"})
        got = await _frames(business, lambda fs: len(_pushes(fs, "trades-all")) >= 40)
    assert [(f["event"], f["code"]) for f in refused] == [("error", "60018")] * 2
    assert refused[0]["msg"].startswith("Wrong URL or channel:trades-all,instId:BTC-USDT-SWAP")
    assert got[0] == {"id": "7", "event": "subscribe", "arg": trades, "connId": got[0]["connId"]}
    assert got[1]["event"] == "error" and got[1]["code"] == "60018"
    rows = _decode(OkxDecoder(SYMBOLS, books=False), got[2:])  # an error is a reject
    ids = [int(r.trade_id) for r in rows if type(r) is Trade]
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # one after another
    sent = sim.truth.trades[(NAME, "BTC-USDT-PERP")]
    assert all(sent[r.trade_id] == (r.price, r.size, r.side, r.event_time) for r in rows)


async def test_a_book_from_the_stream_snapshot_and_updates_equals_the_truth(
    sim: Simulator,
) -> None:
    decoder = OkxDecoder(SYMBOLS, depth=20)
    async with connect(_url(sim, "public")) as ws:
        await _subscribe(ws, {"channel": "books", "instId": "ETH-USDT-SWAP"})
        got = await _frames(ws, lambda fs: len(_pushes(fs, "books")) >= 25)
    first = _pushes(got, "books")[0]
    assert first["action"] == "snapshot" and first["data"][0]["prevSeqId"] == -1
    assert all(f["data"][0]["checksum"] == 0 for f in _pushes(got, "books"))
    books = [r for r in _decode(decoder, got) if type(r) is BookSnapshot]
    assert len(books) >= 25 and decoder.stats.extra["depth_resyncs"] == 0
    _compare_books(sim, books)


async def test_without_the_initial_snapshot_the_book_starts_from_rest_books() -> None:
    async with _serve(OkxSimOptions(break_probability=0.0, snapshot_on_subscribe=False)) as sim:
        decoder = OkxDecoder(SYMBOLS, depth=20)
        async with (
            connect(_url(sim, "public")) as ws,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim.port}/api/v5") as http,
        ):
            await _subscribe(ws, {"channel": "books", "instId": "BTC-USDT"})
            got = await _frames(ws, lambda fs: len(_pushes(fs, "books")) >= 1)
            assert _pushes(got, "books")[0]["action"] == "update"
            assert _decode(decoder, got) == [] and decoder.books is not None
            assert "BTC-USDT" in decoder.books.wanted  # buffered: the book wants REST
            answer = await http.get("/market/books", params={"instId": "BTC-USDT", "sz": 400})
            assert 100 < len(answer.json()["data"][0]["bids"]) <= 400
            rows = decoder.rest_book("BTC-USDT", answer.content, AT)
            more = await _frames(ws, lambda fs: len(fs) >= 20)
        books = [r for r in rows + _decode(decoder, more) if type(r) is BookSnapshot]
        assert len(books) >= 15 and decoder.stats.extra["depth_resyncs"] == 0
        _compare_books(sim, books)


async def test_lost_updates_break_the_prev_seq_id_chain() -> None:
    async with _serve(OkxSimOptions(break_probability=0.3)) as sim:
        async with connect(_url(sim, "public")) as ws:
            await _subscribe(ws, {"channel": "books", "instId": "ETH-USDT"})
            got = _pushes(await _frames(ws, lambda fs: len(_pushes(fs, "books")) >= 25), "books")
        assert _venue(sim).lost_updates > 0
    updates = [f["data"][0] for f in got[1:]]
    links = [(a["seqId"], b["prevSeqId"], b["seqId"]) for a, b in itertools.pairwise(updates)]
    assert any(seq != prev for seq, prev, _ in links), "some update was lost"
    assert all(prev >= seq and new > prev for seq, prev, new in links)  # lost, never reordered
    decoder = OkxDecoder(SYMBOLS)
    _decode(decoder, got)
    assert decoder.stats.extra["depth_resyncs"] > 0


async def test_a_quiet_book_sends_keep_alives_that_change_nothing() -> None:
    options = OkxSimOptions(break_probability=0.0, keepalive_ms=150)
    sim = _serve(options, rate=3)  # a few changes a second over every market
    async with sim, connect(_url(sim, "public")) as ws:
        await _subscribe(ws, {"channel": "books", "instId": "BTC-USDT"})
        got = await _frames(ws, lambda fs: any(
            f["data"][0]["seqId"] == f["data"][0]["prevSeqId"]
            for f in _pushes(fs, "books")[1:]))  # fmt: skip
    alive = _pushes(got, "books")[-1]["data"][0]
    assert alive["bids"] == alive["asks"] == []
    decoder = OkxDecoder(SYMBOLS)
    rows = _decode(decoder, got)
    assert decoder.decode(orjson.dumps(_pushes(got, "books")[-1]), AT) == []
    assert decoder.stats.extra["depth_resyncs"] == 0 and rows


async def test_ping_is_answered_pong_and_an_idle_connection_is_cut() -> None:
    async with _serve(OkxSimOptions(idle_seconds=0.6), rate=20) as sim:
        loop = asyncio.get_running_loop()
        async with connect(_url(sim, "public")) as pinging, connect(_url(sim, "public")) as idle:
            started = loop.time()
            while loop.time() - started < 2.0:  # three idle periods, kept open by pings
                await pinging.send("ping")
                assert await pinging.recv() == "pong"
                await asyncio.sleep(0.15)
            with pytest.raises(ConnectionClosed) as closed:
                async with asyncio.timeout(5):
                    await idle.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4004
            await pinging.send("ping")
            assert await pinging.recv() == "pong"
        assert sim.breaches.counts["okx.idle"] == 1


async def test_subscribe_requests_past_the_hourly_budget_and_args_over_64_kb_are_refused(
) -> None:  # fmt: skip
    async with _serve(OkxSimOptions(subscribes_per_hour=3)) as sim:
        async with connect(_url(sim, "public")) as ws:
            ticker = {"channel": "tickers", "instId": "BTC-USDT"}
            for _ in range(3):
                await _subscribe(ws, ticker, op="unsubscribe")
            answers = await _frames(ws, lambda fs: len(fs) == 3)
            await _subscribe(ws, ticker)
            refused = (await _frames(ws, lambda fs: "event" in fs[-1]))[-1]
        assert [a["event"] for a in answers] == ["unsubscribe"] * 3
        assert (refused["event"], refused["code"]) == ("error", "60014")
        assert sim.breaches.counts["okx.subscribes"] == 1
        async with connect(_url(sim, "public")) as ws:
            args = [{"channel": "books", "instId": f"TOKEN{i:05d}-USDT"} for i in range(1500)]
            await _subscribe(ws, *args)
            big = await _frames(ws, lambda fs: "event" in fs[-1])
        assert (big[-1]["event"], big[-1]["code"]) == ("error", "60012")
        assert "64 KB" in big[-1]["msg"] and sim.breaches.counts["okx.args_bytes"] == 1


async def test_a_fourth_connection_request_in_a_second_is_refused() -> None:
    async with _serve(rate=20, monotonic=lambda: 5.0) as sim:  # every request in one instant
        opened = [await connect(_url(sim, "public")) for _ in range(3)]
        with pytest.raises(InvalidStatus) as refused:
            await connect(_url(sim, "business"))
        for ws in opened:
            await ws.close()
    assert refused.value.response.status_code == 429
    assert orjson.loads(refused.value.response.body)["code"] == "50011"
    assert sim.breaches.counts["okx.connects"] == 1


async def test_each_rest_endpoint_has_its_own_limit() -> None:
    options = OkxSimOptions(rest_limits={"/market/books": 2, "/public/instruments": 1})
    sim = _serve(options, rate=20, monotonic=lambda: 9.0)
    async with sim, httpx.AsyncClient() as http:
        base = f"http://127.0.0.1:{sim.port}/api/v5"
        books = [(await http.get(f"{base}/market/books", params={"instId": "BTC-USDT"}))
                 for _ in range(3)]  # fmt: skip
        listed = await http.get(f"{base}/public/instruments", params={"instType": "SPOT"})
    assert [b.status_code for b in books] == [200, 200, 429]
    assert books[2].json() == {"msg": "Too Many Requests", "code": "50011"}
    assert listed.status_code == 200  # another endpoint, another window
    assert sim.breaches.counts["okx.rest_rate"] == 1


async def test_derivative_channels_decode_into_rows_carrying_the_sent_text(
    sim: Simulator,
) -> None:
    swap = "BTC-USDT-SWAP"
    args = [{"channel": c, "instId": swap} for c in ("funding-rate", "mark-price",
                                                     "open-interest")]  # fmt: skip
    args.append({"channel": "index-tickers", "instId": "BTC-USDT"})
    async with connect(_url(sim, "public")) as ws:
        await _subscribe(ws, *args)
        got = await _frames(ws, lambda fs: len(_pushes(fs, "open-interest")) >= 2
                            and len(_pushes(fs, "mark-price")) >= 3)  # fmt: skip
    rows = _decode(OkxDecoder(SYMBOLS, books=False), got)
    tickers = [r for r in rows if type(r) is DerivativeTicker]
    sent = _venue(sim).sent
    marks = {(m["ts"], m["markPx"]) for m in sent["mark-price"]}
    assert tickers and all((str(t.event_time), t.mark_price) in marks for t in tickers)
    indexes = {i["idxPx"] for i in sent["index-tickers"]}
    assert all(t.index_price in indexes for t in tickers[1:])
    funding = _pushes(got, "funding-rate")[0]["data"][0]  # pushed on subscribe
    assert all((t.funding_rate, t.next_funding_time) == (funding["fundingRate"],
               int(funding["fundingTime"])) for t in tickers)  # fmt: skip
    assert int(funding["fundingTime"]) % (8 * 3_600_000) == 0


async def test_liquidations_are_replayed_on_subscribe_and_written_once() -> None:
    async with _serve(OkxSimOptions(liquidation_probability=1.0)) as sim:
        arg = {"channel": "liquidation-orders", "instType": "SWAP"}
        decoder = OkxDecoder(SYMBOLS, books=False)
        async with connect(_url(sim, "public")) as ws:
            await _subscribe(ws, arg)
            first = await _frames(ws, lambda fs: len(_pushes(fs, "liquidation-orders")) >= 3)
        async with connect(_url(sim, "public")) as ws:
            await _subscribe(ws, arg)
            again = await _frames(ws, lambda fs: len(_pushes(fs, "liquidation-orders")) >= 3)
    seconds = [(f["data"][0]["instId"], int(f["data"][0]["details"][0]["ts"]) // 1000)
               for f in _pushes(first, "liquidation-orders")]  # fmt: skip
    assert len(seconds) == len(set(seconds))  # at most one a second per swap
    rows = [r for r in _decode(decoder, first + again) if type(r) is Liquidation]
    replayed = decoder.stats.extra["liquidations_replayed"]
    assert replayed >= 3  # the first connection's ones came again
    assert len(rows) == len({r.record_id for r in rows})


def test_listings_hold_spot_pairs_swaps_and_a_few_not_trading() -> None:
    items = dict(listings(VenueConfig(SYMBOLS, markets=100)))
    states = {item.symbol: item.status for item in items}
    assert states["C0017-USDT"] == "suspend" and states["C0041-USDT"] == "preopen"
    assert "C0003-USDT-PERP" in states and "C0004-USDT-PERP" not in states
    specs = {item.symbol: spec for item, spec in items.items()}
    assert specs["BTC-USDT-PERP"].contract_value == "0.01" and not specs["BTC-USDT"].swap
    assert all(not item.trading for item in items if item.status != "live")
    with pytest.raises(ValueError, match="not an OKX symbol"):
        listings(VenueConfig(("BTC-USDT-SWAP",)))
