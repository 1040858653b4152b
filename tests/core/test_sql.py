"""The Athena named queries in `sql/`: each parses as Trino SQL (Athena engine 3) and, as the
same text, runs on DuckDB over a lake the real pipeline wrote, with non-empty, sane results.
Binance USD-M's open interest and a settled funding it predicted are added to that lake as
known rows through the lake sink."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot.errors import ParseError

from streamer import query
from streamer.jsonline import encode
from streamer.records import Dec, FundingRate, Hours, Millis, OpenInterest
from streamer.schema import DATASET_OF_TYPE
from streamer.service import run_service
from streamer.settings import load
from streamer.simulator import Simulator, SimulatorConfig
from streamer.sinks.lake import LakeSink
from streamer.venues import VENUES
from streamer.venues.binance.usdm_simulator import UsdmSimOptions
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
            "binance_usdm": ("BTC-USDT-PERP", "ETH-USDT-PERP"),
            "okx": ("BTC-USDT", "BTC-USDT-PERP"),
            "kraken": ("BTC-USD", "ETH-USD"),
        },
        options={"binance_usdm": UsdmSimOptions(liquidation_probability=0.02)},
    )
    async with Simulator(config, clock=fast_clock) as sim:
        env = sim.environment()
        env.update(
            STREAMER_LAKE_DIR=str(lake),
            STREAMER_LAKE_BUFFER_SECONDS="0.5",
            STREAMER_BINANCE_KLINE_INTERVAL="1m",
            STREAMER_COINBASE_BOOK_INTERVAL="0.2",
            STREAMER_COINGECKO_POLL_SECONDS="2",
            STREAMER_SOURCES=",".join(spec.name for spec in VENUES if spec.simulator),
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
            counts.pop("crypto_quality")  # written per closed minute and at stop: checked below
            return closed >= 8 and counts["crypto_markets"] >= 100 and all(counts.values())

        try:
            async with asyncio.timeout(90):
                while not ready():
                    await asyncio.sleep(0.3)
        finally:
            stop.set()
            await service
        assert query.table_counts(lake)["crypto_quality"] > 0


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sql-lake")
    asyncio.run(_fill(root))
    asyncio.run(_add_polled(root))
    return root


OPEN_INTEREST = {"BTC-USDT-PERP": ("80000", "80500"), "ETH-USDT-PERP": ("1200000", "1190000")}
SETTLED = "0.00012"
OKX_SWAP = ("okx", "BTC-USDT-PERP")
CONTRACTS = {("binance_usdm", symbol) for symbol in OPEN_INTEREST} | {OKX_SWAP}
CONTRACT_SIZE = {OKX_SWAP: 0.01}  # base units per contract (OKX's ctVal); USD-M's are 1


async def _add_polled(lake: Path) -> None:
    """Open interest polled twice a minute apart per contract, and a funding settled at the
    time the last mark price predicts for, as the USD-M pollers write them."""
    (last, next_funding), *_ = query.run(lake, "SELECT epoch_ms(max(event_time)), "
        "epoch_ms(max(next_funding_time)) FROM crypto_derivative_tickers")[1]  # fmt: skip
    sink = LakeSink(load({"STREAMER_LAKE_DIR": str(lake)}).lake)
    for symbol, (first, then) in OPEN_INTEREST.items():
        for at, value in ((last - 60_000, first), (last, then)):
            row = OpenInterest("binance_usdm", symbol, Millis(at), Millis(at), Dec(value),
                               f"oi-{symbol}-{at}")  # fmt: skip
            sink.add(DATASET_OF_TYPE[OpenInterest], encode(row), Millis(last))
        funding = FundingRate("binance_usdm", symbol, Millis(next_funding + 2), Millis(last),
                              Dec(SETTLED), Hours(8), None, f"fr-{symbol}")  # fmt: skip
        sink.add(DATASET_OF_TYPE[FundingRate], encode(funding), Millis(last))
    await sink.aclose()


def test_there_is_a_query_for_each_question() -> None:
    assert {q.stem for q in QUERIES} == {
        "latest_price", "ohlcv_1h", "spread", "top100", "cross_venue",
        "funding", "open_interest", "mark_index", "liquidations",
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
        ("binance_usdm", "BTC-USDT-PERP"), ("binance_usdm", "ETH-USDT-PERP"),
        ("okx", "BTC-USDT"), ("okx", "BTC-USDT-PERP"),
        ("kraken", "BTC-USD"), ("kraken", "ETH-USD"),
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
    venues = {"binance", "binance_usdm", "coinbase", "okx", "kraken"}
    assert {r["exchange"] for r in result} == venues
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
    assert btc["okx_usdt"] and btc["kraken_usd"] and by_coin["ETH"]["kraken_usd"]


def test_cross_venue_prices_are_spot_pairs_not_swaps(lake: Path) -> None:
    """OKX's BTC-USDT and BTC-USDT-PERP both quote USDT: the column is the pair's last price
    (the swap's, or whichever traded last, were the query to mix them)."""
    btc = next(
        r for r in rows(lake, (SQL_DIR / "cross_venue.sql").read_text()) if r["coin"] == "BTC"
    )
    last = {r["symbol"]: r["price"] for r in rows(lake, "SELECT symbol, arg_max(price, event_time) "
            "AS price FROM crypto_trades WHERE exchange = 'okx' GROUP BY symbol")}  # fmt: skip
    assert btc["okx_usdt"] == last["BTC-USDT"]


def _funding(result: list[dict[str, Any]]) -> None:
    settled = [r for r in result if r["settled_rate"] is not None]
    # the pollers' backfill: past fundings of both contracts, on the 8-hour grid, unpredicted
    backfilled = [r for r in settled if r["last_predicted"] is None]
    assert {(r["exchange"], r["symbol"]) for r in backfilled} == CONTRACTS
    assert all(r["funding_time"].hour % 8 == 0 and r["funding_time"].minute == 0
               for r in backfilled)  # fmt: skip
    # the funding the last mark prices predicted, settled 2 ms late: matched to its prediction
    matched = [r for r in settled if r["last_predicted"] is not None]
    assert {(r["exchange"], r["symbol"]) for r in matched} == CONTRACTS - {OKX_SWAP}
    for r in matched:
        assert str(r["settled_rate"]).rstrip("0") == SETTLED
        assert r["funding_time"].second == 0
        assert r["miss_bps"] == round((float(SETTLED) - float(r["last_predicted"])) * 1e4, 3)


def _open_interest(result: list[dict[str, Any]]) -> None:
    assert {(r["exchange"], r["symbol"]) for r in result} == CONTRACTS
    for r in result:  # polled or pushed by the source, and the rows added a minute apart
        assert r["open_interest"] > 0
        size = CONTRACT_SIZE.get((r["exchange"], r["symbol"]), 1)
        assert r["open_interest_quote"] == pytest.approx(
            float(r["open_interest"]) * size * float(r["mark_price"]), abs=0.01
        )
    known = {Decimal(v) for pair in OPEN_INTEREST.values() for v in pair}
    assert any(r["open_interest"] in known or r["change_in_hour"] != 0 for r in result)


def _mark_index(result: list[dict[str, Any]]) -> None:
    assert {(r["exchange"], r["symbol"]) for r in result} == CONTRACTS
    for r in result:
        assert r["min_premium_bps"] <= r["premium_bps"] <= r["max_premium_bps"]
        assert r["mark_price"] > 0 and r["index_price"] > 0 and r["ticks"] > 0


def _liquidations(result: list[dict[str, Any]]) -> None:
    assert {r["side"] for r in result} <= {"buy", "sell"}
    assert all(r["orders"] > 0 and r["notional"] > 0 for r in result)


CHECKS = {
    "latest_price": _latest_price,
    "ohlcv_1h": _ohlcv,
    "spread": _spread,
    "top100": _top100,
    "cross_venue": _cross_venue,
    "funding": _funding,
    "open_interest": _open_interest,
    "mark_index": _mark_index,
    "liquidations": _liquidations,
}
