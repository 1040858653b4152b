"""The simulated Binance USD-M routes streams as Binance does since 2026-04-23, and every frame
and answer it gives decodes with the foundation's USD-M decoders into the simulator's truth."""

from __future__ import annotations

import asyncio
import collections
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from streamer.records import (
    BookSnapshot,
    DerivativeTicker,
    FundingRate,
    Instrument,
    Liquidation,
    Millis,
    OpenInterest,
    Reject,
)
from streamer.records import Trade as TradeRow
from streamer.simulator import Simulator, SimulatorConfig
from streamer.simulator.venue import VenueConfig
from streamer.venues.binance import usdm_rest
from streamer.venues.binance.usdm_decode import UsdmDecoder
from streamer.venues.binance.usdm_sim_listing import listings, quarter_ends
from streamer.venues.binance.usdm_sim_market import predicted_rate
from streamer.venues.binance.usdm_simulator import (
    BinanceUsdm,
    UsdmSimOptions,
    delivered,
    route_of,
)

NAME = "binance_usdm"
SYMBOLS = ("BTC-USDT-PERP", "ETH-USDT-PERP")
EIGHT_HOURS = 8 * 3_600_000
T0 = 1_764_000_000_000  # 2025-11-24
AT = Millis(0)  # when a frame was received: not what these tests check


class ShiftedClock:
    """The wall clock in epoch ms, plus a shift a test moves (funding in seconds, not hours)."""

    def __init__(self) -> None:
        self.shift = 0

    def __call__(self) -> int:
        return time.time_ns() // 1_000_000 + self.shift


async def _serve(options: UsdmSimOptions, clock: ShiftedClock | None = None) -> Simulator:
    config = SimulatorConfig(port=0, rate=400, symbols={NAME: SYMBOLS}, options={NAME: options})
    return Simulator(config, clock=clock)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with await _serve(UsdmSimOptions(pu_break_probability=0.0)) as simulator:
        yield simulator


def _venue(sim: Simulator) -> BinanceUsdm:
    venue = sim.venues[NAME]
    assert isinstance(venue, BinanceUsdm)
    return venue


def _url(sim: Simulator, route: str, *streams: str) -> str:
    query = f"?streams={'/'.join(streams)}" if streams else ""
    return f"ws://127.0.0.1:{sim.port}/fstream/{route}{query}"


async def _frames(ws: ClientConnection, enough: Any, limit: int = 20_000) -> list[dict[str, Any]]:
    """Frames until `enough(frames)` holds (bounded: the test fails rather than hangs)."""
    frames: list[dict[str, Any]] = []
    for _ in range(limit):
        frames.append(orjson.loads(await ws.recv()))
        if enough(frames):
            return frames
    raise AssertionError(f"condition not met in {limit} frames")


def _span(frames: list[dict[str, Any]], stream: str) -> int:
    """Market milliseconds between the first and last frames of `stream`."""
    data = [f["data"] for f in frames if f.get("stream") == stream]
    times = [d[0]["E"] if type(d) is list else d["E"] for d in data]
    return times[-1] - times[0] if times else 0


def _decode(decoder: UsdmDecoder, frames: list[dict[str, Any]]) -> list[Any]:
    rows = []
    for frame in frames:
        rows += decoder.decode(orjson.dumps(frame), AT)
    assert not [row for row in rows if type(row) is Reject]
    return rows


async def test_a_routed_stream_arrives_and_a_misrouted_one_is_acknowledged_then_silent(
    sim: Simulator,
) -> None:
    mark, depth = "!markPrice@arr@1s", "btcusdt@depth@100ms"
    market_url = _url(sim, "market/stream", "btcusdt@aggTrade", depth, mark)
    public_url = _url(sim, "public/stream", depth, "btcusdt@trade", mark)
    async with connect(market_url) as market, connect(public_url) as public:
        got = await _frames(market, lambda fs: _span(fs, mark) >= 2000)
        assert {f["stream"] for f in got} == {"btcusdt@aggTrade", mark}
        got_public = await _frames(public, lambda fs: _span(fs, depth) >= 2000)
        assert {f["stream"] for f in got_public} == {depth, "btcusdt@trade"}
        await public.send(orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 9}).decode())
        listed = await _frames(public, lambda fs: "result" in fs[-1])
        assert listed[-1] == {"result": sorted([depth, "btcusdt@trade", mark]), "id": 9}
    rows = _decode(UsdmDecoder(SYMBOLS, books=False), got)
    assert {type(r) for r in rows} == {TradeRow, DerivativeTicker}


