"""Each venue with a REST trade history, as its source backfills a trade hole: the venue's real
REST client against the simulator, driven by the sources' `TradeBackfiller`.

Shared by `test_trading_on.py` (the market trades on with no client; the history serves what
it made) and `test_history_depth.py` (a history `history_depth` deep leaves the older part of a
hole unserved, and the backfill says so).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from streamer.ids import record_id, record_ids
from streamer.records import Item, Trade
from streamer.simulator import Simulator, SimulatorConfig
from streamer.simulator.server import simulated
from streamer.sources.base import FeedStats
from streamer.sources.trade_backfill import TradeBackfiller
from streamer.sources.trade_gaps import Hole, TradeGaps
from streamer.timefmt import now_millis
from streamer.venues.binance.rest import BinanceRest
from streamer.venues.binance.usdm_client import UsdmRest
from streamer.venues.binance.usdm_streams import native_symbol as usdm_native
from streamer.venues.coinbase.rest import CoinbaseRest
from streamer.venues.kraken.rest import KrakenRest
from streamer.venues.kraken.symbols import rest_pair
from streamer.venues.okx.rest import OkxRest
from streamer.venues.okx.symbols import inst_id

DEADLINE = 30.0  # seconds any wait below may take at most
RATE = 1000.0  # market events a second: one symbol trades some 350 times a second

IdMaker = Callable[[object], str]


@dataclass(frozen=True, slots=True)
class Case:
    """One venue: the symbol traded, the kind its trade ids count (`record_id`'s), and how its
    source asks its REST client for the trades of some holes."""

    venue: str
    symbol: str
    kind: str
    client: Callable[[str], Any]  # base URL -> the venue's REST client
    fetch: Callable[[Any, str, IdMaker, list[Hole]], Awaitable[list[Item]]]

    def __str__(self) -> str:
        return self.venue


CASES = [
    Case("binance", "BTC-USDT", "trade",
         lambda url: BinanceRest(url, clock=now_millis),
         lambda rest, s, ids, holes: rest.trades(s, s.replace("-", ""), "trade", ids, holes)),
    Case("binance_usdm", "BTC-USDT-PERP", "aggTrade",
         lambda url: UsdmRest(url, clock=now_millis),
         lambda rest, s, ids, holes: rest.trades(s, usdm_native(s), "aggTrade", ids, holes)),
    Case("coinbase", "BTC-USD", "trade",
         lambda url: CoinbaseRest(url, clock=now_millis),
         lambda rest, s, ids, holes: rest.trades(s, ids, holes)),
    Case("okx", "BTC-USDT", "trade",
         lambda url: OkxRest(url, clock=now_millis),
         lambda rest, s, ids, holes: rest.trades(s, inst_id(s), ids, holes)),
    Case("kraken", "BTC-USD", "trade",
         lambda url: KrakenRest(url, clock=now_millis),
         lambda rest, s, ids, holes: rest.trades(s, rest_pair(s), ids, holes)),
]  # fmt: skip


def config(case: Case, **more: Any) -> SimulatorConfig:
    """The simulator on port 0 with `case`'s one symbol trading and every other venue idle."""
    symbols: dict[str, tuple[str, ...]] = dict.fromkeys(simulated(), ())
    symbols[case.venue] = (case.symbol,)
    return SimulatorConfig(**{"port": 0, "rate": RATE, "symbols": symbols, **more})


def ids_sent(sim: Simulator, case: Case) -> list[int]:
    """The ids of every trade of `case`'s symbol the simulator made so far, oldest first."""
    return sorted(map(int, sim.sent_trades[(case.venue, case.symbol)]))


async def trades_made(sim: Simulator, case: Case, count: int) -> list[int]:
    """Wait (bounded) until the market made `count` more trades of the symbol; every id."""
    record = sim.sent_trades[(case.venue, case.symbol)]
    target = len(record) + count
    async with asyncio.timeout(DEADLINE):
        while len(record) < target:
            await asyncio.sleep(0.02)
    return ids_sent(sim, case)


@dataclass(frozen=True, slots=True)
class Backfilled:
    trades: list[Trade]  # what the backfill published, by id
    stats: FeedStats
    hole: range  # the ids missing between the two the client saw


async def backfill(sim: Simulator, case: Case, seen: Sequence[int]) -> Backfilled:
    """A client saw the trades `seen` (ids the simulator made) and no others: fill the holes
    between them as the venue's source does, through its real REST client."""
    sent = sim.sent_trades[(case.venue, case.symbol)]
    ids = record_ids(case.venue, case.symbol, case.kind)
    gaps = TradeGaps()
    track = gaps.track(case.symbol, ids)
    for trade_id in seen:
        gaps.off_sequence(track, trade_id, sent[str(trade_id)][3])
    stats = FeedStats()
    published: list[Item] = []

    async def emit(items: Sequence[Item]) -> None:
        published.extend(items)

    rest = case.client(f"http://127.0.0.1:{sim.port}")

    async def fetch(symbol: str, holes: list[Hole]) -> list[Item]:
        return await case.fetch(rest, symbol, ids, holes)

    filler = TradeBackfiller(case.venue, gaps, stats, fetch, asyncio.Semaphore(1), settle=0)
    async with asyncio.timeout(DEADLINE), rest, asyncio.TaskGroup() as group:
        filler.group = group
        filler.take(emit)
    assert filler.pending == 0 and gaps.open_holes(case.symbol) == []
    trades = sorted((i for i in published if type(i) is Trade), key=lambda t: int(t.trade_id))
    return Backfilled(trades, stats, range(min(seen) + 1, max(seen)))


def check_against_truth(sim: Simulator, case: Case, trades: list[Trade]) -> None:
    """Each trade is the one the simulator made, with the `record_id` its live row has."""
    sent: Mapping[str, tuple[str, str, str, int]] = sim.sent_trades[(case.venue, case.symbol)]
    for trade in trades:
        price, size, side, at = sent[trade.trade_id]
        assert (Decimal(trade.price), Decimal(trade.size), trade.side, trade.event_time) == (
            Decimal(price), Decimal(size), side, at,
        )  # fmt: skip
        assert trade.record_id == record_id(case.venue, case.symbol, case.kind, trade.trade_id)
