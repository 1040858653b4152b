"""`streamer compact` on a local lake (DuckDB): de-duplicated, exact, idempotent, failure-safe,
and `crypto_<dataset>` reads each day once, from Parquet if compacted, else from raw."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from streamer import query
from streamer.cli import main
from streamer.compaction.layout import compacted_day_prefix, manifest_key
from streamer.records import Dec, Millis, Trade
from streamer.schema import DATASETS, Dataset
from tests import lakes
from tests.lakes import HOUR, T0

DAY = "2025-11-24"
NEXT_DAY = "2025-11-25"
TRADES = DATASETS["trades"]


def trades(n: int, start: int = T0) -> list[tuple[Trade, int]]:
    """n trades arriving over 3 hours of one day, on two symbols; prices up to 35 digits."""
    out = []
    for i in range(n):
        price = lakes.LONG_DECIMAL if i % 7 == 0 else f"{86000 + i % 50}.{i:04d}"
        symbol = ["BTC-USDT", "ETH-USDT"][i % 2]
        trade = Trade("binance", symbol, Millis(start + (n - i) * 997), Millis(start + i * 1000),
                      str(i), Dec(price), Dec("0.00100000"), "buy", f"t{i}")  # fmt: skip
        out.append((trade, start + (i * 3 * HOUR) // n))
    return out


def compact(lake: Path, *args: str) -> int:
    return main(["compact", "--lake", str(lake), *args])


def count(lake: Path, sql: str) -> int:
    _, rows = query.run(lake, sql)
    return int(rows[0][0])


def compacted_rows(lake: Path, dataset: Dataset, day: str) -> list[dict[str, Any]]:
    """The compacted files of `day` as read by DuckDB directly (not through the views)."""
    files = sorted((lake / compacted_day_prefix(dataset, _date(day))).glob("*.parquet"))
    assert files, f"no compacted file for {dataset.name} {day}"
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        paths = [str(f) for f in files]
        result = con.execute(f"SELECT * FROM read_parquet({paths}, hive_partitioning=false)")
        names = [d[0] for d in result.description]
        return [dict(zip(names, r, strict=True)) for r in result.fetchall()]


def _date(day: str) -> Any:
    from datetime import date

    return date.fromisoformat(day)


async def test_a_lake_delivered_twice_compacts_to_its_distinct_trades_twice_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await lakes.write(tmp_path, trades(3000))
    objects = lakes.deliver_twice(tmp_path)
    assert objects >= 100  # about one object per simulated minute, each now twice
    raw = lakes.raw_lines(tmp_path, TRADES, DAY)
    truth = lakes.distinct(raw)
    assert len(raw) == 6000 and len(truth) == 3000
    assert count(tmp_path, "SELECT count(*) FROM crypto_trades") == 6000  # before: both copies

    runs = []
    for _ in range(2):
        assert compact(tmp_path, "--day", DAY, "--dataset", "trades") == 0
        out = capsys.readouterr().out
        assert "trades 2025-11-24:" in out and "6,000 rows read -> 3,000 rows" in out
        manifest = json.loads((tmp_path / manifest_key(TRADES, _date(DAY))).read_text())
        runs.append(manifest["run"])

        got = compacted_rows(tmp_path, TRADES, DAY)
        assert len(got) == len(truth)
        by_id = {r["record_id"]: r for r in got}
        assert set(by_id) == set(truth)
        for record_id, expected in truth.items():
            actual = {k: lakes.normalized(v) for k, v in by_id[record_id].items()}
            assert actual == {k: lakes.json_normalized(v) for k, v in expected.items()}
        assert by_id["t0"]["price"] == Decimal(lakes.LONG_DECIMAL)  # not a double's digits
        assert count(tmp_path, "SELECT count(*) FROM crypto_trades") == 3000
        assert count(tmp_path, "SELECT count(DISTINCT record_id) FROM crypto_trades") == 3000
        files = list((tmp_path / compacted_day_prefix(TRADES, _date(DAY))).iterdir())
        assert [f.name for f in files] == [f"{manifest['run']}-00000.parquet"]
    assert runs[0] != runs[1]
    assert len(list((tmp_path / "crypto" / "tabular").rglob("*.gz"))) == 2 * objects  # kept


def test_the_query_command_counts_each_trade_once(tmp_path: Path, capsys: Any) -> None:
    import asyncio

    asyncio.run(lakes.write(tmp_path, trades(500)))
    lakes.deliver_twice(tmp_path)
    for _ in range(2):
        assert compact(tmp_path, "--day", DAY) == 0
        capsys.readouterr()
        sql = "select count(*) from crypto_trades"
        assert main(["query", sql, "--lake", str(tmp_path), "--format", "csv"]) == 0
        assert capsys.readouterr().out.splitlines() == ["count_star()", "500"]


async def test_every_dataset_reads_the_same_after_compaction_bar_the_duplicates(
    tmp_path: Path,
) -> None:
    rows = [(lakes.row(d, i), T0 + i * 600_000) for d in DATASETS.values() for i in range(12)]
    await lakes.write(tmp_path, rows)
    before = {d.table: _all(tmp_path, d) for d in DATASETS.values()}
    lakes.deliver_twice(tmp_path)
    assert compact(tmp_path, "--day", DAY) == 0
    for dataset in DATASETS.values():
        assert _all(tmp_path, dataset) == before[dataset.table], dataset.name
        assert (tmp_path / manifest_key(dataset, _date(DAY))).is_file(), dataset.name


def _all(lake: Path, dataset: Dataset) -> list[tuple[Any, ...]]:
    _, rows = query.run(lake, f"SELECT * FROM {dataset.table} ORDER BY record_id")
    return rows


async def test_types_stay_exact_decimals_lists_of_structs_and_timestamps(tmp_path: Path) -> None:
    books = DATASETS["order_books"]
    await lakes.write(tmp_path, [(lakes.row(books, i), T0) for i in range(3)])
    assert compact(tmp_path, "--day", DAY, "--dataset", "order_books") == 0
    folder = tmp_path / compacted_day_prefix(books, _date(DAY))
    with duckdb.connect() as con:
        described = con.execute(f"DESCRIBE SELECT * FROM '{folder}/*.parquet'").fetchall()
    types = {name: kind for name, kind, *_ in described}
    assert types["bids"] == "STRUCT(price DECIMAL(38,18), size DECIMAL(38,18))[]"
    assert types["event_time"] == "TIMESTAMP" and types["sequence"] == "BIGINT"
    assert types["hour"] == "VARCHAR"
    _, rows = query.run(tmp_path, "SELECT bids[1].size FROM crypto_order_books LIMIT 1")
    assert rows == [(Decimal(lakes.LONG_DECIMAL),)]


async def test_compacted_rows_are_sorted_by_market_and_time_forwards_then_backwards(
    tmp_path: Path,
) -> None:
    await lakes.write(tmp_path, trades(400))
    assert compact(tmp_path, "--day", DAY) == 0
    got = compacted_rows(tmp_path, TRADES, DAY)
    markets = list(dict.fromkeys((r["exchange"], r["symbol"]) for r in got))
    assert len(markets) >= 2 and markets == sorted(markets)  # each market's rows together
    for lane, market in enumerate(markets):
        keys = [
            (r["event_time"], r["record_id"]) for r in got if (r["exchange"], r["symbol"]) == market
        ]
        # forwards in the first, third, ... market; backwards in the others (ties by record_id)
        times = [t for t, _ in keys]
        assert times == sorted(times, reverse=lane % 2 == 1), market
        assert len(set(times)) > 1


async def test_each_day_is_read_from_one_place_only(tmp_path: Path) -> None:
    await lakes.write(tmp_path, trades(300) + trades(200, start=T0 + 24 * HOUR))
    lakes.deliver_twice(tmp_path)
    assert compact(tmp_path, "--day", DAY) == 0
    per_day = "SELECT day, count(*) FROM crypto_trades GROUP BY day ORDER BY day"
    assert query.run(tmp_path, per_day)[1] == [("24", 300), ("25", 400)]  # 25th: raw, twice
    # A compacted day's raw objects are not even opened: garbage among them changes nothing.
    hour = tmp_path / "crypto/tabular/trades/year=2025/month=11/day=24/hour=16"
    (hour / "crypto-trades-1-garbage.gz").write_bytes(b"not gzip at all")
    assert query.run(tmp_path, per_day)[1] == [("24", 300), ("25", 400)]
    assert compact(tmp_path, "--day", NEXT_DAY) == 0
    assert query.run(tmp_path, per_day)[1] == [("24", 300), ("25", 200)]


async def test_an_unreadable_raw_object_fails_the_day_by_name_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await lakes.write(tmp_path, trades(300))
    assert compact(tmp_path, "--day", DAY) == 0
    before = _snapshot(tmp_path)
    folder = tmp_path / "crypto/tabular/trades/year=2025/month=11/day=24/hour=17"
    truncated = folder / "crypto-trades-1-truncated.gz"
    truncated.write_bytes(gzip.compress(b'{"exchange":"binance"}\n' * 50)[:40])
    not_json = folder / "crypto-trades-1-not-json.gz"
    not_json.write_bytes(gzip.compress(b"this is not json\n"))
    capsys.readouterr()
    assert compact(tmp_path, "--day", DAY) == 1
    out = capsys.readouterr().out
    assert "trades 2025-11-24: FAILED" in out
    for bad in (truncated, not_json):
        assert str(bad.relative_to(tmp_path)) in out
    assert "ohlcv 2025-11-24: no raw rows" in out  # the other datasets still ran
    assert _snapshot(tmp_path) == before | {
        str(p.relative_to(tmp_path)): p.read_bytes() for p in (truncated, not_json)
    }
    assert count(tmp_path, "SELECT count(*) FROM crypto_trades") == 300


async def test_a_day_whose_raw_objects_shrank_keeps_its_earlier_compaction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await lakes.write(tmp_path, trades(600))
    assert compact(tmp_path, "--day", DAY) == 0
    before = _snapshot(tmp_path, "crypto/compact")
    raw = sorted((tmp_path / "crypto/tabular/trades").rglob("*.gz"))
    raw[0].unlink()  # e.g. expired by a lifecycle rule
    capsys.readouterr()
    assert compact(tmp_path, "--day", DAY) == 1
    out = capsys.readouterr().out
    assert "raw objects were removed since, so the earlier output is kept" in out
    assert _snapshot(tmp_path, "crypto/compact") == before
    for path in raw[1:]:
        path.unlink()
    assert compact(tmp_path, "--day", DAY) == 0  # no raw rows at all: the compaction stays
    assert "no raw rows left; run" in capsys.readouterr().out
    assert count(tmp_path, "SELECT count(*) FROM crypto_trades") == 600


async def test_leftovers_of_a_crashed_run_are_never_read_and_cleaned_next_time(
    tmp_path: Path,
) -> None:
    await lakes.write(tmp_path, trades(300))
    assert compact(tmp_path, "--day", DAY) == 0
    day_dir = tmp_path / compacted_day_prefix(TRADES, _date(DAY))
    (first,) = day_dir.iterdir()
    # What a run that died after moving its file in, before its manifest, leaves behind:
    (day_dir / "20251125t010000z_deadbeef-00000.parquet").write_bytes(first.read_bytes())
    staging = day_dir.parent / ".day=24.20251125t010000z_deadbeef.staging"
    staging.mkdir()
    (staging / "partial.parquet").write_bytes(b"PAR1")
    assert count(tmp_path, "SELECT count(*) FROM crypto_trades") == 300
    assert compact(tmp_path, "--day", DAY) == 0
    assert len(list(day_dir.iterdir())) == 1 and not staging.exists()
    assert count(tmp_path, "SELECT count(*) FROM crypto_trades") == 300


def test_a_day_without_data_is_not_an_error(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "crypto" / "tabular").mkdir(parents=True)  # a lake, with nothing that day
    assert compact(tmp_path, "--day", DAY) == 0
    out = capsys.readouterr().out
    assert all(f"{d} {DAY}: no raw rows, nothing to compact" in out for d in DATASETS)
    assert [p.name for p in (tmp_path / "crypto").iterdir()] == ["tabular"]  # nothing written


def test_a_folder_that_is_not_a_lake_is_refused(tmp_path: Path, capsys: Any) -> None:
    assert compact(tmp_path, "--day", DAY) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "--lake" in line and "is not a lake (it has no crypto/tabular folder)" in line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--day", "2025-13-01"], "--day: '2025-13-01' is not a day"),
        (["--day", DAY, "--dataset", "rejects"], "--dataset: no dataset 'rejects'"),
        (["--day", DAY, "--lake", "/nonexistent/lake"], "--lake: /nonexistent/lake is not a dir"),
    ],
)
def test_bad_arguments_name_themselves(
    tmp_path: Path, capsys: Any, args: list[str], message: str
) -> None:
    assert main(["compact", "--lake", str(tmp_path), *args]) == 2
    assert message in capsys.readouterr().err


def _snapshot(root: Path, under: str = "crypto") -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.glob(f"{under}*/**/*"))
        if p.is_file()
    }


async def test_an_unreadable_manifest_is_named_by_the_query_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await lakes.write(tmp_path, trades(50))
    assert compact(tmp_path, "--day", DAY, "--dataset", "trades") == 0
    manifest = tmp_path / manifest_key(TRADES, _date(DAY))
    manifest.write_text("{not json")
    capsys.readouterr()
    assert main(["query", "SELECT count(*) FROM crypto_trades", "--lake", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert str(manifest) in err and "delete it to read that day from the raw objects" in err
