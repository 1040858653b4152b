"""A venue whose REST trade history stops at a depth (`history_depth`, `--history-depth`): a
hole older than it is filled only as far back as the history reaches, and the backfill counts
the rest as not served (issue 26: unrecoverable holes, produced on purpose)."""

from __future__ import annotations

import httpx
import pytest

from streamer.simulator import Simulator, SimulatorConfig
from tests.simulator.history_cases import (
    CASES,
    Case,
    backfill,
    check_against_truth,
    config,
    ids_sent,
    trades_made,
)

DEPTH = 600  # nearly two seconds of the market's trades: the hole's end is still in it


@pytest.mark.parametrize("case", CASES, ids=str)
async def test_a_hole_older_than_the_history_is_filled_as_far_as_it_reaches(case: Case) -> None:
    async with Simulator(config(case, history_depth={case.venue: DEPTH})) as sim:
        ids = await trades_made(sim, case, 5 * DEPTH // 2)
        # The client saw the first trade and the newest, nothing between: most of that hole is
        # older than the newest DEPTH trades the venue still serves.
        done = await backfill(sim, case, [ids[0], ids[-1]])
        newest = ids_sent(sim, case)[-1]
    got = [int(t.trade_id) for t in done.trades]
    hole = done.hole
    assert got and got == list(range(got[0], hole.stop))  # the hole's newest part, whole
    assert ids[-1] - DEPTH < got[0] <= newest - DEPTH + 1  # what the history held then
    unserved = got[0] - hole.start
    assert done.stats.extra["trade_ids_unserved"] == unserved >= len(hole) - DEPTH
    assert done.stats.extra["trade_holes_unserved"] == 1
    assert done.stats.extra["trades_backfilled"] == len(got)
    check_against_truth(sim, case, done.trades)


async def test_the_depth_is_per_venue_and_can_change_while_serving() -> None:
    binance, usdm = CASES[0], CASES[1]
    symbols = {**config(binance).symbols, usdm.venue: (usdm.symbol,)}
    async with Simulator(SimulatorConfig(port=0, rate=1000, symbols=symbols)) as sim:
        await trades_made(sim, binance, 300)
        await trades_made(sim, usdm, 300)
        sim.limit_history(100, binance.venue)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim.port}") as http:
            spot = await http.get("/api/v3/historicalTrades", params={"symbol": "BTCUSDT",
                                                                     "fromId": 1})  # fmt: skip
            futures = await http.get("/fapi/v1/aggTrades", params={"symbol": "BTCUSDT",
                                                                   "fromId": 1})  # fmt: skip
            sim.limit_history(None)
            whole = await http.get("/api/v3/historicalTrades", params={"symbol": "BTCUSDT",
                                                                      "fromId": 1})  # fmt: skip
    spot_ids = [row["id"] for row in spot.json()]
    assert len(spot_ids) == 100 and spot_ids[0] > 1  # asked for id 1: the oldest it has
    assert spot_ids == list(range(spot_ids[0], spot_ids[0] + 100))
    assert futures.json()[0]["a"] == 1  # the other venue serves all it keeps
    assert whole.json()[0]["id"] == 1
    with pytest.raises(ValueError, match="no simulated venue 'nosuch'"):
        sim.limit_history(5, "nosuch")


def test_a_bad_depth_is_refused_naming_the_flag() -> None:
    with pytest.raises(ValueError, match=r"history_depth of okx is -1.*--history-depth"):
        SimulatorConfig(history_depth={"okx": -1})
    with pytest.raises(ValueError, match=r"history_depth of binance is -3"):
        SimulatorConfig(history_depth=-3)
    with pytest.raises(ValueError, match=r"names no venue bitmex; venues: binance, "):
        SimulatorConfig(history_depth={"bitmex": 5})
    with pytest.raises(ValueError, match=r"keep_trading needs a rate above 0 \(--rate\)"):
        SimulatorConfig(rate=0, keep_trading=True)
    assert SimulatorConfig(history_depth=7).history_depths(("a", "b")) == {"a": 7, "b": 7}
