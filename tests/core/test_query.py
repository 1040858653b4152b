"""DuckDB views over the lake are named like the Glue tables and typed from the schema."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from streamer import query
from streamer.jsonline import encode
from streamer.records import (
    Dec,
    DerivativeTicker,
    FundingRate,
    Hours,
    Instrument,
    Liquidation,
    Millis,
    OpenInterest,
    SpotPrice,
    Trade,
    book_snapshot,
)
from streamer.schema import DATASET_OF_TYPE, DATASETS
from streamer.settings import LakeSettings
from streamer.sinks.lake import LakeSink

T0 = Millis(1764000000000)


async def test_views_read_rows_with_partitions_and_exact_types(tmp_path: Path) -> None:
    sink = LakeSink(LakeSettings(root=tmp_path))
    rows = [
        Trade("binance", "BTC-USDT", T0, T0, "7", Dec("86704.77000000"), Dec("0.001"), "buy", "a"),
        book_snapshot("coinbase", "BTC-USD", T0, T0, 1, ((Dec("83277.25"), Dec("0.5")),),
                      ((Dec("83277.26"), Dec("0.25")),), 42, "b"),
        SpotPrice("bitcoin", "usd", None, None, None, None, None, T0, "c"),
    ]  # fmt: skip
    for row in rows:
        sink.add(DATASET_OF_TYPE[type(row)], encode(row), T0)
    await sink.aclose()
    names, result = query.run(
        tmp_path, "SELECT price, event_time, year, month, day, hour FROM crypto_trades"
    )
    assert names == ["price", "event_time", "year", "month", "day", "hour"]
    assert result[0][0] == Decimal("86704.77")
    assert str(result[0][1]) == "2025-11-24 16:00:00"
    assert result[0][2:] == ("2025", "11", "24", "16")
    _, spread = query.run(
        tmp_path, "SELECT asks[1].price - bids[1].price, sequence FROM crypto_order_books"
    )
    assert spread == [(Decimal("0.01"), 42)]
    _, spot = query.run(tmp_path, "SELECT price IS NULL FROM crypto_spot_prices")
    assert spot == [(True,)]


async def test_derivative_views_read_the_venue_text_exactly(tmp_path: Path) -> None:
    sink = LakeSink(LakeSettings(root=tmp_path))
    usdm, perp = "binance_usdm", "BTC-USDT-PERP"
    rows = [
        Instrument(usdm, "BTC-USDT-260327", T0, T0, "BTCUSDT_260327", "delivery", "BTC", "USDT",
                   "USDT", Dec("1"), Dec("0.10"), Dec("0.001"), Millis(1774598400000), None,
                   "TRADING", "i"),
        DerivativeTicker(usdm, perp, T0, T0, Dec("11857.56000000"), Dec("11851.86949091"), None,
                         Dec("-0.00015640"), Millis(1597564800000), None, None, "d"),
        OpenInterest(usdm, perp, T0, T0, Dec("10659.509"), "o"),
        FundingRate(usdm, perp, T0, T0, Dec("-0.03750000"), Hours(8), None, "f"),
        Liquidation(usdm, perp, T0, T0, "buy", Dec("4793.91"), Dec("4706.04"), Dec("0.014"),
                    Dec("0.014"), "FILLED", "l"),
    ]  # fmt: skip
    for row in rows:
        sink.add(DATASET_OF_TYPE[type(row)], encode(row), T0)
    await sink.aclose()
    _, instruments = query.run(
        tmp_path,
        "SELECT symbol, tick_size, delivery_time, funding_interval_hours FROM crypto_instruments",
    )
    assert instruments[0][:2] == ("BTC-USDT-260327", Decimal("0.1"))
    assert str(instruments[0][2]) == "2026-03-27 08:00:00" and instruments[0][3] is None
    _, tickers = query.run(
        tmp_path,
        "SELECT mark_price, index_price, funding_rate, estimated_settle_price "
        "FROM crypto_derivative_tickers",
    )
    assert tickers == [
        (Decimal("11857.56"), Decimal("11851.86949091"), Decimal("-0.0001564"), None)
    ]
    _, rest = query.run(
        tmp_path,
        "SELECT (SELECT open_interest FROM crypto_open_interest), "
        "(SELECT funding_rate FROM crypto_funding_rates), "
        "(SELECT funding_interval_hours FROM crypto_funding_rates), "
        "(SELECT average_price FROM crypto_liquidations)",
    )
    assert rest == [(Decimal("10659.509"), Decimal("-0.0375"), 8, Decimal("4706.04"))]


def test_empty_lake_still_has_every_table(tmp_path: Path) -> None:
    counts = query.table_counts(tmp_path)
    assert counts == {d.table: 0 for d in DATASETS.values()}
    names, _ = query.run(tmp_path, "SELECT * FROM crypto_markets")
    assert names[:2] == ["coin_id", "symbol"] and names[-4:] == ["year", "month", "day", "hour"]


def test_format_table_aligns_columns() -> None:
    text = query.format_table(["a", "long"], [(1, None), (22, "x")])
    assert text.splitlines() == ["a   long", "--  ----", "1   NULL", "22  x   "]


def test_format_table_trims_decimal_padding() -> None:
    text = query.format_table(["p"], [(Decimal("86704.770000000000000000"),), (Decimal("5.0"),)])
    assert text.splitlines()[2:] == ["86704.77", "5       "]
