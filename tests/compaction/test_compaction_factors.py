"""The factors of issue 27 on a smaller day: after compaction, a query naming one symbol and one
hour reads at least 25x fewer bytes than before it (trades, and a spread series from the top of
the book), and the latest price per symbol over the whole day at least 10x fewer, both as DuckDB
read them and as Athena would bill them (`benchmarks/compaction.py`, the yardstick, measures
the same on a full day).

The day is the benchmark's simulated market, as dense as the default deployment's (a sparser
market compresses worse: its prices and times move further between trades), but only the
first two minutes of each hour: 1/30 of the rows, spread over all 24 hours. The row groups
shrink by a quarter (8,192 rows for 32,768; 4,096 for 16,384 with book levels): smaller ones
would cover as much of the day as in the deployment's files, but DuckDB then reads the small
column chunks between the ones it needs as well, which its reads of full-size groups do not."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamer.compaction import local
from tests import benchmark_scripts

ONE_SYMBOL_ONE_HOUR = (
    "OHLCV and VWAP of BTC-USDT's trades, one hour",
    "spread of BTC-USDT's book, one hour, top-of-book columns",
)
WHOLE_DAY = ("latest price per symbol", "latest price per symbol, with row_number")


async def test_one_symbol_one_hour_reads_25x_less_and_the_latest_prices_10x_less(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = benchmark_scripts.load("compaction")
    monkeypatch.setattr(local, "ROW_GROUP_ROWS", 8192)
    monkeypatch.setattr(local, "LEVELS_ROW_GROUP_ROWS", 4096)
    seconds = [hour * 3600 + s for hour in range(24) for s in range(120)]
    await bench.simulate(tmp_path, seconds, seed=3)
    hour = 12
    names = (*ONE_SYMBOL_ONE_HOUR, *WHOLE_DAY)
    queries = {n: bench.QUERIES[n] for n in names}
    day = bench.DAY
    texts = {
        n: q.text.format(y=f"{day:%Y}", m=f"{day:%m}", d=f"{day:%d}", h=f"{hour:02d}")
        for n, q in queries.items()
    }

    def measure(compacted: bool) -> dict[str, tuple[list[tuple[object, ...]], int, int]]:
        out = {}
        for n, q in queries.items():
            rows, read, _ = bench.run_query(tmp_path, texts[n], runs=1)
            where = bench.one_hour(q.where, hour)
            out[n] = (
                rows,
                read,
                bench.athena_bytes(tmp_path, q.dataset, q.columns, where, compacted),
            )
        return out

    before = measure(False)
    sizes, _, _ = bench.compact_all(tmp_path, runs=1)
    assert {row[0] for row in sizes} >= {"trades", "order_books"}
    after = measure(True)
    for n in names:
        (rows_b, read_b, athena_b), (rows_a, read_a, athena_a) = before[n], after[n]
        assert rows_a and bench.same_answer(tmp_path, rows_b, rows_a, queries[n].ties) != "NO", n
        least = 25 if n in ONE_SYMBOL_ONE_HOUR else 10
        assert read_b >= least * read_a, (n, read_b, read_a)  # DuckDB's bytes read
        assert athena_b >= least * athena_a, (n, athena_b, athena_a)  # Athena-style bytes
