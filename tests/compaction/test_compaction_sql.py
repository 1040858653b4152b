"""The compaction SQL is one text for both engines: it parses as Trino (Athena engine 3) and,
run on DuckDB, de-duplicates and reads each day from exactly one of the two tables."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest
import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st

from streamer.compaction import sql
from streamer.compaction.catalog import compaction_export, trino_type
from streamer.compaction.layout import compacted_table
from streamer.schema import DATASETS

COMPACTED = [d for d in DATASETS.values() if d.compacted]
DAYS = [date(2025, 10, 30), date(2025, 10, 31), date(2025, 11, 1), date(2025, 11, 3)]


def trino(text: str) -> sqlglot.Expression:
    statements = [s for s in sqlglot.parse(text, read="trino") if s is not None]
    assert len(statements) == 1
    return statements[0]


@pytest.mark.parametrize("dataset", COMPACTED, ids=lambda d: d.name)
def test_every_statement_parses_as_trino(dataset: sql.Dataset) -> None:
    ctas = trino(sql.create_table_as(dataset, DAYS[0], "compaction_tmp_x_20251101t000000z_0a"))
    assert isinstance(ctas, sqlglot.exp.Create) and ctas.args["kind"] == "TABLE"
    properties = {p.sql(dialect="trino") for p in ctas.args["properties"].expressions}
    assert {"format='PARQUET'", "write_compression='ZSTD'", "bucket_count=8"} <= properties
    view = trino(sql.create_view(dataset, DAYS))
    assert isinstance(view, sqlglot.exp.Create) and view.args["replace"]
    assert view.this.name == dataset.table
    assert {t.name for t in view.expression.find_all(sqlglot.exp.Table)} == {
        dataset.glue_table,
        compacted_table(dataset),
    }
    assert isinstance(trino(sql.drop_table("compaction_tmp_trades_x")), sqlglot.exp.Drop)
    exported = compaction_export()["tables"][dataset.table]
    assert trino(exported["view_sql"]).find(sqlglot.exp.Table).name == dataset.glue_table  # type: ignore[union-attr]


def test_a_table_name_that_needs_quoting_is_refused() -> None:
    with pytest.raises(ValueError, match="needs quoting"):
        sql.drop_table("x; DROP TABLE crypto_trades_raw")


def _tables(con: duckdb.DuckDBPyConnection) -> None:
    """A raw and a compacted trades table with hand-picked rows (both as their Glue types)."""
    columns = ", ".join(f"{sql.quote(c.name)} {c.duckdb_type}" for c in DATASETS["trades"].columns)
    for table, keys in (
        ("crypto_trades_raw", ("year", "month", "day", "hour")),
        ("crypto_trades_compacted", ("hour", "year", "month", "day")),
    ):
        extra = ", ".join(f"{sql.quote(k)} VARCHAR" for k in keys)
        con.execute(f"CREATE TABLE {table} ({columns}, {extra})")


def _trade(record_id: str, symbol: str, minute: int) -> str:
    return (
        f"'binance', '{symbol}', TIMESTAMP '2025-11-01 00:{minute:02d}:00', "
        f"TIMESTAMP '2025-11-01 00:00:00', '{record_id}', 1.5, 2, 'buy', '{record_id}'"
    )


def test_dedupe_keeps_one_row_per_record_id_from_the_earliest_hour_sorted() -> None:
    with duckdb.connect() as con:
        _tables(con)
        for record_id, symbol, minute, hour in [
            ("c", "ETH-USDT", 1, "05"), ("a", "BTC-USDT", 9, "07"), ("a", "BTC-USDT", 9, "03"),
            ("b", "BTC-USDT", 2, "03"), ("c", "ETH-USDT", 1, "04"), ("a", "BTC-USDT", 9, "05"),
        ]:  # fmt: skip
            con.execute(
                f"INSERT INTO crypto_trades_raw VALUES "
                f"({_trade(record_id, symbol, minute)}, '2025', '11', '01', '{hour}')"
            )
        con.execute(
            "INSERT INTO crypto_trades_raw VALUES "
            f"({_trade('d', 'BTC-USDT', 0)}, '2025', '11', '02', '00')"  # another day
        )
        text = sql.dedupe_select(DATASETS["trades"], '"crypto_trades_raw"', date(2025, 11, 1))
        rows = con.execute(f'SELECT "record_id", "hour" FROM ({text})').fetchall()
    assert rows == [("b", "03"), ("a", "03"), ("c", "04")]  # by symbol, then event_time


@settings(max_examples=30)
@given(st.sets(st.integers(0, 90), max_size=40))
def test_the_view_reads_each_day_from_exactly_one_table(offsets: set[int]) -> None:
    first = date(2025, 10, 15)
    compacted = {first + timedelta(days=o) for o in offsets}
    calendar = [first + timedelta(days=o) for o in range(91)]
    with duckdb.connect() as con:
        _tables(con)
        raw, kept = [], []
        for i, day in enumerate(calendar):
            y, m, d = f"{day:%Y}", f"{day:%m}", f"{day:%d}"
            row = _trade(f"r{i}", "BTC-USDT", 0)
            raw.append(f"({row}, '{y}', '{m}', '{d}', '00')")
            if day in compacted:
                kept.append(f"({row}, '00', '{y}', '{m}', '{d}')")
        con.execute(f"INSERT INTO crypto_trades_raw VALUES {', '.join(raw)}")
        if kept:
            con.execute(f"INSERT INTO crypto_trades_compacted VALUES {', '.join(kept)}")
        view = sql.view_select(DATASETS["trades"], compacted)
        counted = con.execute(
            f"SELECT year, month, day, count(*) FROM ({view}) GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        # Each day once; and the compacted days come from the compacted table alone.
        assert [(y, m, d) for y, m, d, n in counted] == [
            (f"{d:%Y}", f"{d:%m}", f"{d:%d}") for d in calendar
        ]
        assert all(n == 1 for *_, n in counted)
        con.execute("DELETE FROM crypto_trades_raw WHERE true")
        assert con.execute(f"SELECT count(*) FROM ({view})").fetchone() == (len(compacted),)


def test_day_ranges_fold_consecutive_days_within_a_month() -> None:
    assert sql.day_ranges(DAYS) == [
        (date(2025, 10, 30), date(2025, 10, 31)),
        (date(2025, 11, 1), date(2025, 11, 1)),
        (date(2025, 11, 3), date(2025, 11, 3)),
    ]
    assert sql.days_predicate([]) == "false"
    assert sql.view_select(DATASETS["trades"], []).endswith('FROM "crypto_trades_raw"')


def test_sorting_uses_the_columns_a_dataset_has() -> None:
    assert sql.sort_key(DATASETS["trades"]) == ("exchange", "symbol", "event_time", "record_id")
    assert sql.sort_key(DATASETS["markets"]) == ("symbol", "record_id")
    assert sql.sort_key(DATASETS["spot_prices"]) == ("record_id",)
    assert sql.bucket_column(DATASETS["spot_prices"]) == "record_id"


@pytest.mark.parametrize(
    ("glue", "trino_name"),
    [
        ("string", "varchar"),
        ("decimal(38,18)", "decimal(38,18)"),
        ("timestamp", "timestamp"),
        (
            "array<struct<price:decimal(38,18),size:decimal(38,18)>>",
            "array(row(price decimal(38,18),size decimal(38,18)))",
        ),
    ],
)
def test_view_columns_are_typed_as_trino_spells_them(glue: str, trino_name: str) -> None:
    assert trino_type(glue) == trino_name
    trino(f"SELECT CAST(NULL AS {trino_name})")