async def test_the_unrouted_url_acknowledges_market_streams_and_sends_only_public_ones(
    sim: Simulator,
) -> None:
    request = orjson.dumps({"method": "SUBSCRIBE", "id": 1,
                            "params": ["btcusdt@aggTrade", "btcusdt@trade"]}).decode()  # fmt: skip
    async with connect(_url(sim, "stream")) as ws:
        await ws.send(request)
        got = await _frames(ws, lambda fs: _span(fs, "btcusdt@trade") >= 1500)
    assert got[0] == {"result": None, "id": 1}
    assert {f.get("stream") for f in got[1:]} == {"btcusdt@trade"}
    async with connect(_url(sim, "ws")) as bare:  # `/ws`: bare payloads
        await bare.send(request)
        naked = await _frames(bare, lambda fs: len(fs) > 20)
    assert naked[0] == {"result": None, "id": 1}
    assert {f["e"] for f in naked[1:]} == {"trade"} and "stream" not in naked[1]
    rows = _decode(UsdmDecoder(SYMBOLS, trades="trade", books=False), got)
    assert rows and all(type(r) is TradeRow for r in rows)
    assert len(rows) == len(got) - 1


async def test_a_book_from_the_snapshot_and_diffs_equals_the_truth(sim: Simulator) -> None:
    decoder = UsdmDecoder(SYMBOLS, depth=20)
    compared = 0
    async with (
        connect(_url(sim, "public/stream", "btcusdt@depth@100ms")) as ws,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim.port}") as http,
    ):
        first = await ws.recv()
        assert decoder.decode(first, AT) == []  # buffered: the book wants its snapshot
        answer = await http.get("/fapi/v1/depth", params={"symbol": "BTCUSDT", "limit": 1000})
        assert answer.headers["X-MBX-USED-WEIGHT-1M"] == "20"
        snapshot = orjson.loads(answer.content)
        assert 100 < len(snapshot["bids"]) <= 200  # all the market has
        # Binance's procedure: buffer until an event reaches the snapshot, then apply it.
        while orjson.loads(frame := await ws.recv())["data"]["u"] < snapshot["lastUpdateId"]:
            assert decoder.decode(frame, AT) == []
        assert decoder.decode(frame, AT) == []
        rows = decoder.depth_snapshot("BTC-USDT-PERP", answer.content, AT)
        for _ in range(600):  # a minute of events at most, not for ever
            if compared >= 30:
                break
            rows += decoder.decode(await ws.recv(), AT)
            books = [r for r in rows if type(r) is BookSnapshot]
            truth = sim.truth.books[NAME]
            for book in books:
                bids, asks = truth[("BTC-USDT-PERP", book.sequence)]
                assert [list(level) for level in book.bids] == bids[:20]  # the text as sent
                assert [list(level) for level in book.asks] == asks[:20]
            compared += len(books)
            rows = []
    assert compared >= 30 and not [r for r in rows if type(r) is Reject]
    assert decoder.stats.extra["depth_resyncs"] == 0


async def test_lost_diff_events_break_the_pu_chain() -> None:
    async with await _serve(UsdmSimOptions(pu_break_probability=0.3)) as sim:
        async with connect(_url(sim, "public/stream", "ethusdt@depth@100ms")) as ws:
            events = [f["data"] for f in await _frames(ws, lambda fs: len(fs) >= 40)]
        assert _venue(sim).lost_events > 0
    links = [(a["u"], b["pu"], b["U"]) for a, b in itertools.pairwise(events)]
    assert any(u != pu for u, pu, _ in links), "some event was lost"
    assert all(pu >= u and first > pu for u, pu, first in links)  # lost, never reordered
    decoder = UsdmDecoder(SYMBOLS)
    _decode(decoder, [{"stream": "ethusdt@depth@100ms", "data": e} for e in events])


