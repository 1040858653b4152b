"""Trade holes are filled from the venues' REST trades (the simulator's), with the rows and
`record_id`s the live streams give; what REST no longer has is counted and logged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal

import pytest

from streamer.ids import record_id, record_ids
from streamer.records import Item, Millis, Reject, Trade
from streamer.simulator import Simulator, SimulatorConfig
from streamer.sources.base import FeedStats
from streamer.sources.trade_backfill import TradeBackfiller
from streamer.sources.trade_gaps import Hole, TradeGaps
from streamer.timefmt import now_millis
from streamer.venues.binance.rest import BinanceRest, parse_trades
from streamer.venues.coinbase.rest import CoinbaseRest

DEADLINE = 30.0


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    config = SimulatorConfig(
        port=0,
        rate=2000,
        trade_history=3000,
        symbols={"binance": ("BTC-USDT",), "coinbase": ("BTC-USD",), "coingecko": ()},
    )
    async with Simulator(config) as simulator:
        yield simulator


async def trades_made(sim: Simulator, venue: str, symbol: str, count: int) -> list[int]:
    """Wait (bounded) until the simulator made `count` trades of `symbol`; their ids."""
    async with asyncio.timeout(DEADLINE):
        while len(sim.sent_trades[(venue, symbol)]) < count:
            await asyncio.sleep(0.05)
    return sorted(map(int, sim.sent_trades[(venue, symbol)]))


def check_against_truth(sim: Simulator, venue: str, symbol: str, trades: list[Trade]) -> None:
    sent = sim.sent_trades[(venue, symbol)]
    for trade in trades:
        price, size, side, at = sent[trade.trade_id]
        assert (Decimal(trade.price), Decimal(trade.size), trade.side, trade.event_time) == (
            Decimal(price),
            Decimal(size),
            side,
            at,
        )


@pytest.mark.parametrize("kind", ["trade", "aggTrade"])
async def test_binance_pages_by_id_from_the_first_missing_to_the_last(
    sim: Simulator, kind: str
) -> None:
    ids = await trades_made(sim, "binance", "BTC-USDT", 1500)
    rid = record_ids("binance", "BTC-USDT", kind)
    # Two holes a page apart and one far off: the first two share their pages.
    holes = [Hole("BTC-USDT", ids[10], ids[20], 0, 0), Hole("BTC-USDT", ids[900], ids[1300], 0, 0)]
    rest = BinanceRest(f"http://127.0.0.1:{sim.port}", clock=now_millis)
    async with rest:
        items = await rest.trades("BTC-USDT", "BTCUSDT", kind, rid, holes)
    trades = [i for i in items if isinstance(i, Trade)]
    got = {int(t.trade_id) for t in trades}
    assert set(range(ids[10], ids[20] + 1)) | set(range(ids[900], ids[1300] + 1)) <= got
    check_against_truth(sim, "binance", "BTC-USDT", trades)
    assert all(t.record_id == record_id("binance", "BTC-USDT", kind, t.trade_id) for t in trades)
    weight = 25 if kind == "trade" else 4
    assert rest.calls == 2 and rest.weight_spent == 2 * weight  # 10..1010, then 1011..1300


async def test_coinbase_halves_a_window_until_no_answer_is_full() -> None:
    start = now_millis()
    config = SimulatorConfig(
        port=0, rate=1000, symbols={"binance": (), "coinbase": ("BTC-USD",), "coingecko": ()}
    )
    # The market's clock runs 60x: some 6 trades a market second, 50 an answer at most here.
    async with Simulator(config, clock=lambda: start + (now_millis() - start) * 60) as sim:
        await trades_made(sim, "coinbase", "BTC-USD", 600)
        sent = sim.sent_trades[("coinbase", "BTC-USD")]
        ids = sorted(map(int, sent))
        first, last = ids[100], ids[500]
        before, after = sent[str(first - 1)][3], sent[str(last + 1)][3]
        hole = Hole("BTC-USD", first, last, before, after)
        rest = CoinbaseRest(f"http://127.0.0.1:{sim.port}", clock=now_millis)
        async with rest:
            rid = record_ids("coinbase", "BTC-USD", "trade")
            items = await rest.trades("BTC-USD", rid, [hole], page=50)
        trades = [i for i in items if isinstance(i, Trade)]
        assert set(range(first, last + 1)) <= {int(t.trade_id) for t in trades}
        check_against_truth(sim, "coinbase", "BTC-USD", trades)
    assert all(t.record_id == record_id("coinbase", "BTC-USD", "trade", t.trade_id) for t in trades)
    assert rest.calls > 400 / 50  # the window was narrowed, answer after answer


def test_recorded_shapes_of_binance_trade_answers_parse_like_the_streams() -> None:
    historical = b'[{"id":28457,"price":"4.00000100","qty":"12.00000000","quoteQty":"48.000012",'
    historical += b'"time":1499865549590,"isBuyerMaker":true,"isBestMatch":true}]'
    rid = record_ids("binance", "BNB-BTC", "trade")
    (trade,) = parse_trades(historical, "BNB-BTC", "trade", rid, Millis(5))
    assert trade == Trade("binance", "BNB-BTC", Millis(1499865549590), Millis(5), "28457",
                          "4.00000100", "12.00000000", "sell",  # type: ignore[arg-type]
                          record_id("binance", "BNB-BTC", "trade", 28457))  # fmt: skip
    agg = b'[{"a":26129,"p":"0.01633102","q":"4.70443515","f":27781,"l":27781,'
    agg += b'"T":1498793709153,"m":false,"M":true}]'
    rid = record_ids("binance", "LTC-BTC", "aggTrade")
    (trade,) = parse_trades(agg, "LTC-BTC", "aggTrade", rid, Millis(5))
    assert isinstance(trade, Trade) and (trade.trade_id, trade.side) == ("26129", "buy")
    (bad,) = parse_trades(b'{"code":-1121}', "LTC-BTC", "aggTrade", str, Millis(5))
    assert isinstance(bad, Reject) and "not a JSON array" in bad.reason


async def test_a_hole_rest_no_longer_serves_is_counted_and_logged(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    ids = await trades_made(sim, "binance", "BTC-USDT", 3200)  # history keeps the newest 3000
    async with asyncio.timeout(DEADLINE):
        while True:  # the oldest trades made are gone from the venue
            rest = BinanceRest(f"http://127.0.0.1:{sim.port}", clock=now_millis)
            async with rest:
                oldest = {"symbol": "BTCUSDT", "fromId": "0", "limit": "1"}
                probe = await rest.get("/api/v3/historicalTrades", oldest)
            if b'"id":' + str(ids[0]).encode() + b"," not in probe:
                break
            await asyncio.sleep(0.05)
    gaps = TradeGaps()
    track = gaps.track("BTC-USDT", record_ids("binance", "BTC-USDT", "trade"))
    # The client saw ids[0], then (after a long cut) an id far later: a hole of old ids.
    for trade_id in (ids[0], ids[-1]):
        gaps.off_sequence(track, trade_id, 0)
    stats = FeedStats()
    published: list[Item] = []

    async def emit(items: Sequence[Item]) -> None:
        published.extend(items)

    rest = BinanceRest(f"http://127.0.0.1:{sim.port}", clock=now_millis)

    async def fetch(symbol: str, holes: list[Hole]) -> list[Item]:
        return await rest.trades(symbol, "BTCUSDT", "trade", track.record_id, holes)

    backfill = TradeBackfiller("binance", gaps, stats, fetch, asyncio.Semaphore(1), settle=0)
    caplog.set_level(logging.WARNING)
    async with rest, asyncio.TaskGroup() as group:
        backfill.group = group
        backfill.take(emit)
    got = sorted(int(t.trade_id) for t in published if isinstance(t, Trade))
    hole = range(ids[0] + 1, ids[-1])
    assert got and set(got) <= set(hole) and got == list(range(got[0], ids[-1]))
    unserved = got[0] - hole.start  # the oldest ids of the hole
    assert stats.extra["trade_ids_unserved"] == unserved > 0
    assert stats.extra["trade_holes_unserved"] == 1
    assert stats.extra["trades_backfilled"] == len(got) == stats.backfilled
    assert f"missing={unserved}" in caplog.text and "binance.trade_hole_unserved" in caplog.text
    assert backfill.pending == 0 and gaps.open_holes("BTC-USDT") == []


async def test_fill_tasks_share_the_sources_rest_cap_and_run_one_per_symbol() -> None:
    running, most, per_symbol = 0, 0, 0
    busy: set[str] = set()

    async def fetch(symbol: str, holes: list[Hole]) -> list[Item]:
        nonlocal running, most, per_symbol
        per_symbol = max(per_symbol, 1 + (symbol in busy))
        busy.add(symbol)
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        running -= 1
        busy.discard(symbol)
        return []

    gaps = TradeGaps()
    stats = FeedStats()
    backfill = TradeBackfiller("binance", gaps, stats, fetch, asyncio.Semaphore(2), settle=0)

    async def emit(items: Sequence[Item]) -> None:
        pass

    async with asyncio.TaskGroup() as group:
        backfill.group = group
        for n in range(20):  # five symbols, each with holes found while it is being filled
            track = gaps.track(f"S{n % 5}-USDT", str)
            for trade_id in (100 * n, 100 * n + 5):
                gaps.off_sequence(track, trade_id, 0)
            backfill.take(emit)
    assert most == 2 and per_symbol == 1
    # Per symbol 4 holes of 4 ids (between 100n and 100n + 5) and 3 of 494: none came back.
    assert stats.extra["trade_ids_unserved"] == 5 * (4 * 4 + 3 * 494)
    assert backfill.pending == 0
