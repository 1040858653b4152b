"""The queries `streamer demo` prints run on a lake the demo wrote: every simulated venue side
by side, and each venue's perpetuals and liquidations apart (not summed over venues)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamer import query
from streamer.demo import EXAMPLES


def example(word: str) -> str:
    (sql,) = [sql for title, sql in EXAMPLES if word in title]
    return sql


def test_every_example_runs_on_the_demo_lake(demo_lake: Path) -> None:
    for title, sql in EXAMPLES:
        names, _ = query.run(demo_lake, sql)
        assert names, title


def test_one_coin_on_the_five_exchanges_side_by_side(demo_lake: Path) -> None:
    names, rows = query.run(demo_lake, example("side by side"))
    assert names == ["coin", "binance", "binance_usdm perp", "coinbase", "kraken", "okx",
                     "okx perp"]  # fmt: skip
    btc = dict(zip(names, next(r for r in rows if r[0] == "BTC"), strict=True))
    _, last = query.run(demo_lake, "SELECT exchange, symbol, arg_max(price, event_time) "
                        "FROM crypto_trades WHERE symbol LIKE 'BTC-%' GROUP BY ALL")  # fmt: skip
    for exchange, symbol, price in last:
        market = exchange + (" perp" if symbol.endswith("-PERP") else "")
        assert btc[market] == price, (exchange, symbol)


def test_perpetuals_and_liquidations_are_per_exchange(demo_lake: Path) -> None:
    names, rows = query.run(demo_lake, example("Perpetuals"))
    assert names[:2] == ["exchange", "symbol"]
    assert {r[0] for r in rows} == {"binance_usdm", "okx"}
    names, rows = query.run(demo_lake, example("Liquidations"))
    assert names[:3] == ["exchange", "symbol", "side"]
    _, sizes = query.run(demo_lake, "SELECT exchange, symbol, arg_max(contract_size, event_time) "
                         "FROM crypto_instruments GROUP BY ALL")  # fmt: skip
    size = {(e, s): float(c) if c is not None else 1.0 for e, s, c in sizes}
    _, raw = query.run(demo_lake, "SELECT exchange, symbol, side, CAST(filled_quantity AS DOUBLE), "
                       "CAST(price AS DOUBLE) FROM crypto_liquidations")  # fmt: skip
    expected: dict[tuple[str, str, str], float] = {}
    for e, s, side, quantity, price in raw:  # OKX's contracts at their size, USD-M's as sent
        key = (e, s, side)
        expected[key] = expected.get(key, 0.0) + quantity * size.get((e, s), 1.0) * price
    got = {(r[0], r[1], r[2]): r[4] for r in rows}
    assert got == pytest.approx(expected, abs=0.006)  # the query rounds to cents