async def test_mark_prices_cover_every_trading_contract_and_funding_settles_on_the_clock() -> None:
    clock = ShiftedClock()
    mark = "!markPrice@arr@1s"
    async with await _serve(UsdmSimOptions(), clock) as sim:
        venue = _venue(sim)
        dated = next(s for s in venue.symbols if not s.endswith("PERP"))
        base = f"http://127.0.0.1:{sim.port}/fapi/v1"
        async with connect(_url(sim, "market/stream", mark)) as ws, httpx.AsyncClient() as http:
            frame = (await _frames(ws, lambda fs: "stream" in fs[-1]))[-1]
            elements = {item["s"]: item for item in frame["data"]}
            assert set(elements) == {"BTCUSDT", "ETHUSDT", dated.replace("-USDT-", "USDT_")}
            funding_at = elements["BTCUSDT"]["T"]
            assert funding_at % EIGHT_HOURS == 0 and funding_at > frame["data"][0]["E"]
            assert (
                elements[dated.replace("-USDT-", "USDT_")] | {"r": "", "T": 0}
                == elements[dated.replace("-USDT-", "USDT_")]
            )
            rows = _decode(UsdmDecoder(SYMBOLS, books=False), [frame])
            assert {r.symbol for r in rows} == set(SYMBOLS)
            tickers = [r for r in rows if isinstance(r, DerivativeTicker)]
            assert len(tickers) == 2 and all(t.funding_rate is not None for t in tickers)

            async def settled() -> list[dict[str, Any]]:
                answer = await http.get(f"{base}/fundingRate", params={"symbol": "BTCUSDT"})
                body: list[dict[str, Any]] = answer.json()
                return body

            before = await settled()
            assert len(before) == 90 and before[-1]["fundingTime"] == funding_at - EIGHT_HOURS
            clock.shift += EIGHT_HOURS  # eight hours pass in a moment
            moved = await _frames(
                ws, lambda fs: "stream" in fs[-1] and fs[-1]["data"][0]["T"] > funding_at
            )
            assert moved[-1]["data"][0]["T"] == funding_at + EIGHT_HOURS
            after = await settled()
            assert after[-1]["fundingTime"] == funding_at and after[-2] == before[-1]
            answer = await http.get(f"{base}/fundingRate", params={"symbol": "BTCUSDT"})
            rates = usdm_rest.funding_rates(answer.content, "BTC-USDT-PERP", AT, 8)
            assert rates and all(type(r) is FundingRate for r in rates)
            assert str(rates[-1].funding_rate) == after[-1]["fundingRate"]


