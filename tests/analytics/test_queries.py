"""Each analytics query against the same answer computed in pandas from the raw rows, on a lake
the pipeline wrote from the simulator; gaps, duplicates and the partition slack on a small lake
written row by row."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from streamer import query
from streamer.analytics import Analytics, Window, connect
from streamer.jsonline import encode
from streamer.records import Candle, Dec, Millis, Trade
from streamer.schema import DATASET_OF_TYPE
from streamer.settings import LakeSettings
from streamer.sinks.lake import LakeSink


def raw(lake: Path, sql: str) -> pd.DataFrame:
    names, rows = query.run(lake, sql)
    return pd.DataFrame.from_records(rows, columns=names)


def floats(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    out = frame.copy()
    for column in columns:
        out[column] = out[column].map(lambda v: None if v is None else float(v)).astype("float64")
    return out


def epoch_bar(times: pd.Series, seconds: int) -> pd.Series:
    epoch = (times.astype("datetime64[ns]").astype("int64") // 10**9) // seconds * seconds
    return pd.to_datetime(epoch, unit="s")


def same(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(actual.columns) == list(expected.columns)
    assert len(actual) == len(expected) > 0
    for column in actual.columns:
        left, right = actual[column].reset_index(drop=True), expected[column].reset_index(drop=True)
        if pd.api.types.is_float_dtype(left):
            np.testing.assert_allclose(left.to_numpy(), right.to_numpy(), rtol=1e-9, err_msg=column)
        else:
            assert left.tolist() == right.tolist(), column


@pytest.fixture(scope="module")
def db(pipeline_lake: Path) -> Analytics:
    return connect(lake=pipeline_lake)


def test_candles_are_the_closed_candles_rolled_up(db: Analytics, pipeline_lake: Path) -> None:
    candles = floats(raw(pipeline_lake, """
        SELECT DISTINCT record_id, exchange, symbol, open_time, open, high, low, close, volume
        FROM crypto_ohlcv WHERE is_closed AND "interval" = '1m'"""),
        "open", "high", "low", "close", "volume")  # fmt: skip
    candles["bar_start"] = epoch_bar(candles["open_time"], 180)
    ordered = candles.sort_values("open_time")
    expected = (
        ordered.groupby(["exchange", "symbol", "bar_start"])
        .agg(open=("open", "first"), high=("high", "max"), low=("low", "min"),
             close=("close", "last"), volume=("volume", "sum"), candles=("record_id", "size"))
        .reset_index()
    )  # fmt: skip
    same(db.candles("3m", "1m"), expected)
    assert (expected["candles"] > 1).any(), "some bars hold several candles"


def test_candles_of_one_exchange_and_symbols(db: Analytics) -> None:
    bars = db.candles("5m", "5m", "coinbase")
    assert set(bars["exchange"]) == {"coinbase"} and (bars["candles"] == 1).all()
    only = db.between(symbols="ETH-USDT").candles("1m")
    assert set(only["symbol"]) == {"ETH-USDT"}


def test_book_top_is_the_mean_of_the_best_levels(db: Analytics, pipeline_lake: Path) -> None:
    books = floats(raw(pipeline_lake, """
        SELECT DISTINCT record_id, exchange, symbol, event_time, bids[1].price AS bid,
          bids[1].size AS bid_size, asks[1].price AS ask, asks[1].size AS ask_size
        FROM crypto_order_books WHERE len(bids) > 0 AND len(asks) > 0"""),
        "bid", "bid_size", "ask", "ask_size")  # fmt: skip
    books["bar_start"] = epoch_bar(books["event_time"], 60)
    books["mid"] = (books["bid"] + books["ask"]) / 2
    books["spread_bps"] = (books["ask"] - books["bid"]) / books["mid"] * 10000
    books["bid_depth_quote"] = books["bid"] * books["bid_size"]
    books["ask_depth_quote"] = books["ask"] * books["ask_size"]
    expected = (
        books.groupby(["exchange", "symbol", "bar_start"])
        .agg(mid=("mid", "mean"), spread_bps=("spread_bps", "mean"),
             max_spread_bps=("spread_bps", "max"), bid_size=("bid_size", "mean"),
             ask_size=("ask_size", "mean"), bid_depth_quote=("bid_depth_quote", "mean"),
             ask_depth_quote=("ask_depth_quote", "mean"), snapshots=("record_id", "size"))
        .reset_index()
    )  # fmt: skip
    same(db.book_top("1m"), expected)
    assert (expected["spread_bps"] > 0).all()


def test_basis_compares_the_last_prices_of_each_venue(db: Analytics, pipeline_lake: Path) -> None:
    trades = floats(raw(pipeline_lake, """
        SELECT DISTINCT record_id, exchange, symbol, event_time, trade_id, price
        FROM crypto_trades"""),
        "price")  # fmt: skip
    trades["base"] = trades["symbol"].str.split("-").str[0]
    trades["quote"] = trades["symbol"].str.split("-").str[1]
    trades = trades[
        ((trades["exchange"] == "binance") & (trades["quote"] == "USDT"))
        | ((trades["exchange"] == "coinbase") & (trades["quote"] == "USD"))
    ]
    trades["bar_start"] = epoch_bar(trades["event_time"], 60)
    last = (
        trades.sort_values(["event_time", "trade_id"])
        .groupby(["exchange", "base", "bar_start"])["price"]
        .last()
    )
    coins = raw(pipeline_lake, "SELECT DISTINCT coin_id, upper(symbol) AS base FROM crypto_markets")
    spot = floats(
        raw(
            pipeline_lake,
            """
        SELECT coin_id, price, received_at FROM crypto_spot_prices
        WHERE vs_currency = 'usd' AND price IS NOT NULL""",
        ),
        "price",
    ).merge(coins, on="coin_id")
    spot["bar_start"] = epoch_bar(spot["received_at"], 60)
    gecko = spot.sort_values("received_at").groupby(["base", "bar_start"])["price"].last()
    result = db.basis("1m")
    assert len(result) > 0 and result["coingecko_usd"].notna().any()
    for row in result.itertuples():
        key = (row.base, row.bar_start)
        binance = last.get(("binance", *key), np.nan)
        coinbase = last.get(("coinbase", *key), np.nan)
        reference = gecko.get(key, np.nan)
        np.testing.assert_allclose(
            [row.binance_usdt, row.coinbase_usd, row.coingecko_usd], [binance, coinbase, reference]
        )
        np.testing.assert_allclose(
            [row.coinbase_vs_binance_bps, row.binance_vs_coingecko_bps],
            [(coinbase / binance - 1) * 1e4, (binance / reference - 1) * 1e4],
        )
    assert {(b, t) for b, t in zip(result["base"], result["bar_start"], strict=True)} >= {
        (b, t) for (_, b, t) in last.index
    }


CONTRACT_SIZES = {("okx", "BTC-USDT-PERP"): 0.01}
"""Base units in a contract (OKX's ctVal for BTC-USDT-SWAP, as the simulator lists it): the
lake's OKX swap sizes are contracts; every other size here is in base units already."""


def base_units(frame: pd.DataFrame) -> pd.Series:
    """Per row: what one unit of its size is in base units (a contract's size, else 1)."""
    keys = zip(frame["exchange"], frame["symbol"], strict=True)
    return pd.Series([CONTRACT_SIZES.get(key, 1.0) for key in keys], index=frame.index)


def test_volume_by_side_sums_each_trade_once(pipeline_lake: Path, tmp_path: Path) -> None:
    # At-least-once delivery: every trades object of the pipeline's lake delivered twice.
    lake = tmp_path / "lake"
    shutil.copytree(pipeline_lake, lake)
    for obj in sorted(lake.glob("crypto/tabular/trades/**/*.gz")):
        shutil.copy(obj, obj.with_name("again-" + obj.name))
    trades = floats(raw(lake, """
        SELECT DISTINCT record_id, exchange, symbol, side, event_time, price, size
        FROM crypto_trades"""), "price", "size")  # fmt: skip
    duplicated = raw(lake, "SELECT count(*) - count(DISTINCT record_id) AS n FROM crypto_trades")
    assert duplicated["n"][0] == len(trades), "every trade is in the lake twice"
    trades["bar_start"] = epoch_bar(trades["event_time"], 120)
    trades["size"] *= base_units(trades)
    trades["quote_volume"] = trades["price"] * trades["size"]
    expected = (
        trades.groupby(["exchange", "symbol", "bar_start", "side"])
        .agg(volume=("size", "sum"), quote_volume=("quote_volume", "sum"),
             trades=("record_id", "size"))
        .reset_index()
    )  # fmt: skip
    same(connect(lake=lake).volume_by_side("2m"), expected)


def test_top_market_caps_come_from_the_latest_poll(db: Analytics, pipeline_lake: Path) -> None:
    markets = floats(raw(pipeline_lake, """
        SELECT coin_id, market_cap, received_at FROM crypto_markets WHERE vs_currency = 'usd'"""),
        "market_cap")  # fmt: skip
    latest = markets.sort_values("received_at").groupby("coin_id").last().reset_index()
    expected = latest.sort_values(["market_cap", "coin_id"], ascending=[False, True]).head(7)
    result = db.top_market_caps(7)
    assert result["position"].tolist() == list(range(1, 8))
    assert result["coin_id"].tolist() == expected["coin_id"].tolist()
    np.testing.assert_allclose(result["market_cap"], expected["market_cap"])
    assert result["received_at"].tolist() == expected["received_at"].tolist()


def test_health_queries_count_rows_rejects_and_origins(db: Analytics, pipeline_lake: Path) -> None:
    hours = db.rows_per_hour()
    for dataset in hours["dataset"].unique():
        table = f"crypto_{dataset}"
        counts = raw(
            pipeline_lake,
            f"""
            SELECT CAST(year || '-' || month || '-' || day || ' ' || hour || ':00:00' AS TIMESTAMP)
              AS hour_start, count(*) AS row_count FROM {table} GROUP BY ALL ORDER BY 1""",
        )
        part = hours[hours["dataset"] == dataset]
        assert part["hour_start"].tolist() == counts["hour_start"].astype("datetime64[ns]").tolist()
        assert part["row_count"].tolist() == counts["row_count"].tolist()
    assert {"trades", "rejects", "ohlcv", "markets"} <= set(hours["dataset"])

    rejects = raw(pipeline_lake, "SELECT source, reason FROM crypto_rejects")
    expected = rejects.value_counts(["source", "reason"]).rename("rejects").reset_index()
    result = db.rejects()
    assert sorted(
        zip(result["source"], result["reason"], result["rejects"], strict=True)
    ) == sorted(zip(expected["source"], expected["reason"], expected["rejects"], strict=True))

    origins = db.candle_origins()
    assert set(origins["origin"]) <= {"ws", "rest"}
    coinbase = origins[origins["exchange"] == "coinbase"]
    assert set(coinbase["origin"]) == {"rest"}, "Coinbase's closed candles all come from REST"


# --- a small lake written row by row --------------------------------------------------------

MIN = 60_000
T0 = 1_764_000_000_000  # 2025-11-24 16:00:00 UTC


def candle(open_time: int, origin: str = "ws", close: str = "10") -> Candle:
    return Candle("binance", "BTC-USDT", Millis(open_time + MIN), Millis(open_time + MIN),
                  "1m", Millis(open_time), Millis(open_time + MIN - 1), Dec("9"), Dec("11"),
                  Dec("8"), Dec(close), Dec("2"), None, None, True, origin,
                  f"c{open_time}")  # fmt: skip


async def write(lake: Path, rows: list[tuple[object, int]]) -> None:
    sink = LakeSink(LakeSettings(root=lake))
    for row, arrival in rows:
        sink.add(DATASET_OF_TYPE[type(row)], encode(row), Millis(arrival))  # type: ignore[arg-type]
    await sink.aclose()


async def test_gaps_count_the_missing_candles(tmp_path: Path) -> None:
    opens = [T0, T0 + MIN, T0 + 4 * MIN, T0 + 5 * MIN, T0 + 7 * MIN]
    rows = [(candle(t, "rest" if t == T0 + 5 * MIN else "ws"), t + MIN) for t in opens]
    await write(tmp_path, [*rows, (candle(T0), T0 + 2 * MIN)])  # and a duplicate delivery
    with connect(lake=tmp_path) as db:
        gaps = db.candle_gaps()
        origins = db.candle_origins()
        bars = db.candles("5m")
    assert gaps["missing_candles"].tolist() == [2, 1]
    assert gaps["last_before"].tolist() == [pd.Timestamp(T0 + MIN, unit="ms"),
                                            pd.Timestamp(T0 + 5 * MIN, unit="ms")]  # fmt: skip
    assert dict(zip(origins["origin"], origins["candles"], strict=True)) == {"rest": 1, "ws": 4}
    assert bars["candles"].tolist() == [3, 2]  # 16:00-16:05 holds three, 16:05-16:10 two


async def test_the_window_reaches_rows_in_the_partition_before_it(tmp_path: Path) -> None:
    hour = 3_600_000
    # A trade at 17:00:05 in an object that opened at 16:59:58 (partition hour 16).
    trade = Trade("binance", "BTC-USDT", Millis(T0 + hour + 5000), Millis(T0 + hour + 5000),
                  "1", Dec("100"), Dec("1"), "buy", "t1")  # fmt: skip
    await write(tmp_path, [(trade, T0 + hour - 2000)])
    since, until = datetime(2025, 11, 24, 17, tzinfo=UTC), datetime(2025, 11, 24, 18, tzinfo=UTC)
    with connect(lake=tmp_path, window=Window(since, until)) as db:
        assert db.volume_by_side("1h")["trades"].tolist() == [1]
        assert db.rows_per_hour()["row_count"].tolist() == []  # hour 16 is outside 17-18
        later = db.between("2025-11-24T17:01", "2025-11-24T18:00")
        assert later.volume_by_side("1h").empty
