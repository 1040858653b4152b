"""The Athena named queries in `sql/`: each parses as Trino SQL (Athena engine 3) and, as the
same text, runs on DuckDB over a lake the real pipeline wrote, with non-empty, sane results."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot.errors import ParseError

from streamer import query
from streamer.demo import AWAITING_SOURCE
from streamer.service import run_service
from streamer.settings import load
from streamer.simulator import Simulator, SimulatorConfig
from tests.conftest import REPO

SQL_DIR = REPO / "sql"
QUERIES = sorted(SQL_DIR.glob("*.sql"))
SPEED = 60  # simulated seconds per real second, so 1-minute candles close every second


def rows(lake: Path, sql: str) -> list[dict[str, Any]]:
    names, result = query.run(lake, sql)
    return [dict(zip(names, row, strict=True)) for row in result]


async def _fill(lake: Path) -> None:
    start = time.time_ns() // 1_000_000

    def fast_clock() -> int:
        return start + (time.time_ns() // 1_000_000 - start) * SPEED

    config = SimulatorConfig(
        port=0,
        rate=100,
        seed=4,
        symbols={
            "binance": ("BTC-USDT", "ETH-USDT"),
            "coinbase": ("BTC-USD", "ETH-USD"),
            "coingecko": ("bitcoin", "ethereum"),
        },
    )
    async with Simulator(config, clock=fast_clock) as sim:
        env = sim.environment()
        env.update(
            STREAMER_LAKE_DIR=str(lake),
            STREAMER_LAKE_BUFFER_SECONDS="0.5",
            STREAMER_BINANCE_KLINE_INTERVAL="1m",
            STREAMER_COINBASE_BOOK_INTERVAL="0.2",
            STREAMER_COINGECKO_POLL_SECONDS="2",
        )
        stop = asyncio.Event()
        service = asyncio.create_task(run_service(load(env), stop))

        def ready() -> bool:
            if not any(lake.rglob("*.gz")):
                return False
            closed = rows(lake, "SELECT count(*) AS n FROM crypto_ohlcv "
                                "WHERE is_closed AND \"interval\" = '1m'")[0]["n"]  # fmt: skip
            counts = query.table_counts(lake)
            counts.pop("crypto_book_updates")  # opt-in, off here
            for table in AWAITING_SOURCE:  # no simulated venue fills these yet
                counts.pop(table)
            return closed >= 8 and counts["crypto_markets"] >= 100 and all(counts.values())

        try:
            async with asyncio.timeout(90):
                while not ready():
                    await asyncio.sleep(0.3)
        finally:
            stop.set()
            await service


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sql-lake")
    asyncio.run(_fill(root))
    return root


def test_there_is_a_query_for_each_question() -> None:
    assert {q.stem for q in QUERIES} == {
        "latest_price", "ohlcv_1h", "spread", "top100", "cross_venue",
    }  # fmt: skip
    for path in QUERIES:
        assert path.read_text().startswith("-- "), f"{path.name}: first line describes it"


@pytest.mark.parametrize("path", QUERIES, ids=lambda p: p.stem)
def test_query_parses_as_trino(path: Path) -> None:
    text = path.read_text()
    try:
        statements = sqlglot.parse(text, read="trino")
    except ParseError as exc:
        pytest.fail(f"{path.name} is not valid Trino SQL: {exc}")
    assert len([s for s in statements if s is not None]) == 1, "one statement per file"


@pytest.mark.parametrize("path", QUERIES, ids=lambda p: p.stem)
def test_query_runs_on_duckdb_with_results(lake: Path, path: Path) -> None:
    result = rows(lake, path.read_text())
    assert result, f"{path.name} returned no rows"
    check = CHECKS[path.stem]
    check(result)


def _latest_price(result: list[dict[str, Any]]) -> None:
    assert {(r["exchange"], r["symbol"]) for r in result} == {
        ("binance", "BTC-USDT"), ("binance", "ETH-USDT"),
        ("coinbase", "BTC-USD"), ("coinbase", "ETH-USD"),
    }  # fmt: skip
    assert all(r["price"] > 0 and r["trades"] > 0 for r in result)


def _ohlcv(result: list[dict[str, Any]]) -> None:
    for bar in result:
        assert bar["low"] <= min(bar["open"], bar["close"])
        assert bar["high"] >= max(bar["open"], bar["close"])
        assert 1 <= bar["minutes"] <= 60
        assert bar["hour_start"].minute == 0
    assert sum(bar["minutes"] for bar in result) >= 8


def _spread(result: list[dict[str, Any]]) -> None:
    assert {r["exchange"] for r in result} == {"binance", "coinbase"}
    for r in result:
        assert r["best_ask"] > r["best_bid"], r
        assert 0 < r["spread_bps"] < 1000


def _top100(result: list[dict[str, Any]]) -> None:
    ranks = [r["market_cap_rank"] for r in result]
    assert ranks == sorted(ranks) and len(ranks) == len(set(ranks)) == 100
    assert result[0]["symbol"] == "BTC"


def _cross_venue(result: list[dict[str, Any]]) -> None:
    by_coin = {r["coin"]: r for r in result}
    btc = by_coin["BTC"]
    assert btc["binance_usdt"] and btc["coinbase_usd"] and btc["coingecko_usd"]


CHECKS = {
    "latest_price": _latest_price,
    "ohlcv_1h": _ohlcv,
    "spread": _spread,
    "top100": _top100,
    "cross_venue": _cross_venue,
}