async def test_liquidations_come_in_bursts_at_most_one_per_symbol_and_second() -> None:
    options = UsdmSimOptions(liquidation_probability=1.0)
    async with await _serve(options) as sim:
        async with connect(_url(sim, "market/stream", "!forceOrder@arr")) as ws:
            got = await _frames(ws, lambda fs: _span(fs, "!forceOrder@arr") >= 3000)
        made = sum(_venue(sim).liquidations.values())
    seconds = collections.Counter((f["data"]["o"]["s"], f["data"]["o"]["T"] // 1000) for f in got)
    assert max(seconds.values()) == 1
    assert made > len(got), "more liquidations happened than were pushed"
    rows = _decode(UsdmDecoder(SYMBOLS, books=False), got)
    assert rows and all(type(r) is Liquidation for r in rows)


async def test_rest_answers_decode_and_are_charged_usdm_weights(sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim.port}/fapi/v1") as http:
        info = await http.get("/exchangeInfo")
        instruments = usdm_rest.instruments(info.content, AT)
        kinds = {(r.symbol.endswith("PERP"), r.kind, r.status) for r in instruments
                 if type(r) is Instrument}  # fmt: skip
        assert kinds == {(True, "perpetual", "TRADING"), (False, "delivery", "TRADING"),
                         (False, "delivery", "PENDING_TRADING")}  # fmt: skip
        interest = await http.get("/openInterest", params={"symbol": "ETHUSDT"})
        rows = usdm_rest.open_interest(interest.content, "ETH-USDT-PERP", AT)
        assert type(rows[0]) is OpenInterest and rows[0].event_time == interest.json()["time"]
        used = int(interest.headers["X-MBX-USED-WEIGHT-1M"])
        async with asyncio.timeout(10):  # the market's first trade (a loaded machine is slow)
            while not _venue(sim).markets["ETH-USDT-PERP"].history:
                await asyncio.sleep(0.01)
        trades = await http.get("/aggTrades", params={"symbol": "ETHUSDT", "fromId": 1})
        assert int(trades.headers["X-MBX-USED-WEIGHT-1M"]) == used + 20
        ids = [row["a"] for row in trades.json()]
        assert ids and ids == list(range(1, 1 + len(ids)))
        assert (await http.get("/fundingInfo")).json() == []  # every configured one funds 8 h
        assert (await http.get("/ping")).json() == {}
        assert "serverTime" in (await http.get("/time")).json()
        assert (await http.get("/depth", params={"symbol": "NOPE"})).status_code == 400


async def test_request_weight_past_the_limit_is_refused_with_retry_after() -> None:
    config = SimulatorConfig(port=0, rate=0, symbols={NAME: SYMBOLS},
                             options={NAME: UsdmSimOptions(weight_per_minute=50)})  # fmt: skip
    async with Simulator(config, monotonic=lambda: 30.0) as sim:
        url = f"http://127.0.0.1:{sim.port}/fapi/v1/depth"
        async with httpx.AsyncClient() as http:
            params: dict[str, str | int] = {"symbol": "BTCUSDT", "limit": 1000}
            codes = [(await http.get(url, params=params)).status_code for _ in range(3)]
            limited = await http.get(url, params=params)
        assert codes == [200, 200, 429] and limited.status_code == 418
        assert sim.breaches.counts[f"{NAME}.weight_429"] == 1


def test_streams_are_carried_by_their_documented_routes() -> None:
    assert route_of("btcusdt@depth@100ms") == route_of("btcusdt@depth20@100ms") == "public"
    assert route_of("btcusdt@trade") == route_of("!bookTicker") == "public"
    assert route_of("btcusdt@aggTrade") == route_of("!markPrice@arr@1s") == "market"
    assert route_of("btcusdt@kline_1m") == route_of("!forceOrder@arr") == "market"
    assert route_of("btcusdt@nothing") is None
    assert delivered(None, "btcusdt@trade") and not delivered(None, "btcusdt@aggTrade")
    assert not delivered("market", "btcusdt@depth@100ms")
    assert not delivered("public", "!markPrice@arr@1s")


def test_listings_hold_perpetuals_two_dated_contracts_and_some_not_trading() -> None:
    assert quarter_ends(T0) == ("251226", "260327")
    assert quarter_ends(1_774_569_600_000) == ("260626", "260925")  # on the day: the next
    items = listings(VenueConfig(SYMBOLS, markets=100), T0)
    statuses = {item.symbol: item.status for item, _ in items}
    assert statuses["BTC-USDT-251226"] == "TRADING"
    assert statuses["BTC-USDT-260327"] == "PENDING_TRADING"
    assert statuses["C0017-USDT-PERP"] == "SETTLING" and statuses["C0041-USDT-PERP"] != "TRADING"
    contract = dict((item.symbol, c) for item, c in items)["BTC-USDT-251226"]
    assert contract.delivery_ms == 1_766_736_000_000  # 2025-12-26 08:00 UTC
    assert all(not item.trading for item, _ in items if item.status != "TRADING")


def test_the_predicted_rate_is_the_interest_within_the_premium_clamp() -> None:
    assert predicted_rate(0) == 10_000  # 0.01 %
    assert predicted_rate(10) == 50_000  # premium 0.10 %, less the clamped 0.05 %
    assert predicted_rate(-10) == -50_000
