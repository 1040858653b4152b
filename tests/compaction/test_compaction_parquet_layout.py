"""The compacted Parquet is laid out for one-symbol, one-hour queries: sorted rows in small row
groups whose min/max statistics let a reader skip the other symbols and hours, dictionary
encoding for the low-cardinality strings, ZSTD everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from streamer.compaction import local
from streamer.compaction.layout import compacted_day_prefix
from streamer.schema import DATASETS
from tests import lakes as lakes_module
from tests.compaction.test_compaction_local import DAY, TRADES, _date, compact, trades


def _chunks(lake: Path) -> list[dict[str, Any]]:
    folder = lake / compacted_day_prefix(TRADES, _date(DAY))
    with duckdb.connect() as con:
        result = con.execute(
            "SELECT row_group_id, row_group_num_rows AS n, path_in_schema AS col, encodings, "
            f"compression, stats_min_value AS lo, stats_max_value AS hi "
            f"FROM parquet_metadata('{folder}/*.parquet')"
        )
        names = [d[0] for d in result.description]
        return [dict(zip(names, r, strict=True)) for r in result.fetchall()]


async def test_a_one_symbol_one_hour_query_admits_few_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local, "ROW_GROUP_ROWS", 2048)  # DuckDB's least
    await lakes_module.write(tmp_path, trades(6 * 2048))
    assert compact(tmp_path, "--day", DAY) == 0
    chunks = _chunks(tmp_path)
    groups = {c["row_group_id"] for c in chunks}
    assert max(c["n"] for c in chunks) == 2048 and len(groups) == 6

    def admits(group: int, col: str, lo: str, hi: str) -> bool:
        (c,) = [c for c in chunks if c["row_group_id"] == group and c["col"] == col]
        return bool(c["lo"] <= hi and c["hi"] >= lo)

    hour = ("2025-11-24 18:00:00", "2025-11-24 18:59:59.999")
    admitted = [
        g
        for g in groups
        if admits(g, "symbol", "BTC-USDT", "BTC-USDT") and admits(g, "event_time", *hour)
    ]
    assert 1 <= len(admitted) <= 2  # of 6: the rows are sorted by symbol, then time


async def test_strings_are_dictionary_encoded_and_every_column_zstd(tmp_path: Path) -> None:
    await lakes_module.write(tmp_path, trades(300))
    assert compact(tmp_path, "--day", DAY) == 0
    chunks = _chunks(tmp_path)
    for col in ("exchange", "symbol", "side", "hour"):
        assert all("DICTIONARY" in c["encodings"] for c in chunks if c["col"] == col), col
    assert {c["compression"] for c in chunks} == {"ZSTD"}


def test_rows_with_book_levels_get_smaller_row_groups() -> None:
    assert local.row_group_rows(DATASETS["order_books"]) == local.LEVELS_ROW_GROUP_ROWS
    assert local.row_group_rows(TRADES) == local.ROW_GROUP_ROWS
    assert local.LEVELS_ROW_GROUP_ROWS < local.ROW_GROUP_ROWS
