"""The derivatives queries against the same answer computed in pandas from the raw rows the
pipeline wrote from the simulated USD-M venue; open interest and settled funding (whose
pollers the simulated lake may lack) on a small lake of known rows written through the sink."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from streamer.analytics import Analytics, connect
from streamer.records import (
    Dec,
    DerivativeTicker,
    FundingRate,
    Hours,
    Liquidation,
    Millis,
    OpenInterest,
)
from tests.analytics.test_queries import base_units, epoch_bar, floats, raw, same, write

MIN = 60_000
T0 = 1_764_000_000_000  # 2025-11-24 16:00:00 UTC
FUNDING = T0 + 8 * 3_600_000  # the next funding, 2025-11-25 00:00 UTC
PERP = "BTC-USDT-PERP"


@pytest.fixture(scope="module")
def db(pipeline_lake: Path) -> Analytics:
    return connect(lake=pipeline_lake)


def test_the_simulated_lake_has_perpetuals_and_their_liquidations(db: Analytics) -> None:
    spans = db.derivative_spans()
    rows = {(d, e): n for d, e, n in zip(spans["dataset"], spans["exchange"], spans["row_count"],
                                          strict=True)}  # fmt: skip
    assert rows[("crypto_derivative_tickers", "binance_usdm")] > 0
    assert rows[("crypto_derivative_tickers", "okx")] > 0
    assert sum(n for (d, _), n in rows.items() if d == "crypto_liquidations") > 0
    assert set(spans["exchange"]) == {"binance_usdm", "okx"}


def test_mark_basis_is_mark_over_index_per_bar(db: Analytics, pipeline_lake: Path) -> None:
    ticks = floats(raw(pipeline_lake, """
        SELECT DISTINCT record_id, exchange, symbol, event_time, mark_price, index_price
        FROM crypto_derivative_tickers WHERE index_price > 0"""),
        "mark_price", "index_price")  # fmt: skip
    ticks["bar_start"] = epoch_bar(ticks["event_time"], 120)
    ticks["bps"] = (ticks["mark_price"] / ticks["index_price"] - 1) * 10000
    ordered = ticks.sort_values("event_time")
    expected = (
        ordered.groupby(["exchange", "symbol", "bar_start"])
        .agg(mark_price=("mark_price", "last"), index_price=("index_price", "last"),
             basis_bps=("bps", "mean"), min_basis_bps=("bps", "min"),
             max_basis_bps=("bps", "max"), ticks=("record_id", "size"))
        .reset_index()
    )  # fmt: skip
    same(db.mark_basis("2m"), expected)
    assert (expected["max_basis_bps"] > expected["min_basis_bps"]).any()


def test_predicted_funding_is_the_last_rate_of_each_bar(db: Analytics, pipeline_lake: Path) -> None:
    ticks = floats(raw(pipeline_lake, """
        SELECT DISTINCT record_id, exchange, symbol, event_time, funding_rate, next_funding_time
        FROM crypto_derivative_tickers WHERE funding_rate IS NOT NULL"""),
        "funding_rate")  # fmt: skip
    ticks["bar_start"] = epoch_bar(ticks["event_time"], 60)
    expected = (
        ticks.sort_values("event_time")
        .groupby(["exchange", "symbol", "bar_start"])
        .agg(funding_rate=("funding_rate", "last"),
             next_funding_time=("next_funding_time", "last"), ticks=("record_id", "size"))
        .reset_index()
    )  # fmt: skip
    expected["next_funding_time"] = expected["next_funding_time"].astype("datetime64[ns]")
    same(db.funding_predicted("1m"), expected)
    assert expected["funding_rate"].nunique() > 1, "the simulated rate moves"


def test_liquidations_sum_each_order_once_by_side(db: Analytics, pipeline_lake: Path) -> None:
    orders = floats(raw(pipeline_lake, """
        SELECT DISTINCT record_id, exchange, symbol, event_time, side, price, average_price,
          filled_quantity FROM crypto_liquidations"""),
        "price", "average_price", "filled_quantity")  # fmt: skip
    orders["bar_start"] = epoch_bar(orders["event_time"], 300)
    paid = orders["average_price"].where(orders["average_price"] > 0, orders["price"])
    orders["notional"] = orders["filled_quantity"] * base_units(orders) * paid
    expected = (
        orders.groupby(["exchange", "symbol", "bar_start", "side"])
        .agg(liquidations=("record_id", "size"), quantity=("filled_quantity", "sum"),
             notional=("notional", "sum"))
        .reset_index()
    )  # fmt: skip
    same(db.liquidations("5m"), expected)
    assert set(expected["side"]) <= {"buy", "sell"}


# --- known rows -----------------------------------------------------------------------------


def ticker(at: int, rate: str, mark: str = "100", symbol: str = PERP) -> DerivativeTicker:
    return DerivativeTicker("binance_usdm", symbol, Millis(at), Millis(at), Dec(mark), Dec("99"),
                            None, Dec(rate), Millis(FUNDING), None, None,
                            f"t{symbol}{at}")  # fmt: skip


def interest(at: int, contracts: str, symbol: str = PERP) -> OpenInterest:
    return OpenInterest("binance_usdm", symbol, Millis(at), Millis(at), Dec(contracts),
                        f"o{symbol}{at}")  # fmt: skip


def settled(at: int, rate: str, symbol: str = PERP) -> FundingRate:
    return FundingRate("binance_usdm", symbol, Millis(at), Millis(at + 1000), Dec(rate),
                       Hours(8), Dec("100.5"), f"f{symbol}{at}")  # fmt: skip


def liquidation(at: int, side: str, average: str | None) -> Liquidation:
    return Liquidation("binance_usdm", PERP, Millis(at), Millis(at), side, Dec("90"),
                       Dec(average) if average else None, Dec("2"), Dec("2"), "FILLED",
                       f"l{at}")  # fmt: skip


async def known_lake(lake: Path) -> None:
    """Two contracts over two minutes, one funding settled 3 ms past its time (as Binance
    stamps some), and one earlier funding with no prediction in the lake."""
    rows: list[tuple[object, int]] = [
        (ticker(T0 + 1000, "0.0001", "100"), T0),
        (ticker(T0 + 50_000, "0.0002", "101"), T0),
        (ticker(T0 + MIN + 5000, "0.0003", "102"), T0),
        (ticker(T0 + 1000, "-0.0001", "2000", "ETH-USDT-PERP"), T0),
        (interest(T0 + 10_000, "10"), T0),
        (interest(T0 + 40_000, "12.5"), T0),
        (interest(T0 + MIN + 10_000, "11"), T0),
        (interest(T0 + 30_000, "300", "ETH-USDT-PERP"), T0),
        (settled(FUNDING + 3, "0.00025"), T0),
        (settled(FUNDING - 8 * 3_600_000, "0.0001"), T0),
        (liquidation(T0 + 2000, "buy", "95"), T0),
        (liquidation(T0 + 3000, "buy", "0"), T0),  # nothing filled at an average: its price
        (liquidation(T0 + 4000, "sell", None), T0),
    ]
    await write(lake, [*rows, (interest(T0 + 40_000, "12.5"), T0 + MIN)])  # and a duplicate


async def test_open_interest_is_the_last_poll_of_the_bar_at_its_mark(tmp_path: Path) -> None:
    await known_lake(tmp_path)
    with connect(lake=tmp_path) as db:
        frame = db.open_interest("1m")
    bar = pd.Timestamp(T0, unit="ms")
    expected = pd.DataFrame({
        "exchange": ["binance_usdm"] * 3,
        "symbol": [PERP, PERP, "ETH-USDT-PERP"],
        "bar_start": [bar, bar + pd.Timedelta(minutes=1), bar],
        "open_interest": [12.5, 11.0, 300.0],
        "mark_price": [101.0, 102.0, 2000.0],
        "open_interest_quote": [12.5 * 101, 11.0 * 102, 300.0 * 2000],
        "polls": [2, 1, 1],
    }).sort_values(["exchange", "symbol", "bar_start"], ignore_index=True)  # fmt: skip
    same(frame, expected)


async def test_settled_funding_sits_beside_the_last_prediction_for_it(tmp_path: Path) -> None:
    await known_lake(tmp_path)
    with connect(lake=tmp_path) as db:
        frame = db.funding_settled()
        predicted = db.funding_predicted("1m")
    assert frame["funding_time"].tolist() == [pd.Timestamp(FUNDING - 8 * 3_600_000, unit="ms"),
                                              pd.Timestamp(FUNDING + 3, unit="ms")]  # fmt: skip
    np.testing.assert_allclose(frame["funding_rate"], [0.0001, 0.00025])
    assert np.isnan(frame["last_predicted"][0])  # no prediction for that one in the lake
    assert frame["last_predicted"][1] == pytest.approx(0.0003)  # the newest, not the first
    assert frame["funding_interval_hours"].tolist() == [8, 8]
    btc = predicted[predicted["symbol"] == PERP]
    np.testing.assert_allclose(btc["funding_rate"], [0.0002, 0.0003])  # last of each minute
    assert set(predicted["next_funding_time"]) == {pd.Timestamp(FUNDING, unit="ms")}


async def test_liquidation_notional_prices_at_the_average_else_the_order(tmp_path: Path) -> None:
    await known_lake(tmp_path)
    with connect(lake=tmp_path) as db:
        frame = db.liquidations("1m")
    assert frame["side"].tolist() == ["buy", "sell"]
    assert frame["liquidations"].tolist() == [2, 1]
    np.testing.assert_allclose(frame["notional"], [2 * 95 + 2 * 90, 2 * 90])
