"""The lake sink with `format="iceberg"`: each flush is one Iceberg commit whose rows read back
exactly as the JSON lake's, failed commits keep their rows, rejects stay JSON, a killed run's
journal becomes a commit at the next start."""

from __future__ import annotations

import asyncio
import logging
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from streamer import iceberg_tables, query
from streamer.jsonline import encode
from streamer.records import Item, Millis, Reject
from streamer.schema import DATASET_OF_TYPE, DATASETS, REJECTS
from streamer.settings import LakeSettings
from streamer.sinks.lake import JOURNAL_SECONDS, LakeSink
from tests.lakes import HOUR, LONG_DECIMAL, T0, row

TRADES = DATASETS["trades"]


def every_dataset(count: int) -> list[tuple[Item, int]]:
    """`count` rows of each dataset, arriving over three hours."""
    return [(row(d, i), T0 + i * HOUR // 4) for d in DATASETS.values() for i in range(count)]


async def write(root: Path, rows: list[tuple[Item, int]], fmt: str) -> LakeSink:
    sink = LakeSink(LakeSettings(root=root, buffer_seconds=3600, format=fmt))
    await sink.start()
    for item, arrival in sorted(rows, key=lambda pair: pair[1]):
        await sink.flush_due(Millis(arrival))
        sink.add(DATASET_OF_TYPE[type(item)], encode(item), Millis(arrival))
    await sink.aclose()
    return sink


def table(root: Path, name: str) -> list[tuple[Any, ...]]:
    return query.run(root, f"SELECT * FROM {name} ORDER BY record_id")[1]


def snapshots(root: Path, dataset: str) -> int:
    found = iceberg_tables.load_table(iceberg_tables.open_catalog(root), DATASETS[dataset])
    assert found is not None
    return len(found.metadata.snapshots)


async def test_every_dataset_reads_back_from_iceberg_exactly_as_from_json(tmp_path: Path) -> None:
    rows = every_dataset(12)
    await write(tmp_path / "json", rows, "json")
    sink = await write(tmp_path / "ice", rows, "iceberg")
    ice = tmp_path / "ice"
    assert not list(ice.rglob("*.gz")), "no JSON objects for datasets with a table"
    assert list((ice / "iceberg").rglob("*.parquet"))
    for dataset in DATASETS.values():
        expected = table(tmp_path / "json", dataset.table)
        assert len(expected) == 12, dataset.name
        assert table(ice, dataset.table) == expected, dataset.name
    # exact decimals, inside book levels too, and the arrival hour as in the JSON partitions
    _, books = query.run(ice, "SELECT bids[1].size, hour FROM crypto_order_books ORDER BY ALL")
    assert (Decimal(LONG_DECIMAL), "16") in books and {h for _, h in books} >= {"16", "17", "18"}
    assert sink.counters_snapshot()["RowsDelivered"] == 12 * len(DATASETS)


async def test_each_flush_is_one_commit_sorted_by_the_tables_order(tmp_path: Path) -> None:
    sink = LakeSink(LakeSettings(root=tmp_path, buffer_seconds=10, format="iceberg"))
    await sink.start()
    for i in reversed(range(6)):  # newest first: the commit sorts them
        sink.add(TRADES, encode(row(TRADES, i)), Millis(T0))
    await sink.flush_due(Millis(T0 + 10_000))
    assert snapshots(tmp_path, "trades") == 1
    sink.add(TRADES, encode(row(TRADES, 6)), Millis(T0 + 10_000))
    await sink.aclose()
    assert snapshots(tmp_path, "trades") == 2
    files = iceberg_tables.current_files(tmp_path)["trades"]
    first = min(files, key=os.path.getmtime)
    _, got = query.run(
        tmp_path, f"SELECT exchange, symbol, event_time FROM read_parquet('{first}')"
    )
    assert got == sorted(got) and len(got) == 6


async def test_a_failed_commit_keeps_its_rows_and_is_retried_without_duplicates(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink = LakeSink(LakeSettings(root=tmp_path, buffer_seconds=0, format="iceberg"))
    await sink.start()
    sink.add(TRADES, encode(row(TRADES, 0)), Millis(T0))
    await sink.flush_due(Millis(T0))
    (data,) = (tmp_path / "iceberg").rglob("crypto_trades/data")
    moved = data.rename(data.with_name("data-away"))
    data.write_text("in the way")  # the next Parquet file cannot be made: ENOTDIR
    sink.add(TRADES, encode(row(TRADES, 1)), Millis(T0))
    with caplog.at_level(logging.ERROR):
        await sink.flush_due(Millis(T0))  # no exception: the rows are held
    assert sink.failing_since() is not None
    assert any("lake.write_failed" in r.getMessage() for r in caplog.records)
    stats = sink.counters_snapshot()
    assert (stats["StorageErrors"], stats["RowsDelivered"]) == (1, 1)
    assert sink.accepted("trades") == 2, "journaled: safe from a kill"
    data.unlink()
    moved.rename(data)
    sink.add(TRADES, encode(row(TRADES, 2)), Millis(T0))
    await sink.aclose()  # retries until the commit lands
    assert [r[-5] for r in table(tmp_path, "crypto_trades")] == [f"trades-{i}" for i in range(3)]
    assert sink.failing_since() is None and sink.counters_snapshot()["RowsDelivered"] == 3


async def test_rejects_stay_gzip_json_objects_beside_the_tables(tmp_path: Path) -> None:
    reject = Reject("binance", "bad price", '{"p":"x"}', Millis(T0))
    sink = LakeSink(LakeSettings(root=tmp_path, buffer_seconds=0, format="iceberg"))
    await sink.start()
    sink.add(REJECTS, encode(reject), Millis(T0))
    sink.add(TRADES, encode(row(TRADES, 0)), Millis(T0))
    await sink.aclose()
    (obj,) = tmp_path.rglob("*.gz")
    assert obj.relative_to(tmp_path).as_posix().startswith("crypto/rejects/year=2025/")
    assert query.run(tmp_path, "SELECT count(*) FROM crypto_rejects")[1] == [(1,)]
    assert query.run(tmp_path, "SELECT count(*) FROM crypto_trades")[1] == [(1,)]


async def test_a_killed_runs_journal_becomes_one_iceberg_commit_at_the_next_start(
    tmp_path: Path,
) -> None:
    settings = LakeSettings(root=tmp_path, buffer_seconds=900, format="iceberg")
    dead = LakeSink(settings)
    await dead.start()
    for i in range(4):
        dead.add(TRADES, encode(row(TRADES, i)), Millis(T0))
    await asyncio.sleep(JOURNAL_SECONDS)
    await dead.flush_due(Millis(T0))  # journaled, never committed
    assert dead.accepted("trades") == 4
    assert dead._syncer is not None and dead.staging.lock is not None
    journal = dead._buffers["trades"].journal
    assert journal is not None
    dead._syncer.cancel()  # the process dies: its tasks stop, its files close, its flock goes
    journal.close()
    os.close(dead.staging.lock)
    nxt = LakeSink(settings)
    await nxt.start()
    await nxt.aclose()
    assert nxt.rows_recovered == 4
    assert [r[-5] for r in table(tmp_path, "crypto_trades")] == [f"trades-{i}" for i in range(4)]
    assert snapshots(tmp_path, "trades") == 1


async def test_the_running_sink_compacts_its_tables_every_compact_seconds(tmp_path: Path) -> None:
    first = LakeSink(LakeSettings(root=tmp_path, buffer_seconds=0, format="iceberg",
                                  compact_seconds=0))  # fmt: skip
    await first.start()
    for i in range(3):  # three commits: three small files of one day
        first.add(TRADES, encode(row(TRADES, i)), Millis(T0))
        await first.flush_due(Millis(T0))
    await first.aclose()
    assert len(iceberg_tables.current_files(tmp_path)["trades"]) == 3
    settings = LakeSettings(root=tmp_path, buffer_seconds=0, format="iceberg", compact_seconds=0.2)
    sink = LakeSink(settings)
    await sink.start()
    async with asyncio.timeout(60):
        while len(iceberg_tables.current_files(tmp_path)["trades"]) != 1:
            await asyncio.sleep(0.1)
    sink.add(TRADES, encode(row(TRADES, 3)), Millis(T0))
    await sink.aclose()
    assert [r[-5] for r in table(tmp_path, "crypto_trades")] == [f"trades-{i}" for i in range(4)]


async def test_what_a_commit_added_is_what_gets_fsynced(tmp_path: Path) -> None:
    sink = LakeSink(LakeSettings(root=tmp_path, buffer_seconds=0, format="iceberg"))
    await sink.start()
    sink.add(TRADES, encode(row(TRADES, 0)), Millis(T0))
    await sink.flush_due(Millis(T0))
    first = set(iceberg_tables.current_files(tmp_path)["trades"])
    sink.add(TRADES, encode(row(TRADES, 1)), Millis(T0))
    await sink.aclose()
    found = iceberg_tables.load_table(iceberg_tables.open_catalog(tmp_path), TRADES)
    assert found is not None
    added = iceberg_tables.added_files(found)
    data = {str(p) for p in added if p.suffix == ".parquet"}
    assert data == set(iceberg_tables.current_files(tmp_path)["trades"]) - first
    assert all(p.is_file() for p in added)
    assert {p.suffix for p in added} == {".parquet", ".avro", ".json"}
