"""`streamer demo --lake-format iceberg`: the service, the real clients and the simulator write
an Iceberg lake end to end: the streamed tables have rows, every row read from Parquet."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamer import iceberg_tables, query
from streamer.demo import run_demo


async def test_the_demo_writes_an_iceberg_lake_that_answers_its_queries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = tmp_path / "demo-lake"
    await run_demo(8, lake, "iceberg")
    assert "(iceberg)" in capsys.readouterr().out
    assert not list(lake.glob("crypto/tabular/**/*.gz")), "no JSON objects of the datasets"
    files = iceberg_tables.current_files(lake)
    counts = query.table_counts(lake)
    for table, rows in counts.items():
        name = table.removeprefix("crypto_")
        assert rows == 0 or files.get(name), table  # every row read from a table's Parquet
    streamed = ("crypto_trades", "crypto_tickers", "crypto_order_books", "crypto_markets")
    assert all(counts[t] for t in streamed), counts
    _, total = query.run(lake, "SELECT count(*) FROM crypto_trades")
    assert total[0][0] == counts["crypto_trades"] > 0
